"""infra/ansible for real: bootstrap.yml's agent role applied to a throwaway root, the agent it
installed heartbeating as an unprivileged user, and the EdgeNode inventory plugin.

The target is a directory on this machine (connection local, `edge_agent_prefix`): systemd is not
running here, so the role's service step is off (`edge_agent_manage_service: false`), the unit it
installed is checked with `systemd-analyze verify`, and the test starts the unit's ExecStart itself
with its EnvironmentFile, as its User. The role's pip step installs this tree's wheel; the node
image's dependency layer is stood in for by a `.pth` naming this venv's site-packages (so the test
does not download the control plane's dependencies from PyPI for one throwaway venv).
"""

from __future__ import annotations

import configparser
import json
import os
import pwd
import shlex
import shutil
import site
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import platform
from tests import edge_enrolment
from tests.waiting import eventually

ANSIBLE_DIR = Path(__file__).resolve().parents[3] / "infra" / "ansible"
BIN = Path(sys.executable).parent
EDGE_NODE = kube.RESOURCES["EdgeNode"]
CACHE_CONFIG = {
    "keys_zone_size": "10m",
    "max_size": "1g",
    "inactive": "60m",
    "origin": "http://127.0.0.1:9",
    "cache_valid": "10m",
}


@pytest.fixture(scope="module")
def wheel(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(out),
            str(repo_root),
        ],
        check=True,
        timeout=300,
    )
    return next(out.glob("meridian-*.whl"))


@pytest.fixture
def target_root() -> Iterator[Path]:
    """World-traversable (pytest's tmp_path is 0700), so the unprivileged agent can reach it."""
    root = Path(tempfile.mkdtemp(prefix="meridian-edge-target-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _environment(state: platform.PlatformState) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{state.bin_dir}:{BIN}:{os.environ.get('PATH', '')}",
        "KUBECONFIG": state.kubeconfig,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(Path(tempfile.gettempdir()) / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
    }


def _env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile: KEY=VALUE lines, quotes as in a shell, # comments."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, raw = line.partition("=")
            values[key.strip()] = " ".join(shlex.split(raw))
    return values


def _play(state: platform.PlatformState, inventory: Path, extra: dict[str, object]) -> None:
    play = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "bootstrap.yml",
            "--tags",
            "edge_agent",
            "-e",
            json.dumps(extra),
        ],
        cwd=ANSIBLE_DIR,
        env=_environment(state),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert play.returncode == 0, play.stdout[-4000:] + play.stderr[-2000:]
    assert "failed=0" in play.stdout


def _verified_unit(path: Path) -> configparser.SectionProxy:
    """The unit's [Service], after `systemd-analyze verify` accepted the file."""
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit["Service"]


def _reachable_deps(target_root: Path) -> list[Path]:
    """This venv's site-packages as hard-linked trees inside the world-traversable target root:
    the checkout (and so this venv) may sit below a 0700 directory (a CI clone in `mktemp -d`),
    which the unprivileged agent cannot traverse."""
    linked = []
    for index, source in enumerate(site.getsitepackages()):
        destination = target_root / "node-image-deps" / str(index)
        try:
            shutil.copytree(source, destination, copy_function=os.link, symlinks=True)
        except OSError:  # another filesystem: a plain copy
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(source, destination, symlinks=True)
        linked.append(destination)
    (target_root / "node-image-deps").chmod(0o755)
    return linked


def _start_as_systemd_would(
    service: configparser.SectionProxy, account: pwd.struct_passwd, log: IO[str]
) -> subprocess.Popen[bytes]:
    """ExecStart with the EnvironmentFile's variables only, as User/Group, from /."""
    return subprocess.Popen(
        shlex.split(service["ExecStart"]),
        env={"PATH": "/usr/bin:/bin", **_env_file(Path(service["EnvironmentFile"]))},
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd="/",
    )


async def test_bootstrap_installs_an_agent_that_heartbeats(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    target_root: Path,
    wheel: Path,
    tmp_path: Path,
) -> None:
    node = f"edge-{uuid.uuid4().hex[:8]}"
    edge_enrolment.enrol(local_platform, node, tmp_path / "kubeconfig", config=CACHE_CONFIG)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "edge": {
                    "hosts": {
                        node: {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "ansible_become": False,
                        }
                    }
                }
            }
        )
    )
    extra = {
        "edge_agent_prefix": str(target_root),
        "edge_agent_create_user": False,
        "edge_agent_user": "nobody",
        "edge_agent_group": "nogroup",
        "edge_agent_manage_service": False,
        "edge_agent_version": "0.4.2",
        "edge_agent_package": str(wheel),
        "edge_agent_pip_extra_args": "--no-deps --no-index",
        # The node's python3 (the role's default); this venv's interpreter is under /root.
        "edge_agent_python": "/usr/bin/python3",
        # No nginx here: the cache's own commands are stood in for by ones that succeed.
        "edge_agent_validate_command": ["/bin/true"],
        "edge_agent_reload_command": ["/bin/true"],
        "edge_agent_stub_status_url": "",
    }
    _play(local_platform, inventory, extra)
    service = _verified_unit(target_root / "etc/systemd/system/meridian-edge-agent.service")
    assert service["User"] == "nobody"
    assert service["NoNewPrivileges"] == "true"

    kubeconfig = target_root / "etc/meridian-edge-agent/kubeconfig"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o640"
    venv_site = next(
        (target_root / "opt/meridian-edge-agent/venv/lib").glob("python3*/site-packages")
    )
    (venv_site / "zz-node-image-deps.pth").write_text(
        "\n".join(str(path) for path in _reachable_deps(target_root)) + "\n"
    )

    account = pwd.getpwnam(service["User"])
    with (tmp_path / "agent.log").open("w") as log:
        agent = _start_as_systemd_would(service, account, log)
        try:

            async def reported() -> dict[str, object] | None:
                """the installed agent renewed its Lease and reported its version and config"""
                lease = await kube_client.get(
                    Lease, edgenode.lease_name(node), namespace=edgenode.EDGE_NAMESPACE
                )
                status = dict((await kube_client.get(EDGE_NODE, node)).status or {})
                renewed = lease.spec is not None and lease.spec.holderIdentity == node
                return status if renewed and status.get("appliedConfigHash") else None

            status = await eventually(reported, within=60)
        finally:
            agent.terminate()
            agent.wait(timeout=30)
    assert agent.returncode == 0, (tmp_path / "agent.log").read_text()[-3000:]
    assert status["agentVersion"] == "0.4.2"
    assert status["appliedConfigHash"] == edgenode.config_hash(CACHE_CONFIG)
    rendered = target_root / "etc/nginx/meridian/cache.conf"
    assert "max_size=1g" in rendered.read_text()
    assert "proxy_set_header Host $host;" in rendered.read_text()
    assert rendered.stat().st_uid == account.pw_uid, "written by the unprivileged agent"
    platform.kubectl(local_platform, "delete", "edgenode", node, "--wait=false")


