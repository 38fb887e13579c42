"""`tcprelay --inward` (root): the host's loopback to an address only a node's namespace has.

The pod pipeline's gateway is a ClusterIP, which exists only in the node's network namespace (its
kube-proxy rules are there). A server on the sandbox's own 127.0.0.1 stands for it here: nothing
on the host reaches that address, so an answer on the relay's host port shows the upstream socket
was made inside the node's namespace.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import net, nodesandbox
from meridian.localplatform.processes import ProcessSpec, Supervisor


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[nodesandbox.Sandbox, Supervisor]]:
    supervisor = Supervisor(tmp_path / "run")
    made = nodesandbox.create(supervisor, tmp_path / "node", "relaytest-real-0")
    try:
        yield made, supervisor
    finally:
        supervisor.stop_all()
        nodesandbox.teardown(supervisor, made)
        supervisor.stop_all()


def test_the_host_reaches_a_server_only_the_nodes_namespace_has(
    sandbox: tuple[nodesandbox.Sandbox, Supervisor], tmp_path: Path
) -> None:
    node, supervisor = sandbox
    (inside, host_port) = net.free_ports(2)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello").write_text("from the node\n")
    server = [sys.executable, "-u", "-m", "http.server", str(inside), "--bind", "127.0.0.1"]
    supervisor.start(
        ProcessSpec(name="inside", argv=node.nsenter(*server, "-d", str(tmp_path / "www")))
    )
    supervisor.wait_ready(
        "inside", lambda: "Serving HTTP" in supervisor.log_tail("inside"), timeout=30
    )
    url = f"http://{net.LOOPBACK}:{host_port}/hello"
    assert not net.http_ok(f"http://{net.LOOPBACK}:{inside}/hello")  # not on the host's loopback

    nodesandbox.start_inward_relay(supervisor, node, "inward", {host_port: ("127.0.0.1", inside)})
    for _ in range(3):  # one upstream socket per connection, each made in the namespace
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"from the node\n"
