"""An agent whose API server is unreachable works from the desired state cached in its state dir."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import yaml

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from meridian.edge_agent import agent
from meridian.edge_agent.settings import AgentSettings
from meridian.edge_agent.state import Desired, StateDir
from tests.unit.edge_agent.conftest import python


def _unreachable_kubeconfig(path: Path) -> Path:
    """A kubeconfig naming a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


async def test_offline_agent_applies_its_cached_desired_config(tmp_path: Path) -> None:
    template = tmp_path / "cache.conf.tmpl"
    template.write_text("max_size={{ max_size }}\n")
    state_dir = tmp_path / "state"
    desired = {"max_size": "10g"}
    StateDir(state_dir).save_desired(Desired(config=desired))
    settings = AgentSettings(
        node="nyc1-edge-1",
        kubeconfig=_unreachable_kubeconfig(tmp_path / "kubeconfig"),
        state_dir=state_dir,
        config_template=template,
        config_path=tmp_path / "cache.conf",
        validate_command=python("pass"),
        lease_interval_s=0.2,
        retry_base_s=0.05,
        sync_interval_s=0.2,
    )
    client = kube.client(str(settings.kubeconfig), timeout_s=1)
    node_agent = agent.Agent(settings, client)
    task = asyncio.create_task(node_agent.run())
    try:
        await asyncio.wait_for(node_agent.synced.wait(), 10)
        await asyncio.sleep(0.5)
    finally:
        node_agent.stop()
        await task
        await client.close()
    assert not node_agent.online
    assert (tmp_path / "cache.conf").read_text() == "max_size=10g\n"
    assert node_agent.applied.config_hash == edgenode.config_hash(desired)
    assert StateDir(state_dir).applied() == node_agent.applied, "persisted for the next start"
    assert node_agent.renewals == 0
    assert node_agent.renewal_failures >= 2, "renewals keep being retried"
    assert node_agent.status_writes == 0


def test_a_torn_state_file_starts_from_nothing(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    (tmp_path / "applied.json").write_text('{"config_hash": "ab')
    assert state.applied().config_hash is None
    assert state.desired() is None
    state.save_desired(Desired(config={"a": "b"}, target_version="0.5.0"))
    assert state.desired() == Desired(config={"a": "b"}, target_version="0.5.0")
