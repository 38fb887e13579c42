"""The one-distribution layout: top-level folders import as meridian.* at their real paths."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("module", "folder"),
    [
        ("meridian.core", "core"),
        ("meridian.operators", "operators"),
        ("meridian.services", "services"),
        ("meridian.webhooks", "webhooks"),
        ("meridian.edge_agent", "edge-agent"),
        ("meridian.pg_agent", "pg-agent"),
        ("meridian.localplatform", "localplatform"),
    ],
)
def test_symlink_shim_maps_each_folder_into_the_package(
    repo_root: Path, module: str, folder: str
) -> None:
    imported = importlib.import_module(module)
    assert imported.__file__ is not None
    assert Path(imported.__file__).resolve().parent == (repo_root / folder).resolve()
    link = repo_root / "src" / "meridian" / module.rsplit(".", 1)[1]
    assert link.is_symlink()
    assert not Path(str(link.readlink())).is_absolute(), "links must be relative to survive a clone"


def test_console_script_parses_every_command() -> None:
    from meridian import cli

    parser = cli.build_parser()
    for argv in (
        ["dev", "up", "--dr"],
        ["dev", "down"],
        ["dev", "env"],
        ["dev", "status"],
        ["operator", "run", "--only", "tenant,edge"],
        ["crds", "generate"],
    ):
        assert callable(parser.parse_args(argv).handler)


def test_dev_env_without_a_platform_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meridian import cli

    assert cli.main(["dev", "env", "--run-dir", str(tmp_path)]) == 1
    assert "meridian dev up" in capsys.readouterr().err


def test_a_later_operator_replica_outranks_an_earlier_one() -> None:
    """A replacement for a crashed replica must not pause behind the dead one's peering record."""
    from meridian.operators.machinery import runtime

    earlier = runtime.peering_priority()
    time.sleep(0.002)
    assert runtime.peering_priority() > earlier
