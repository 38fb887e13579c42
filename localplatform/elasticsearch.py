"""Elasticsearch 8 for the search service: the integ-test distribution from Maven Central.

Fetched once by Maven (`mvn dependency:copy`, which checks Central's SHA-1) into the build cache,
checked against the SHA-256 pinned in `versions.py`, unpacked beside it. That distribution carries
only the core modules (transport-netty4, x-pack-core, x-pack-security, apm) and no JDK: it runs on
Debian's JDK 17. What that leaves out, and the search service therefore never uses: analysis-common
(no edge_ngram, no language analyzers, no asciifolding), mapper-extras (no scaled_float, no
search_as_you_type), reindex (no `_reindex`), painless, and the root `GET /` endpoint.

Like PostgreSQL, the node runs as the unprivileged service user. The cache lives under root's home,
which that user cannot traverse, so each run directory gets a tree of hard links to the unpacked
distribution (a copy where the cache is on another filesystem): the node reads it, never writes it.
Single node, loopback only, a 512 MiB heap, security off (as Redis: nothing listens beyond
127.0.0.1), and `action.auto_create_index` off so a write to a missing index fails instead of
growing a dynamically mapped one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from meridian.localplatform import gobuild, net, versions
from meridian.localplatform.processes import ProcessSpec, Supervisor, chown_to_service_user

JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
HEAP = "512m"
CLUSTER_NAME = "meridian"


def install_dir() -> Path:
    """The unpacked distribution, one folder per pinned version (like the Go tools)."""
    return gobuild.cache_base() / "tools" / f"elasticsearch-{versions.ELASTICSEARCH}"


def home() -> Path:
    return install_dir() / f"elasticsearch-{versions.ELASTICSEARCH}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_installed() -> Path:
    """Fetch and unpack the pinned distribution unless already there; returns its home."""
    if (home() / "bin" / "elasticsearch").exists():
        return home()
    target = install_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".elasticsearch-") as work:
        subprocess.run(
            [
                "mvn",
                "--batch-mode",
                "--quiet",
                "dependency:copy",
                f"-Dartifact={versions.ELASTICSEARCH_ARTIFACT}",
                f"-DoutputDirectory={work}",
            ],
            check=True,
            cwd=work,
        )
        archive = Path(work) / f"elasticsearch-{versions.ELASTICSEARCH}.zip"
        found = _sha256(archive)
        if found != versions.ELASTICSEARCH_SHA256:
            raise RuntimeError(
                f"{archive.name}: sha256 {found}, expected {versions.ELASTICSEARCH_SHA256}"
            )
        unpacked = Path(work) / "unpacked"
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                path = Path(bundle.extract(member, unpacked))
                mode = member.external_attr >> 16  # zipfile drops the executable bits
                if mode and not member.is_dir():
                    path.chmod(mode & 0o755)
        shutil.rmtree(target, ignore_errors=True)
        unpacked.rename(target)
    return home()


def _link_tree(source: Path, destination: Path) -> None:
    """A tree of hard links (instant, no space) the service user can reach; a copy across devices."""
    if destination.exists():
        return
    try:
        shutil.copytree(source, destination, copy_function=os.link, symlinks=True)
    except OSError:
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(source, destination, symlinks=True)


def _write_config(config: Path, source: Path) -> None:
    """The distribution's config folder, with our heap; everything else is set on the command line."""
    if config.exists():
        return
    shutil.copytree(source, config)
    # No pre-touch: faulting the whole heap in at start costs seconds on a busy two-core machine.
    options = f"-Xms{HEAP}\n-Xmx{HEAP}\n-XX:-AlwaysPreTouch\n"
    (config / "jvm.options.d" / "meridian.options").write_text(options)


def start(supervisor: Supervisor, run_dir: Path) -> str:
    """Start the node (or find it running) and wait for a green or yellow cluster; returns its URL."""
    distribution = ensure_installed()
    run_dir.mkdir(parents=True, exist_ok=True)
    http_port, transport_port = net.sticky_ports(run_dir / "elasticsearch.ports", 2)
    node_home = run_dir / "home"
    _link_tree(distribution, node_home)
    config = run_dir / "config"
    _write_config(config, distribution / "config")
    for folder in ("data", "logs", "tmp"):
        (run_dir / folder).mkdir(exist_ok=True)
        chown_to_service_user(run_dir / folder)
    chown_to_service_user(config)
    settings = {
        "cluster.name": CLUSTER_NAME,
        "node.name": "node-0",
        "discovery.type": "single-node",
        "network.host": net.LOOPBACK,
        "http.port": str(http_port),
        # A range: nothing dials a single node's transport port, and on a restart the sticky port
        # may meanwhile be some client socket's ephemeral source port.
        "transport.port": f"{transport_port}-{transport_port + 100}",
        "path.data": str(run_dir / "data"),
        "path.logs": str(run_dir / "logs"),
        "xpack.security.enabled": "false",
        "action.auto_create_index": "false",
        # A disk shared with the rest of the machine must not turn the cluster read-only.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    argv = [str(node_home / "bin" / "elasticsearch")]
    for key, value in settings.items():
        argv += ["-E", f"{key}={value}"]
    supervisor.start(
        ProcessSpec(
            name="elasticsearch",
            argv=argv,
            env={
                "ES_JAVA_HOME": JAVA_HOME,
                "ES_PATH_CONF": str(config),
                "ES_TMPDIR": str(run_dir / "tmp"),
            },
            cwd=run_dir / "logs",
            unprivileged=True,
        )
    )
    url = f"http://{net.LOOPBACK}:{http_port}"
    # The distribution has no `GET /`; cluster health answers once the node has joined.
    health = f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s"
    # ~15 s on an idle machine; minutes when a dozen test sessions share two cores.
    supervisor.wait_ready("elasticsearch", lambda: net.http_ok(health), timeout=400)
    return url
