"""`make up`'s edge agents: which nodes get one, and the settings each agent is started with."""

from __future__ import annotations

from pathlib import Path

from meridian.localplatform import edgeagents

ROOT = Path(__file__).resolve().parents[3]


def test_every_example_edgenode_gets_an_agent() -> None:
    nodes = edgeagents.nodes_in([ROOT / "crds" / "examples"])
    assert len(nodes) == 12
    assert {name.split("-")[1] for name in nodes} == {"nyc1", "ams1", "dal1"}


def test_each_agent_has_its_own_credential_and_state_folder(tmp_path: Path) -> None:
    one = edgeagents.environment("edge-nyc1-01", edgeagents.node_dir(tmp_path, "edge-nyc1-01"))
    two = edgeagents.environment("edge-nyc1-02", edgeagents.node_dir(tmp_path, "edge-nyc1-02"))
    assert one["MERIDIAN_EDGE_AGENT_NODE"] == "edge-nyc1-01"
    assert one["MERIDIAN_EDGE_AGENT_KUBECONFIG"].endswith("edge-agents/edge-nyc1-01/kubeconfig")
    assert set(one.values()).isdisjoint(two.values())
