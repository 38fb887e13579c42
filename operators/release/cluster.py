"""The release's side of the cluster: what its pods show, and carrying out a decision's actions.

`observe` reads the ReplicaSets and pods of one release (by its instance label) into the
machine's `World`: available replicas per (role, revision), which is the new ReplicaSet's own
count, pods crash-looping, and when each Ready pod became Ready. `carry_out` applies the actions in the order the machine gave
them, and `repair` the objects no action names (Services, PDB, HPA), every tick. Both write an
object only when the live one no longer `covers` what is rendered (missing, or a rendered field
edited by hand), so a settled release costs reads only and drift is repaired within a tick.

With autoscaling on, the HPA owns the stable Deployment's replicas: the operator applies it
without the field and only raises it (a merge patch, not an apply, so it never owns the field)
when it is below what the rollout needs, never lowering the HPA's count.
"""

from __future__ import annotations

import copy
import datetime
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
CRASH_LOOP_RESTARTS = 1
"""A container restarted this often and not Ready is crash looping. The machine asks only once
the progress deadline has passed, to name the reason: by then a pod that exits at start may be
back in its second run (restarted once, no CrashLoopBackOff shown), as on a loaded node."""


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


def crash_looping(pod: Pod) -> bool:
    for container in (pod.status.containerStatuses if pod.status else None) or []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            return True
        if container.restartCount >= CRASH_LOOP_RESTARTS and not container.ready:
            return True
    return False


def ready_since(pod: Pod) -> datetime.datetime | None:
    """When the pod last became Ready, if it is Ready and not on its way out."""
    if pod.metadata is not None and pod.metadata.deletionTimestamp is not None:
        return None
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "Ready" and condition.status == "True":
            return condition.lastTransitionTime
    return None


async def observe(
    api: AsyncClient, release: resources.Release
) -> dict[tuple[resources.Role, str], decision.Pods]:
    labels = _labels(release)
    available: dict[tuple[resources.Role, str], int] = {}
    crashing: dict[tuple[resources.Role, str], int] = {}
    ready: dict[tuple[resources.Role, str], list[datetime.datetime]] = {}
    async for replica_set in api.list(ReplicaSet, namespace=release.namespace, labels=labels):
        key = _key(replica_set.metadata.labels or {}) if replica_set.metadata else None
        if key is not None and replica_set.status is not None:
            available[key] = available.get(key, 0) + (replica_set.status.availableReplicas or 0)
    async for pod in api.list(Pod, namespace=release.namespace, labels=labels):
        key = _key(pod.metadata.labels or {}) if pod.metadata else None
        if key is None:
            continue
        if crash_looping(pod):
            crashing[key] = crashing.get(key, 0) + 1
        since = ready_since(pod)
        if since is not None:
            ready.setdefault(key, []).append(since)
    return {
        key: decision.Pods(
            available.get(key, 0), crashing.get(key, 0), tuple(sorted(ready.get(key, [])))
        )
        for key in available.keys() | crashing.keys()
    }


def _fingerprint(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def covers(live: Any, wanted: Any) -> bool:
    """Whether the live object still holds every field rendered: the apiserver's defaults and
    other managers' fields and items may be added, but nothing rendered may be missing or
    different (an empty map or list rendered matches a field the apiserver left out)."""
    if isinstance(wanted, Mapping):
        if live is None:
            return not wanted
        return isinstance(live, Mapping) and all(covers(live.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        if live is None:
            return not wanted
        # Each rendered item must be there; one another hand added is not ours to judge (a
        # server-side apply would keep it anyway, as another manager's).
        return isinstance(live, list) and all(
            any(covers(have, want) for have in live) for want in wanted
        )
    return bool(live == wanted)


async def _apply(api: AsyncClient, manifest: dict[str, Any]) -> dict[str, Any]:
    stamped = copy.deepcopy(manifest)
    stamped["metadata"].setdefault("annotations", {})[APPLIED] = _fingerprint(manifest)
    applied = await api.apply(codecs.from_dict(stamped), force=True)
    return _as_dict(applied)


def _as_dict(found: Any) -> dict[str, Any]:
    return dict(found.to_dict())


async def _live(api: AsyncClient, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = type(codecs.from_dict(dict(manifest)))
    meta = manifest["metadata"]
    try:
        return _as_dict(await api.get(kind, meta["name"], namespace=meta["namespace"]))
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise


async def repair(api: AsyncClient, manifests: Iterable[dict[str, Any]]) -> list[str]:
    """Apply each manifest the live object no longer covers (missing or edited by hand)."""
    written = []
    for manifest in manifests:
        if not covers(await _live(api, manifest), manifest):
            await _apply(api, manifest)
            written.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
    return written


async def _live_deployments(
    api: AsyncClient, release: resources.Release
) -> dict[str, dict[str, Any]]:
    found = {}
    labels = _labels(release)
    async for item in api.list(Deployment, namespace=release.namespace, labels=labels):
        meta = item.metadata
        if meta is not None and meta.name:
            found[meta.name] = _as_dict(item)
    return found


async def _raise_replicas(
    api: AsyncClient, live: Mapping[str, Any], namespace: str, floor: int
) -> bool:
    """At least `floor` replicas, by a merge patch (the HPA keeps owning the field)."""
    if int(live.get("spec", {}).get("replicas") or 0) >= floor:
        return False
    patch = {"spec": {"replicas": floor}}
    await api.patch(Deployment, live["metadata"]["name"], patch, namespace=namespace)
    return True


async def carry_out(
    api: AsyncClient,
    release: resources.Release,
    body: Mapping[str, Any],
    actions: Iterable[decision.Action],
) -> list[str]:
    """Apply `actions` in order; returns what was written (for the log)."""
    live = await _live_deployments(api, release)
    any_route = resources.http_route(release, 0)
    route_live = await _live(api, any_route) if any_route is not None else None
    written: list[str] = []
    autoscaled = release.spec.autoscaling.enabled
    for action in actions:
        if isinstance(action, decision.Apply):
            hpa_owns = autoscaled and action.role == "stable"
            manifest = resources.deployment(
                release,
                action.role,
                action.template,
                action.revision,
                None if hpa_owns else action.replicas,
            )
            name = manifest["metadata"]["name"]
            if not covers(live.get(name), manifest):
                live[name] = await _apply(api, manifest)
                written.append(f"Deployment/{name} {action.revision} x{action.replicas}")
            if hpa_owns and await _raise_replicas(
                api, live[name], release.namespace, action.replicas
            ):
                live[name].setdefault("spec", {})["replicas"] = action.replicas
                written.append(f"Deployment/{name} raised to {action.replicas}")
        elif isinstance(action, decision.SetWeight):
            route = resources.http_route(release, action.weight)
            if route is not None and not covers(route_live, route):
                route_live = await _apply(api, route)
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
