"""Held=True (drain, outside the maintenance windows) keeps a new config off the node.

Offline agents working from a cached desired state that says held: the same path an online agent
takes after reading the operator's condition, with no API server needed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from meridian.edge_agent import agent
from meridian.edge_agent.settings import AgentSettings
from meridian.edge_agent.state import Applied, Desired, StateDir
from tests.unit.edge_agent.conftest import python
from tests.unit.edge_agent.test_offline import _unreachable_kubeconfig

OLD, NEW = {"max_size": "10g"}, {"max_size": "20g"}


async def _sync_once(tmp_path: Path) -> agent.Agent:
    template = tmp_path / "cache.conf.tmpl"
    template.write_text("max_size={{ max_size }}\n")
    settings = AgentSettings(
        node="nyc1-edge-1",
        kubeconfig=_unreachable_kubeconfig(tmp_path / "kubeconfig"),
        state_dir=tmp_path / "state",
        config_template=template,
        config_path=tmp_path / "cache.conf",
        validate_command=python("pass"),
        request_timeout_s=1,
    )
    client = kube.client(str(settings.kubeconfig), timeout_s=1)
    node_agent = agent.Agent(settings, client)
    try:
        await asyncio.wait_for(node_agent.sync(), 10)
    finally:
        await client.close()
    return node_agent


@pytest.mark.parametrize("held", [True, False])
async def test_a_new_config_waits_while_held(tmp_path: Path, held: bool) -> None:
    state = StateDir(tmp_path / "state")
    state.save_applied(Applied(config_hash=edgenode.config_hash(OLD)))
    (tmp_path / "cache.conf").write_text("max_size=10g\n")
    state.save_desired(Desired(config=NEW, held=held))
    node_agent = await _sync_once(tmp_path)
    wanted = OLD if held else NEW
    assert node_agent.applied.config_hash == edgenode.config_hash(wanted)
    assert (tmp_path / "cache.conf").read_text() == f"max_size={wanted['max_size']}\n"


async def test_a_held_node_that_applied_nothing_yet_takes_its_first_config(tmp_path: Path) -> None:
    StateDir(tmp_path / "state").save_desired(Desired(config=NEW, held=True))
    node_agent = await _sync_once(tmp_path)
    assert node_agent.applied.config_hash == edgenode.config_hash(NEW)
    assert (tmp_path / "cache.conf").read_text() == "max_size=20g\n"
