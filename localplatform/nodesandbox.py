"""The box a real node lives in: its own network and mount namespaces, a veth to the host, a
cgroup root, and the global sysctls kubelet changes, all undone by `teardown`.

kubelet and containerd use fixed host paths (`/var/lib/kubelet/device-plugins`, `/var/log/pods`,
`/var/lib/cni`, `/run/containerd/s`); inside the node's mount namespace `/var/lib`, `/var/log`
and `/run` are the node's own folders under the run directory, so two nodes never share them and
nothing is written outside the run directory. The namespaces are held by one `sleep` process:
when it and every process that entered them are gone, the kernel frees the namespaces, their
mounts and the veth pair. The node has no default route: it reaches the host's veth address and
nothing else. While any node runs, the host has blackhole routes for every node and pod address
(`BLACKHOLES`): a packet for a node that is gone is dropped, never sent out of the machine by the
default route. Called by `realnode`, which starts what runs inside.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from meridian.localplatform import processes
from meridian.localplatform.processes import ProcessSpec, Supervisor

# kubelet's setupKernelTunables: global, not per namespace, so they outlive the node unless put back.
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
_MAX_NODES = 200
LINK_PREFIX = "mrn"
"""Host ends of node veths are `mrn<index>h`: the index picks the node's addresses too."""
BIND_OVER = ("/var/lib", "/var/log", "/run")
BLACKHOLES = ("10.213.0.0/16", "10.214.0.0/16")
"""Every node's veth and pod addresses; a node's own routes are more specific and win."""
_HOST_LOCK = Path("/run/lock/meridian-real-nodes.lock")
"""Serialises route, veth and sysctl changes of all platforms on this host (all are shared)."""
_HOST_SYSCTLS = _HOST_LOCK.with_suffix(".sysctls.json")
"""The sysctls as they were before the host's first running node, whichever platform's."""


@dataclass(frozen=True)
class Sandbox:
    """What `teardown` and the leftover check need, saved as `sandbox.json` in the node folder."""

    node_dir: str
    holder: str
    """Supervisor name of the process holding the namespaces."""
    holder_pid: int
    net_inode: int
    mnt_inode: int
    index: int
    cgroup_root: str
    sysctls: dict[str, str]
    host_ifindex: int = 0
    """The host veth's ifindex (never reused soon): a later node's `mrn<index>h` is not ours."""

    @property
    def host_link(self) -> str:
        return f"{LINK_PREFIX}{self.index}h"

    @property
    def host_ip(self) -> str:
        return f"10.213.{self.index}.1"

    @property
    def node_ip(self) -> str:
        return f"10.213.{self.index}.2"

    @property
    def pod_cidr(self) -> str:
        return f"10.214.{self.index}.0/24"

    def nsenter(self, *argv: str) -> list[str]:
        """`argv` run inside the node's network and mount namespaces."""
        return ["nsenter", f"--target={self.holder_pid}", "--net", "--mount", "--", *argv]


def _state_file(node_dir: Path) -> Path:
    return node_dir / "sandbox.json"


def load(node_dir: Path) -> Sandbox | None:
    path = _state_file(node_dir)
    return Sandbox(**json.loads(path.read_text())) if path.exists() else None


