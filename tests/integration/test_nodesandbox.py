"""A real node's sandbox on this host (root): what counts as the node's processes, before and after
`teardown`, when other platforms on the host keep making namespaces.

The kernel hands a freed namespace inode number to the next namespace made; with other engineers'
real nodes starting containers, the numbers of a node just torn down belong to a stranger within
milliseconds. The node's leftover check counted that stranger as the node's ("processes still
there after down"), and `kill_remaining` would have killed it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from meridian.localplatform import net, nodesandbox
from meridian.localplatform.processes import ProcessSpec, Supervisor


def _inodes(pid: int) -> tuple[int, int]:
    return os.stat(f"/proc/{pid}/ns/net").st_ino, os.stat(f"/proc/{pid}/ns/mnt").st_ino


@pytest.fixture
def torn_down(tmp_path: Path) -> tuple[nodesandbox.Sandbox, list[int]]:
    """A sandbox made and undone, and the pids of what ran in it (net and mount, mount only, net
    only), each seen as the node's while it ran."""
    supervisor = Supervisor(tmp_path / "run")
    sandbox = nodesandbox.create(supervisor, tmp_path / "node", "sandboxtest-real-0")
    pids = []
    try:
        for name, flags in (
            ("both", ["--net", "--mount"]),
            ("mount", ["--mount"]),
            ("net", ["--net"]),
        ):
            argv = ["nsenter", f"--target={sandbox.holder_pid}", *flags, "--", "sleep", "inf"]
            pids.append(supervisor.start(ProcessSpec(name=name, argv=argv)))
        net.wait_until(
            lambda: all(f"process {pid}" in nodesandbox.leftovers(sandbox) for pid in pids),
            what="the node's processes counted as the node's",
            timeout=10,
        )
    finally:
        nodesandbox.teardown(supervisor, sandbox)
        supervisor.stop_all()  # reaps what teardown killed
    return sandbox, pids


def test_a_stranger_given_the_freed_namespace_numbers_is_neither_counted_nor_killed(
    torn_down: tuple[nodesandbox.Sandbox, list[int]],
) -> None:
    sandbox, pids = torn_down
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    ours = (sandbox.net_inode, sandbox.mnt_inode)
    stranger = None
    try:
        for _ in range(100):  # the first one gets the numbers unless another platform was quicker
            candidate = subprocess.Popen(["unshare", "--net", "--mount", "--", "sleep", "inf"])
            net.wait_until(
                lambda: _inodes(candidate.pid) != _inodes(os.getpid()),  # noqa: B023
                what="unshare in its namespaces",
                timeout=10,
            )
            if set(_inodes(candidate.pid)) & set(ours):
                stranger = candidate
                break
            candidate.kill()
            candidate.wait()
        assert stranger is not None, "no new namespace got the freed numbers"
        assert nodesandbox.leftovers(sandbox) == []
        nodesandbox.kill_remaining(sandbox, timeout=1)
        assert stranger.poll() is None, "the stranger was killed as the node's"
    finally:
        if stranger is not None:
            stranger.kill()
            stranger.wait()
