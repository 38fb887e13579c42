"""A fleet of edge agents (or bare Lease renewals) in one process, for `test_edge_agents`.

`python -m tests.bench.edge_fleet MODE NODES.json SECONDS` starts one `Agent` per node (MODE
`agent`: the real class, its own client and identity per node) or one bare renewal loop per node
(MODE `bare`: get the Lease once, then update it every interval with the same client layer),
staggered over the first interval as a fleet's boots would be. After a warm-up it prints
`window-open`, measures for SECONDS, prints `window-closed` (the test reads the API server's
figures at both), then one JSON line: renewals, failures, status writes and this process's CPU
seconds over the window only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

import uvloop
from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from meridian.core.runtime import logging as meridian_logging
from meridian.edge_agent import agent
from meridian.edge_agent.settings import AgentSettings

INTERVAL_S = 10.0


class Bare:
    """The baseline: what renewing a Lease costs with the Kubernetes client and nothing else."""

    def __init__(self, client: AsyncClient, node: str) -> None:
        self.client, self.node = client, node
        self.renewals = self.renewal_failures = self.status_writes = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        lease = None
        while not self._stop.is_set():
            try:
                lease = lease or await self.client.get(
                    Lease, edgenode.lease_name(self.node), namespace=edgenode.EDGE_NAMESPACE
                )
                assert lease.spec is not None
                lease.spec.renewTime = datetime.datetime.now(datetime.UTC)
                lease = await self.client.replace(lease)
                self.renewals += 1
            except Exception:
                lease = None
                self.renewal_failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), INTERVAL_S)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def fleet(mode: str, nodes: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    clients = [kube.client(n["kubeconfig"], timeout_s=5.0) for n in nodes]
    members: list[Any] = []
    for node, client in zip(nodes, clients, strict=True):
        if mode == "agent":
            settings = AgentSettings(
                node=node["name"], kubeconfig=node["kubeconfig"], state_dir=node["state_dir"]
            )
            members.append(agent.Agent(settings, client))
        else:
            members.append(Bare(client, node["name"]))

    async def start(index: int, member: Any) -> None:
        await asyncio.sleep(INTERVAL_S * index / len(members))
        await member.run()

    tasks = [asyncio.create_task(start(i, m)) for i, m in enumerate(members)]
    await asyncio.sleep(INTERVAL_S * 1.5)  # every member started and past its first requests
    _say("window-open")
    before = (_cpu(), sum(m.renewals for m in members), sum(m.status_writes for m in members))
    await asyncio.sleep(seconds)
    after = (_cpu(), sum(m.renewals for m in members), sum(m.status_writes for m in members))
    _say("window-closed")
    for member in members:
        member.stop()
    await asyncio.gather(*tasks)
    await asyncio.gather(*(c.close() for c in clients))
    return {
        "mode": mode,
        "members": len(members),
        "seconds": seconds,
        "cpu_s": after[0] - before[0],
        "renewals": after[1] - before[1],
        "status_writes": after[2] - before[2],
        "renewal_failures": sum(m.renewal_failures for m in members),
    }


def main() -> None:
    mode, nodes_file, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    nodes = json.loads(nodes_file.read_text())
    # stdout carries the protocol lines only; every log line goes to stderr, warnings and up.
    global _protocol
    _protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    meridian_logging.configure("WARNING", json=False)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(fleet(mode, nodes, seconds))
    _say(json.dumps(result))


_protocol = sys.stdout


def _say(line: str) -> None:
    _protocol.write(line + "\n")
    _protocol.flush()


if __name__ == "__main__":
    main()