def cgroup_mounts() -> list[Path]:
    """Every cgroup hierarchy of the host (v1 controllers and the v2 `unified` one)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, target, fstype, *_ = line.split()
        if fstype in ("cgroup", "cgroup2"):
            found.append(Path(target))
    return found


def _make_cgroup(path: Path) -> None:
    path.mkdir(exist_ok=True)
    # A v1 cpuset cgroup takes no task until it has CPUs and memory nodes: copy the parent's.
    for name in ("cpuset.cpus", "cpuset.mems"):
        own = path / name
        if own.exists() and not own.read_text().strip():
            own.write_text((path.parent / name).read_text())


def _read_sysctls() -> dict[str, str]:
    return {name: Path("/proc/sys", name).read_text().strip() for name in KUBELET_SYSCTLS}


def create(supervisor: Supervisor, node_dir: Path, name: str) -> Sandbox:
    """Make (or find alive) the namespaces, veth, mounts and cgroup root of node `name`."""
    existing = load(node_dir)
    if existing and not supervisor.exited(existing.holder):
        return existing
    if existing:  # its holder died (a crash, a reboot): clear what is left before starting afresh
        teardown(supervisor, existing)
    if os.geteuid() != 0:
        raise RuntimeError("a real node needs root (namespaces, mounts, cgroups); run kwok only")
    node_dir.mkdir(parents=True, exist_ok=True)
    holder = f"{name}-sandbox"
    pid = supervisor.start(
        ProcessSpec(
            name=holder,
            argv=["unshare", "--net", "--mount", "--propagation=private", "--", "sleep", "inf"],
        )
    )
    processes_ns = Path(f"/proc/{pid}/ns")
    own_net = os.stat("/proc/self/ns/net").st_ino
    deadline = time.monotonic() + 10
    while (processes_ns / "net").stat().st_ino == own_net:  # unshare has not exec'd sleep yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"{holder} did not enter its namespaces")
        time.sleep(0.02)
    with _host_lock():
        sysctls = _host_sysctls()
        _add_blackholes()
        index = _add_veth(pid)
    sandbox = Sandbox(
        node_dir=str(node_dir),
        holder=holder,
        holder_pid=pid,
        net_inode=(processes_ns / "net").stat().st_ino,
        mnt_inode=(processes_ns / "mnt").stat().st_ino,
        index=index,
        # Unique per sandbox: a later node of the same name and index is not taken for this one.
        cgroup_root=f"meridian-{name}-{index}-{pid}",
        sysctls=sysctls,
        host_ifindex=int(Path("/sys/class/net", f"{LINK_PREFIX}{index}h", "ifindex").read_text()),
    )
    _state_file(node_dir).write_text(json.dumps(asdict(sandbox), indent=2))
    _configure_network(sandbox)
    for target in BIND_OVER:
        source = node_dir / "root" / target.lstrip("/")
        source.mkdir(parents=True, exist_ok=True)
        processes.run_checked(sandbox.nsenter("mount", "--bind", str(source), target))
    for hierarchy in cgroup_mounts():
        _make_cgroup(hierarchy / sandbox.cgroup_root)
        _make_cgroup(hierarchy / sandbox.cgroup_root / "runtime")
    return sandbox


@contextlib.contextmanager
def _host_lock() -> Iterator[None]:
    _HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _HOST_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _node_links() -> list[str]:
    """Host ends of every node's veth on this host, whichever platform made them."""
    return sorted(path.name for path in Path("/sys/class/net").glob(f"{LINK_PREFIX}*h"))


def blackhole_routes() -> list[str]:
    found = processes.run_checked(["ip", "-4", "route", "show", "type", "blackhole"])
    return [line.split()[1] for line in found.splitlines() if line.split()[1] in BLACKHOLES]


def _add_blackholes() -> None:
    for prefix in BLACKHOLES:
        processes.run_checked(["ip", "route", "replace", "blackhole", prefix])


def _host_sysctls() -> dict[str, str]:
    """kubelet's sysctls as before any node of any platform ran (called under the host lock)."""
    if not _node_links() or not _HOST_SYSCTLS.exists():
        _HOST_SYSCTLS.write_text(json.dumps(_read_sysctls()))
    saved: dict[str, str] = json.loads(_HOST_SYSCTLS.read_text())
    return saved


def _release_host(sandbox: Sandbox) -> None:
    """Called with our veth gone: the last node of the host puts back the routes and sysctls;
    while another platform's node runs, they stay for it."""
    with _host_lock():
        if _node_links():
            return
        for prefix in blackhole_routes():
            processes.run_checked(["ip", "route", "del", "blackhole", prefix])
        for name, value in sandbox.sysctls.items():
            Path("/proc/sys", name).write_text(value)
        _HOST_SYSCTLS.unlink(missing_ok=True)


