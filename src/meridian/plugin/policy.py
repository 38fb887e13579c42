"""`kubectl meridian policy ...`: on-call's view of the admission policies and the switch of a mode.

`enforce NAME` / `audit NAME` flip one policy through `core.policy.modes` (the modes ConfigMap,
and the apiserver's binding for the five CEL policies at once); `list` shows each policy's live
mode beside its default. Each subcommand is one `_add_*` function called from `register`, so a
new one (the audit controller's `report`) is one more function and one line.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lightkube import AsyncClient

from meridian.plugin import policy_report, run, table

if TYPE_CHECKING:
    from meridian.plugin import Commands


async def _flip(client: AsyncClient, args: argparse.Namespace) -> int:
    from meridian.core.policy import catalogue, modes

    try:
        written = await modes.set_mode(client, args.name, catalogue.Mode(args.mode))
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    for line in written:
        print(line)
    return 0


async def _list(client: AsyncClient, args: argparse.Namespace) -> int:
    from meridian.core.policy import catalogue, modes

    live = await modes.read(client)
    rows = [
        [policy.name, policy.engine, live[policy.name], policy.mode, policy.title]
        for policy in catalogue.POLICIES
    ]
    print(table.render(["name", "engine", "mode", "default", "title"], rows), end="")
    return 0


def _add_flip(policy: Commands, common: list[argparse.ArgumentParser], mode: str) -> None:
    verb = "enforce" if mode == "Enforce" else "audit"
    effect = "deny violations" if mode == "Enforce" else "admit violations with a warning"
    flip = policy.add_parser(verb, parents=common, help=f"{effect} (policy NAME)")
    flip.add_argument("name", metavar="NAME", help="a policy name (`policy list`)")
    flip.set_defaults(handler=run.kube_command(_flip), mode=mode)


def _add_list(policy: Commands, common: list[argparse.ArgumentParser]) -> None:
    listing = policy.add_parser("list", parents=common, help="every policy, its live mode")
    listing.set_defaults(handler=run.kube_command(_list))


def register(commands: Commands, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("policy", help="admission policies: modes and reports")
    policy = group.add_subparsers(required=True, metavar="COMMAND")
    _add_list(policy, common)
    _add_flip(policy, common, "Enforce")
    _add_flip(policy, common, "Audit")
    policy_report.add_report(policy, common)
