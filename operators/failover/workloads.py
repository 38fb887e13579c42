"""The plan's services on one side: find their Deployments, scale them, wait, repoint their DSN.

Works through any cluster's client (`endpoints.cluster`), so the same code acts on the source
and the target. Scaling patches spec.replicas and is idempotent; readiness is the Deployment's
own status (readyReplicas), which kwok's nodes report as real kubelets do.

A pod reads its DSN from the Secret when it starts, as environment: a new DSN reaches only pods
started after it. `roll` stamps each Deployment's pod template with a digest of the DSN, so pods
already running (a warm target) are replaced, and a Deployment at 0 replicas starts its pods with
the new value either way; the same DSN stamps the same digest, so a repeat changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any, NamedTuple

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import failoverplan as api_types

DSN_ANNOTATION = "failover.meridian.io/database-dsn-sha256"
"""On a Deployment's pod template: the digest of the DSN its pods were started with (never the
DSN itself, which holds a password)."""


class Workload(NamedTuple):
    name: str
    replicas: int
    ready: int


async def find(api: AsyncClient, services: api_types.Services) -> tuple[list[Workload], list[str]]:
    """The Deployments the plan names (or selects), and the names it lists that are missing."""
    found: list[Workload] = []
    if services.selector:
        labels: dict[str, Any] = dict(services.selector)
        async for deployment in api.list(Deployment, namespace=services.namespace, labels=labels):
            found.append(_workload(deployment))
    missing = []
    for name in services.names:
        try:
            deployment = await api.get(Deployment, name, namespace=services.namespace)
        except ApiError as error:
            if error.status.code != 404:
                raise
            missing.append(name)
            continue
        if all(w.name != name for w in found):
            found.append(_workload(deployment))
    return sorted(found), missing


def _workload(deployment: Deployment) -> Workload:
    assert deployment.metadata is not None
    assert deployment.metadata.name is not None
    replicas = deployment.spec.replicas if deployment.spec and deployment.spec.replicas else 0
    ready = deployment.status.readyReplicas if deployment.status else None
    return Workload(deployment.metadata.name, replicas, ready or 0)


async def scale(api: AsyncClient, namespace: str, names: list[str], replicas: int) -> list[str]:
    """Set each Deployment's replicas; return what changed ("orders 3→0")."""
    changed = []
    for name in names:
        deployment = await api.get(Deployment, name, namespace=namespace)
        before = _workload(deployment).replicas
        if before == replicas:
            continue
        await api.patch(
            Deployment,
            name,
            {"spec": {"replicas": replicas}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
        changed.append(f"deployment {namespace}/{name} replicas {before}→{replicas}")
    return changed


async def wait_ready(
    api: AsyncClient, services: api_types.Services, replicas: int, timeout_s: float, poll_s: float
) -> list[Workload]:
    """Wait until every Deployment has `replicas` ready; TimeoutError names the ones that do not."""
    deadline = time.monotonic() + timeout_s
    while True:
        found, missing = await find(api, services)
        short = [w for w in found if w.ready < replicas]
        if not short and not missing:
            return found
        if time.monotonic() > deadline:
            lagging = ", ".join(f"{w.name} {w.ready}/{replicas}" for w in short)
            raise TimeoutError(f"not Ready after {timeout_s:.0f} s: {lagging or missing}")
        await asyncio.sleep(poll_s)


async def point_secret(
    api: AsyncClient, namespace: str, ref: api_types.SecretKeyRef, dsn: str
) -> bool:
    """Write `dsn` into the services' database Secret; False when it already holds it."""
    encoded = base64.b64encode(dsn.encode()).decode()
    try:
        secret = await api.get(Secret, ref.name, namespace=namespace)
    except ApiError as error:
        if error.status.code != 404:
            raise
        body = Secret(
            metadata={"name": ref.name, "namespace": namespace},  # type: ignore[arg-type]
            data={ref.key: encoded},
        )
        await api.create(body)
        return True
    if (secret.data or {}).get(ref.key) == encoded:
        return False
    await api.patch(
        Secret,
        ref.name,
        {"data": {ref.key: encoded}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    return True


def dsn_digest(dsn: str) -> str:
    return hashlib.sha256(dsn.encode()).hexdigest()[:16]


async def roll(api: AsyncClient, namespace: str, names: list[str], dsn: str) -> list[str]:
    """Stamp each Deployment's pod template with the DSN's digest; what changed ("rolled")."""
    digest, changed = dsn_digest(dsn), []
    for name in names:
        deployment = await api.get(Deployment, name, namespace=namespace)
        template = deployment.spec.template if deployment.spec else None
        metadata = template.metadata if template else None
        annotations = (metadata.annotations if metadata else None) or {}
        if annotations.get(DSN_ANNOTATION) == digest:
            continue
        await api.patch(
            Deployment,
            name,
            {"spec": {"template": {"metadata": {"annotations": {DSN_ANNOTATION: digest}}}}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
        replicas = _workload(deployment).replicas
        rolled = f", its {replicas} pods replaced" if replicas else ""
        changed.append(f"deployment {namespace}/{name} pod template → DSN {digest}{rolled}")
    return changed