def _add_veth(pid: int) -> int:
    """The first free index: `ip link add` fails on a taken name, so two platforms never share one."""
    for index in range(_MAX_NODES):
        try:
            processes.run_checked(
                [
                    "ip",
                    "link",
                    "add",
                    f"{LINK_PREFIX}{index}h",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    str(pid),
                ]
            )
        except RuntimeError as error:
            if "File exists" in str(error):
                continue
            raise
        return index
    raise RuntimeError(f"no free node index below {_MAX_NODES}")


def _configure_network(sandbox: Sandbox) -> None:
    run = processes.run_checked
    run(["ip", "addr", "add", f"{sandbox.host_ip}/30", "dev", sandbox.host_link])
    run(["ip", "link", "set", sandbox.host_link, "up"])
    run(["ip", "route", "add", sandbox.pod_cidr, "via", sandbox.node_ip, "dev", sandbox.host_link])
    inside = sandbox.nsenter
    run(inside("ip", "link", "set", "lo", "up"))
    run(inside("ip", "addr", "add", f"{sandbox.node_ip}/30", "dev", "eth0"))
    run(inside("ip", "link", "set", "eth0", "up"))
    # Per namespace: the node routes between its pods' bridge and the host's veth, nowhere else.
    run(inside("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))


def move_into(sandbox: Sandbox, pid: int) -> None:
    """Put a node process (containerd, kubelet) into the node's cgroup root, before it forks."""
    for hierarchy in cgroup_mounts():
        (hierarchy / sandbox.cgroup_root / "runtime" / "cgroup.procs").write_text(str(pid))


def _cgroup_dirs(sandbox: Sandbox) -> list[Path]:
    """The node's cgroups in every hierarchy, deepest first (the order rmdir needs)."""
    found = []
    for hierarchy in cgroup_mounts():
        root = hierarchy / sandbox.cgroup_root
        if root.is_dir():
            found += [Path(path) for path, _, _ in os.walk(root)]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def _cgroup_pids(sandbox: Sandbox) -> set[int]:
    pids: set[int] = set()
    for directory in _cgroup_dirs(sandbox):
        with contextlib.suppress(OSError):
            pids |= {int(pid) for pid in (directory / "cgroup.procs").read_text().split()}
    return pids


def _namespace_pids(sandbox: Sandbox) -> set[int]:
    """Processes still inside the node's network or mount namespace (a shim that escaped, say).

    A namespace's inode number is all `/proc` shows of it, and the kernel hands a freed number to
    the next namespace made, at once (the lowest free one): once the node's namespaces are gone,
    another platform's container soon holds the same numbers. So a match counts only while it is
    provably ours: the network namespace lives as long as the node's host veth (the kernel deletes
    the pair with it, before freeing the number), and a process in the node's mount namespace
    sees the node's bind mounts of its own folder. Counting strangers reported them as this node's
    leftovers, and `kill_remaining` sent them SIGKILL.
    """
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            in_net = (proc / "ns/net").stat().st_ino == sandbox.net_inode
            in_mnt = (proc / "ns/mnt").stat().st_ino == sandbox.mnt_inode
            # Checked after the inodes were read: still ours then.
            if (in_net and _own_link_exists(sandbox)) or (
                in_mnt and _sees_node_mounts(proc, sandbox)
            ):
                found.add(int(proc.name))
    return found


def _sees_node_mounts(proc: Path, sandbox: Sandbox) -> bool:
    """Whether the process's mount namespace holds the node's bind mounts (`create`): a mount at
    one of `BIND_OVER` from the node's folder (its path seen from the filesystem that holds it)."""
    for line in (proc / "mountinfo").read_text().splitlines():
        fields = line.split()
        source, target = fields[3].removesuffix("//deleted"), fields[4]
        ours = f"{sandbox.node_dir}/root{target}"
        if target in BIND_OVER and source.endswith(f"/root{target}") and ours.endswith(source):
            return True
    return False


def kill_remaining(sandbox: Sandbox, timeout: float = 20.0) -> None:
    """SIGKILL everything left in the node's cgroups and namespaces, until nothing is."""
    deadline = time.monotonic() + timeout
    while pids := _cgroup_pids(sandbox) | _namespace_pids(sandbox):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of node {sandbox.node_dir} survive SIGKILL: {pids}")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def teardown(supervisor: Supervisor, sandbox: Sandbox) -> None:
    """Undo `create`: processes, namespaces (and with them mounts and the veth), cgroups, sysctls."""
    supervisor.stop(sandbox.holder)
    kill_remaining(sandbox)
    deadline = time.monotonic() + 20
    for directory in _cgroup_dirs(sandbox):
        while directory.exists():
            try:
                directory.rmdir()
            except OSError:  # EBUSY for a moment after its last task died
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    while _own_link_exists(sandbox):  # the kernel frees the pair with the namespace
        if time.monotonic() > deadline:
            processes.run_checked(["ip", "link", "del", sandbox.host_link])
        time.sleep(0.1)
    _release_host(sandbox)
    _state_file(Path(sandbox.node_dir)).unlink(missing_ok=True)


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _own_link_exists(sandbox: Sandbox) -> bool:
    """This node's host veth, not another platform's that took the same name after it."""
    if not sandbox.host_ifindex:  # saved before the ifindex was
        return _link_exists(sandbox.host_link)
    return _ifindex(sandbox.host_link) == sandbox.host_ifindex


def _ifindex(name: str) -> int:
    try:
        return int(Path("/sys/class/net", name, "ifindex").read_text())
    except OSError:  # gone meanwhile
        return 0


def leftovers(sandbox: Sandbox) -> list[str]:
    """What of this node still exists on the host; empty after a complete `teardown`."""
    left = [f"process {pid}" for pid in sorted(_cgroup_pids(sandbox) | _namespace_pids(sandbox))]
    left += [f"cgroup {path}" for path in _cgroup_dirs(sandbox)]
    if _own_link_exists(sandbox):
        left.append(f"link {sandbox.host_link}")
    mountinfo = Path("/proc/self/mountinfo").read_text()
    left += [f"mount {line}" for line in mountinfo.splitlines() if sandbox.node_dir in line]
    if not _node_links():  # no node runs on this host any more: nothing may stay for them
        changed = {
            name: value for name, value in _read_sysctls().items() if sandbox.sysctls[name] != value
        }
        left += [f"sysctl {name}={value}" for name, value in changed.items()]
        left += [f"route blackhole {prefix}" for prefix in blackhole_routes()]
    return left


def start_relay(
    supervisor: Supervisor,
    sandbox: Sandbox,
    name: str,
    ports: list[int],
    *,
    address: str | None = None,
) -> None:
    """A `tcprelay` listening inside the node's network namespace (on its loopback, or on
    `address`) and dialling the host's loopback at the same ports: how the node reaches the
    apiserver and pods reach the datastores without anything listening off the host's loopback."""
    supervisor.start(
        ProcessSpec(
            name=name,
            argv=[
                sys.executable,
                "-m",
                "meridian.localplatform.tcprelay",
                f"--netns=/proc/{sandbox.holder_pid}/ns/net",
                *([f"--address={address}"] if address else []),
                *(f"--port={port}" for port in ports),
            ],
            env={"PYTHONPATH": os.pathsep.join(sys.path)},
        )
    )
    supervisor.wait_ready(name, lambda: "relaying" in supervisor.log_tail(name), timeout=30)


def start_inward_relay(
    supervisor: Supervisor, sandbox: Sandbox, name: str, targets: dict[int, tuple[str, int]]
) -> None:
    """A `tcprelay --inward`: the host's 127.0.0.1:<port> to an address inside the node's
    namespace (a ClusterIP), for each `port: (address, port)` of `targets`."""
    supervisor.start(
        ProcessSpec(
            name=name,
            argv=[
                sys.executable,
                "-m",
                "meridian.localplatform.tcprelay",
                f"--netns=/proc/{sandbox.holder_pid}/ns/net",
                *(f"--inward={port}={ip}:{to}" for port, (ip, to) in sorted(targets.items())),
            ],
            env={"PYTHONPATH": os.pathsep.join(sys.path)},
        )
    )
    supervisor.wait_ready(name, lambda: "relaying" in supervisor.log_tail(name), timeout=30)
