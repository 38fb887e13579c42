"""The local platform for integration and e2e tests: one per test session, shared by all tests.

Each test isolates itself by namespace (or object name) instead of getting its own cluster. With
KUBECONFIG set to a cluster that is not ours, the platform uses that cluster (a laptop's kind, say);
datastores are always started locally. Nothing here skips: a component that cannot start fails
the session with its log tail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from lightkube import AsyncClient

from meridian.core import kube
from meridian.localplatform import platform

ROOT = Path(__file__).resolve().parent.parent


def _run_dir() -> Path:
    base = platform.default_run_dir().parent
    return base / f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def local_platform() -> Iterator[platform.PlatformState]:
    run_dir = _run_dir()
    state = platform.up(run_dir, pg_standby=True)
    platform.install_crds(state, ROOT / "crds")
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = state.kubeconfig
    try:
        yield state
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
        platform.down(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


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
