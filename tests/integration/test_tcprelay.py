"""`tcprelay --inbound`: the host's loopback relayed to an address only a network namespace has
(root: it makes one). What lets the FailoverPlan operator, a host process, reach DR's pods."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import net


@pytest.fixture
def namespace() -> Iterator[int]:
    """A network namespace of its own (loopback up), held by a sleeping process: its pid."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "inf"])
    try:
        net.wait_until(
            lambda: os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"),
            what="the namespace",
            timeout=10,
        )
        subprocess.run(
            ["nsenter", f"--target={holder.pid}", "--net", "ip", "link", "set", "lo", "up"],
            check=True,
        )
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_the_hosts_loopback_reaches_a_server_only_the_namespace_has(
    namespace: int, tmp_path: Path
) -> None:
    inside, host_port = net.free_ports(2)
    (tmp_path / "where").write_text("inside")
    server = subprocess.Popen(
        [
            *("nsenter", f"--target={namespace}", "--net", "--"),
            *(sys.executable, "-m", "http.server", str(inside), "--bind", "127.0.0.1"),
            *("-d", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    relay = subprocess.Popen(
        [
            *(sys.executable, "-m", "meridian.localplatform.tcprelay"),
            f"--netns=/proc/{namespace}/ns/net",
            f"--inbound={host_port}:127.0.0.1:{inside}",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        net.wait_until(lambda: net.tcp_open(host_port), what="the relay", timeout=30)
        assert not net.tcp_open(inside)  # the host's own loopback has no such server
        url = f"http://{net.LOOPBACK}:{host_port}/where"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return bool(response.read() == b"inside")
            except OSError:
                return False

        net.wait_until(answers, what="the server through the relay", timeout=30)
    finally:
        for process in (relay, server):
            process.kill()
            process.wait()
