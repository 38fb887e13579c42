"""`meridian-edge-agent` (and `python -m meridian.edge_agent`): one agent until SIGTERM.

Settings come from `MERIDIAN_EDGE_AGENT_*` (systemd's EnvironmentFile on a node); the credential
is the kubeconfig the install wrote from the node's bootstrap Secret. On SIGTERM the loops stop
after the step in progress (a reload is not cut in half) and the client is closed. After an
upgrade it installed, the process exits too, and systemd (Restart=always) starts the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvloop

from meridian.core import kube
from meridian.core.runtime import logging as meridian_logging
from meridian.edge_agent import agent
from meridian.edge_agent.settings import AgentSettings

FIELD_MANAGER = "meridian-edge-agent"


async def serve(settings: AgentSettings) -> None:
    client = kube.client(
        str(settings.kubeconfig) if settings.kubeconfig else None,
        field_manager=FIELD_MANAGER,
        timeout_s=settings.request_timeout_s,
    )
    node_agent = agent.Agent(settings, client)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node_agent.stop)
    agent.log.info("Agent started", node=settings.node, version=node_agent.version())

    async def restart_after_upgrade() -> None:
        await node_agent.restart_requested.wait()
        agent.log.info("Agent exiting to restart as the upgraded version", node=settings.node)
        node_agent.stop()

    watcher = asyncio.create_task(restart_after_upgrade())
    try:
        await node_agent.run()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await client.close()
        agent.log.info("Agent stopped", node=settings.node)


def main() -> None:
    settings = AgentSettings()  # the node name comes from the environment
    meridian_logging.configure(settings.log_level, settings.log_json)
    # One line per API request (httpx's INFO) would be 12 lines a minute of nothing per node.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(settings))
