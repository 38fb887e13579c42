"""The local platform for integration and e2e tests: one per test session, shared by all tests.

Each test isolates itself by namespace (or object name) instead of getting its own cluster. The
suite acts only on what it started, whatever the shell holds: a shell after `eval "$(meridian dev
env)"` (or one pointing at production) has KUBECONFIG and MERIDIAN_* DSNs that the session removes
before any test runs, so neither a test nor a process it spawns can reach them. The one way to
point the suite at another cluster is MERIDIAN_TEST_KUBECONFIG (a laptop's kind, say); datastores
are always started locally. Nothing here skips: a component that cannot start fails the session
with its log tail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path

import pytest
import pytest_asyncio
from lightkube import AsyncClient

from meridian.core import kube
from meridian.localplatform import platform

ROOT = Path(__file__).resolve().parent.parent

# The explicit opt-in: the kubeconfig of a cluster the session should use instead of its own.
ADOPT_KUBECONFIG = "MERIDIAN_TEST_KUBECONFIG"

# Where a shell keeps clusters and datastores: `meridian dev env`'s exports (KUBECONFIG, MERIDIAN_*,
# AWS_*), libpq's PG* and the in-cluster service account's address.
_AMBIENT_PREFIXES = ("KUBECONFIG", "MERIDIAN_", "AWS_", "PG", "KUBERNETES_SERVICE_")
# The suite's own variables, and the build cache (binaries, not a cluster or a datastore).
_KEPT_PREFIXES = ("MERIDIAN_TEST_", "MERIDIAN_CACHE_DIR")


def scrub_environment(environ: MutableMapping[str, str]) -> list[str]:
    """Remove every variable that could point a test at a cluster or datastore; return the names."""
    removed = sorted(
        name
        for name in environ
        if name.startswith(_AMBIENT_PREFIXES) and not name.startswith(_KEPT_PREFIXES)
    )
    for name in removed:
        del environ[name]
    return removed


_SCRUBBED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module is imported: every test, and every process spawned, inherits this."""
    _SCRUBBED[:] = scrub_environment(os.environ)


def pytest_report_header(config: pytest.Config) -> str:
    adopted = os.environ.get(ADOPT_KUBECONFIG)
    cluster = f"cluster from {ADOPT_KUBECONFIG}={adopted}" if adopted else "own cluster"
    ignored = ", ".join(_SCRUBBED) or "nothing"
    return f"meridian: {cluster}, own datastores; ignored from the shell: {ignored}"


def _run_dir() -> Path:
    base = platform.default_run_dir().parent
    return base / f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def local_platform() -> Iterator[platform.PlatformState]:
    run_dir = _run_dir()
    state = platform.up(
        run_dir, pg_standby=True, adopt_kubeconfig=os.environ.get(ADOPT_KUBECONFIG) or None
    )
    platform.install_crds(state, ROOT / "crds")
    os.environ["KUBECONFIG"] = state.kubeconfig
    try:
        yield state
    finally:
        os.environ.pop("KUBECONFIG", None)
        platform.down(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def elasticsearch_url(local_platform: platform.PlatformState) -> str:
    """Elasticsearch, started on first use: only sessions that run search tests pay for its JVM
    (~15 s, 512 MiB heap); `platform.down` stops it with the rest of the run directory."""
    return platform.start_elasticsearch(local_platform)


@pytest.fixture(scope="session")
def prometheus_url(local_platform: platform.PlatformState) -> str:
    """Prometheus, started on first use by the tests that query it (the release analysis);
    `platform.down` stops it with the rest of the run directory."""
    return platform.start_prometheus(local_platform)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube_client(local_platform: platform.PlatformState) -> AsyncIterator[AsyncClient]:
    client = kube.client(local_platform.kubeconfig, field_manager="meridian-tests")
    yield client
    await client.close()


@pytest.fixture
def namespace_name(request: pytest.FixtureRequest) -> str:
    """A fresh namespace name per test, readable in `kubectl get ns` when a test leaks one."""
    stem = request.node.name.replace("_", "-").lower()[:40].strip("-")
    return f"t-{stem}-{uuid.uuid4().hex[:6]}"
