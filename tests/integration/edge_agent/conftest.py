"""An enrolled node per test, and its agent run in the test's event loop behind a cuttable relay."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from meridian.core import kube
from meridian.edge_agent import agent
from meridian.edge_agent.settings import AgentSettings
from meridian.localplatform import platform
from tests import edge_enrolment
from tests.pausable_relay import Relay

# Rejects a rendered file containing "invalid", as `nginx -t` rejects a bad directive.
VALIDATE = "import sys; sys.exit('emerg: invalid' if 'invalid' in open(sys.argv[1]).read() else 0)"
TEMPLATE = "proxy_cache_path /var/cache/nginx max_size={{ max_size }};\n"


@dataclass
class Node:
    name: str
    kubeconfig: Path
    relay: Relay
    dir: Path

    def settings(self, **overrides: Any) -> AgentSettings:
        values: dict[str, Any] = {
            "node": self.name,
            "kubeconfig": self.kubeconfig,
            "state_dir": self.dir / "state",
            "config_template": self.dir / "cache.conf.tmpl",
            "config_path": self.dir / "cache.conf",
            "validate_command": [sys.executable, "-c", VALIDATE, str(self.dir / "cache.conf")],
            "version": "0.4.1",
            # Seconds, not the production 10 s: the behaviour, not the cadence, is under test.
            "lease_interval_s": 1.0,
            "sync_interval_s": 1.0,
            "retry_base_s": 0.1,
            "request_timeout_s": 2.0,
            **overrides,
        }
        return AgentSettings(**values)


@pytest_asyncio.fixture
async def node(local_platform: platform.PlatformState, tmp_path: Path) -> AsyncIterator[Node]:
    name = f"edge-{uuid.uuid4().hex[:8]}"
    server = urllib.parse.urlsplit(edge_enrolment.server(local_platform))
    relay = Relay(server.hostname or "127.0.0.1", server.port or 443)
    async with relay.running():
        kubeconfig = edge_enrolment.enrol(
            local_platform,
            name,
            tmp_path / "kubeconfig",
            server=f"https://127.0.0.1:{relay.port}",
            config={"max_size": "10g"},
        )
        (tmp_path / "cache.conf.tmpl").write_text(TEMPLATE)
        yield Node(name, kubeconfig, relay, tmp_path)
    platform.kubectl(local_platform, "delete", "edgenode", name, "--wait=false")


@contextlib.asynccontextmanager
async def running(settings: AgentSettings) -> AsyncIterator[agent.Agent]:
    """The agent's loops in this event loop, stopped (and its client closed) on exit."""
    client = kube.client(str(settings.kubeconfig), timeout_s=settings.request_timeout_s)
    node_agent = agent.Agent(settings, client)
    task = asyncio.create_task(node_agent.run())
    try:
        yield node_agent
    finally:
        node_agent.stop()
        await task
        await client.close()