def test_inventory_plugin_lists_edgenodes_grouped_by_site(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    names = {s: f"inv-{s}-{uuid.uuid4().hex[:6]}" for s in ("ams1", "nyc1", "sfo-2")}
    items = [edge_enrolment.edge_node(name, site=s) for s, name in names.items()]
    for item, host in zip(items, (11, 12, 13), strict=True):
        item["spec"]["address"] = f"10.41.0.{host}"
    platform.kubectl(
        local_platform,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    try:
        listed = subprocess.run(
            [str(BIN / "ansible-inventory"), "--list"],
            cwd=ANSIBLE_DIR,
            env=_environment(local_platform),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        platform.kubectl(local_platform, "delete", "edgenode", *names.values(), "--wait=false")
    inventory = json.loads(listed.stdout)
    assert {"site_ams1", "site_nyc1", "site_sfo_2"} <= set(inventory["edge"]["children"])
    for site_name, name in names.items():
        group = "site_" + site_name.replace("-", "_")
        assert name in inventory[group]["hosts"]
        assert name in inventory["role_cdn_origin"]["hosts"]
    variables = {
        key: _plain(value) for key, value in inventory["_meta"]["hostvars"][names["ams1"]].items()
    }
    assert variables["ansible_host"] == "10.41.0.11"
    assert variables["edge_site"] == "ams1"
    assert variables["edge_ready"] is False


def _plain(value: object) -> object:
    """A value as given: ansible-core marks what an inventory plugin read as unsafe (never
    templated, so an API string cannot run a lookup) and `--list` shows that wrapper."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value
