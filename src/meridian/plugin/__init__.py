"""`kubectl meridian`: the actions on-call takes on Meridian's resources.

kubectl runs any `kubectl-meridian` on PATH as `kubectl meridian ...` and passes its environment
(KUBECONFIG) through. The same command groups hang under `meridian` too, so one parser serves both.
Each group is a module here exposing `register(commands, common)`; adding a group is one entry in
GROUPS. Groups import their dependencies inside their handlers, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias

# Module names under meridian.plugin, in the order `--help` lists them.
GROUPS: tuple[str, ...] = ("release", "policy", "failover", "edge", "search")

if TYPE_CHECKING:  # argparse's class is generic only in typeshed
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class Group(Protocol):
    """What a command-group module provides: its parser under `commands`, leaves built with `common`."""

    def register(self, commands: Commands, common: list[argparse.ArgumentParser]) -> None: ...


def common_options() -> argparse.ArgumentParser:
    """Options every leaf command takes, wherever it sits in the argument list."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig to use (default: $KUBECONFIG, else the in-cluster service account)",
    )
    return parent


def register_all(commands: Commands) -> None:
    """Add every group's commands to `commands` (a `kubectl meridian` or `meridian` parser)."""
    common = [common_options()]
    for name in GROUPS:
        group: Group = importlib.import_module(f"{__name__}.{name}")
        group.register(commands, common)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubectl meridian", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="GROUP")
    register_all(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
