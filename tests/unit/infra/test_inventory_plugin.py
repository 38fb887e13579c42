"""The EdgeNode inventory plugin's mapping: hosts, groups by site and role, host variables."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

PLUGIN = (
    Path(__file__).resolve().parents[3] / "infra/ansible/plugins/inventory/meridian_edgenodes.py"
)


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("meridian_edgenodes", PLUGIN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _node(name: str, site: str, *, ready: str | None = None, **spec: Any) -> dict[str, Any]:
    status = {"conditions": [{"type": "Ready", "status": ready}]} if ready else {}
    return {
        "metadata": {"name": name},
        "spec": {"site": site, "address": f"10.0.0.{len(name)}", "role": "cache", **spec},
        "status": status,
    }


def test_edgenodes_become_hosts_grouped_by_site_and_role() -> None:
    hosts = _plugin().hosts(
        [
            _node("sfo-2-b", "sfo-2", ready="False", drain=True),
            _node("nyc1-a", "nyc1", ready="True", agentVersion="0.5.0"),
        ]
    )
    assert [(h, g) for h, g, _ in hosts] == [
        ("nyc1-a", ["edge", "site_nyc1", "role_cache"]),
        ("sfo-2-b", ["edge", "site_sfo_2", "role_cache"]),
    ]
    nyc = hosts[0][2]
    assert nyc["ansible_host"] == "10.0.0.6"
    assert nyc["edge_ready"] is True
    assert nyc["edge_desired_agent_version"] == "0.5.0"
    assert hosts[1][2]["edge_ready"] is False
    assert hosts[1][2]["edge_drain"] is True
