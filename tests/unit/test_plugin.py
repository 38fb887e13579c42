"""The `kubectl meridian` plugin's shared pieces: tables, the kubeconfig error path, both entry points."""

from __future__ import annotations

import argparse

import pytest
from lightkube import AsyncClient

from meridian import cli, plugin
from meridian.plugin import run, table


def test_table_pads_columns_and_marks_missing_cells() -> None:
    text = table.render(["step", "weight", "analysis"], [["1", 20, None], ["pause", 20, "ok"]])
    assert text.splitlines() == [
        "STEP    WEIGHT   ANALYSIS",
        "1       20       <none>",
        "pause   20       ok",
    ]


def test_a_missing_kubeconfig_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    async def handler(client: AsyncClient, args: argparse.Namespace) -> int:
        raise AssertionError("never reached without a client")

    code = run.kube_command(handler)(argparse.Namespace(kubeconfig="/nonexistent/kubeconfig"))
    assert code == 2
    assert capsys.readouterr().err.startswith("error: no usable kubeconfig:")


def test_kubeconfig_is_accepted_after_the_leaf_command() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(required=True)
    group = commands.add_parser("thing").add_subparsers(required=True)
    group.add_parser("status", parents=[plugin.common_options()])
    args = parser.parse_args(["thing", "status", "--kubeconfig", "/k"])
    assert args.kubeconfig == "/k"


@pytest.mark.parametrize("module", sorted(plugin.GROUPS))
def test_every_group_is_under_both_entry_points(module: str) -> None:
    for parser in (plugin.build_parser(), cli.build_parser()):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([module, "--help"])
        assert exited.value.code == 0
