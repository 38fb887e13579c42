"""The order pipeline's alerting rules: valid, each one fires on its failure after its `for` and
stays quiet on the near miss (promtool's own rule tests), and each tells on-call what to do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ALERTS = Path(__file__).resolve().parents[3] / "services" / "alerts"
RULES = sorted(ALERTS.glob("*.rules.yml"))
TESTS = sorted(ALERTS.glob("*.test.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make install` installs Debian's prometheus package"
    return subprocess.run(
        [promtool, *args], cwd=ALERTS, capture_output=True, text=True, check=False, timeout=120
    )


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_the_rules_are_valid_promql_and_templates() -> None:
    assert RULES, f"no *.rules.yml in {ALERTS}"
    checked = _promtool("check", "rules", *(path.name for path in RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_on_its_failure_and_not_on_the_near_miss() -> None:
    tested = _promtool("test", "rules", *(path.name for path in TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_says_how_urgent_and_what_to_do() -> None:
    fired = {
        case["alertname"]
        for path in TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for alert in _alerts():
        name = alert["alert"]
        assert name in fired, f"{name}: no test case where it fires"
        assert alert["labels"]["severity"] in ("page", "ticket"), name
        assert alert["annotations"].get("summary"), f"{name}: no summary"
        assert alert["annotations"].get("description"), f"{name}: no description"
