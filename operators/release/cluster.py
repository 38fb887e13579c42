"""The release's side of the cluster: what its pods show, and carrying out a decision's actions.

`observe` reads the ReplicaSets and pods of one release (by its instance label) into the
machine's `World`: available replicas per (role, revision), which is the new ReplicaSet's own
count, and pods crash-looping. `carry_out` applies the actions in the order the machine gave
them, writing a Deployment or the HTTPRoute only when it differs from what is live, so a settled
release costs reads only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from lightkube import AsyncClient, codecs, operators
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import Pod

from meridian.core import events
from meridian.operators.release import decision, resources

HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
APPLIED = "meridian.io/applied"
"""Annotation: the hash of the manifest last applied (compared instead of the whole object)."""
CRASH_LOOP_RESTARTS = 2


def _labels(
    release: resources.Release,
) -> dict[str, str | operators.Operator[Any] | Iterable[Any] | None]:
    """The release's label selector, in lightkube's type."""
    return dict(resources.selector(release))


def _key(labels: Mapping[str, str]) -> tuple[resources.Role, str] | None:
    role, revision = labels.get(resources.ROLE_LABEL), labels.get(resources.REVISION_LABEL)
    if role not in ("stable", "canary") or not revision:
        return None
    return role, revision  # type: ignore[return-value]


def _crash_looping(pod: Pod) -> bool:
    for container in (pod.status.containerStatuses if pod.status else None) or []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            return True
        if container.restartCount >= CRASH_LOOP_RESTARTS and not container.ready:
            return True
    return False


async def observe(
    api: AsyncClient, release: resources.Release
) -> dict[tuple[resources.Role, str], decision.Pods]:
    labels = _labels(release)
    available: dict[tuple[resources.Role, str], int] = {}
    crashing: dict[tuple[resources.Role, str], int] = {}
    async for replica_set in api.list(ReplicaSet, namespace=release.namespace, labels=labels):
        key = _key(replica_set.metadata.labels or {}) if replica_set.metadata else None
        if key is not None and replica_set.status is not None:
            available[key] = available.get(key, 0) + (replica_set.status.availableReplicas or 0)
    async for pod in api.list(Pod, namespace=release.namespace, labels=labels):
        key = _key(pod.metadata.labels or {}) if pod.metadata else None
        if key is not None and _crash_looping(pod):
            crashing[key] = crashing.get(key, 0) + 1
    return {
        key: decision.Pods(available.get(key, 0), crashing.get(key, 0))
        for key in available.keys() | crashing.keys()
    }


def _fingerprint(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


async def _apply(api: AsyncClient, manifest: dict[str, Any]) -> None:
    manifest["metadata"].setdefault("annotations", {})[APPLIED] = _fingerprint(manifest)
    await api.apply(codecs.from_dict(manifest), force=True)


async def apply_all(api: AsyncClient, manifests: Iterable[dict[str, Any]]) -> None:
    for manifest in manifests:
        await _apply(api, manifest)


async def _live_deployments(api: AsyncClient, release: resources.Release) -> dict[str, str]:
    """Deployment name -> the fingerprint it was applied with."""
    found = {}
    labels = _labels(release)
    async for item in api.list(Deployment, namespace=release.namespace, labels=labels):
        meta = item.metadata
        if meta is not None and meta.name:
            found[meta.name] = (meta.annotations or {}).get(APPLIED, "")
    return found


async def _route_weight(api: AsyncClient, release: resources.Release) -> int | None:
    try:
        route = await api.get(HTTPRoute, release.name, namespace=release.namespace)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    backends = route["spec"]["rules"][0]["backendRefs"]
    return int(backends[1]["weight"])


async def carry_out(
    api: AsyncClient,
    release: resources.Release,
    body: Mapping[str, Any],
    actions: Iterable[decision.Action],
) -> list[str]:
    """Apply `actions` in order; returns what was written (for the log)."""
    live = await _live_deployments(api, release)
    weight = await _route_weight(api, release) if release.spec.route else None
    written: list[str] = []
    for action in actions:
        if isinstance(action, decision.Apply):
            manifest = resources.deployment(
                release, action.role, action.template, action.revision, action.replicas
            )
            name = manifest["metadata"]["name"]
            if live.get(name) != _fingerprint(manifest):
                await _apply(api, manifest)
                live[name] = manifest["metadata"]["annotations"][APPLIED]
                written.append(f"Deployment/{name} {action.revision} x{action.replicas}")
        elif isinstance(action, decision.SetWeight):
            route = resources.http_route(release, action.weight)
            if route is not None and weight != action.weight:
                await _apply(api, route)
                weight = action.weight
                written.append(f"HTTPRoute/{release.name} canary {action.weight}%")
        elif isinstance(action, decision.RemoveCanary):
            name = resources.name_of(release, "canary")
            if name in live:
                await _delete_deployment(api, name, release.namespace)
                del live[name]
                written.append(f"Deployment/{name} deleted")
        else:
            await events.post(
                api, body, type=action.type, reason=action.reason, message=action.message
            )
    return written


async def _delete_deployment(api: AsyncClient, name: str, namespace: str) -> None:
    try:
        await api.delete(Deployment, name, namespace=namespace)
    except ApiError as error:
        if error.status.code != 404:
            raise
