"""`kubectl meridian edge`: its arguments are checked before anything reaches the cluster."""

from __future__ import annotations

import pytest

from meridian import plugin


def test_upgrade_takes_a_site_and_a_semantic_version() -> None:
    args = plugin.build_parser().parse_args(
        ["edge", "upgrade", "--site", "nyc1", "--version", "1.2.0-rc.1"]
    )
    assert (args.site, args.version) == ("nyc1", "1.2.0-rc.1")


@pytest.mark.parametrize("version", ["1.2.0; rm -rf /", "$(reboot)", "1.2", "latest"])
def test_a_version_that_is_not_semver_is_refused(
    version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        plugin.build_parser().parse_args(
            ["edge", "upgrade", "--site", "nyc1", "--version", version]
        )
    assert exited.value.code == 2
    assert "is not a semantic version" in capsys.readouterr().err


def test_resume_needs_a_site() -> None:
    with pytest.raises(SystemExit):
        plugin.build_parser().parse_args(["edge", "resume"])
