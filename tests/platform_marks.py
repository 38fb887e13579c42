"""What a platform holds, and marks left in it: how a test proves another session never touched it.

`test_dev_shell_isolation` takes a snapshot of one platform (playing the developer's `make up`),
lets a nested pytest session leave marks in the platform it should have started itself, and then
looks for those marks, and for any other change, in the first one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from typing import Any

import asyncpg
import redis

from meridian.localplatform import platform, rabbitmq_server
from tests import tenants

# Cluster objects a test session could create or delete; not those controllers rewrite on their
# own (leases, events, pods, nodes).
_CLUSTER_SCOPED = "namespaces,customresourcedefinitions,clusterroles,clusterrolebindings"
_MERIDIAN_CLUSTER_SCOPED = "tenants,edgenodes,clusterkopfpeerings"
_NAMESPACED = (
    "configmaps,secrets,serviceaccounts,deployments,roles,rolebindings,networkpolicies,"
    "resourcequotas,limitranges,servicereleases,failoverplans"
)


def _rabbit(state: platform.PlatformState, method: str, path: str, body: Any = None) -> Any:
    info = state.rabbitmq_info
    secret = base64.b64encode(f"{rabbitmq_server.USER}:{info.password}".encode()).decode()
    request = urllib.request.Request(
        f"{info.management_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def _buckets(state: platform.PlatformState) -> list[str]:
    return sorted(bucket["Name"] for bucket in tenants.s3(state).list_buckets()["Buckets"])


def _queues(state: platform.PlatformState) -> list[str]:
    return sorted(queue["name"] for queue in _rabbit(state, "GET", "/api/queues"))


def _redis(state: platform.PlatformState) -> redis.Redis:
    return redis.Redis.from_url(str(state.redis_url))


async def _sql(state: platform.PlatformState, query: str) -> list[str]:
    conn = await asyncpg.connect(state.postgres_info.dsn("postgres"))
    try:
        return [str(row[0]) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def _cluster_objects(state: platform.PlatformState) -> dict[str, list[Any]]:
    """`kind/namespace/name` -> [uid, being deleted] (an object in a deleted namespace is too)."""
    items: list[dict[str, Any]] = []
    for kinds, scope in (
        (_CLUSTER_SCOPED, ()),
        (_MERIDIAN_CLUSTER_SCOPED, ()),
        (_NAMESPACED, ("-A",)),
    ):
        listing = platform.kubectl(state, "get", kinds, *scope, "-o", "json")
        items += json.loads(listing)["items"]
    deleting = {
        item["metadata"]["name"]
        for item in items
        if item["kind"] == "Namespace" and item["metadata"].get("deletionTimestamp")
    }
    objects = {}
    for item in items:
        meta = item["metadata"]
        namespace = meta.get("namespace", "")
        key = f"{item['kind']}/{namespace}/{meta['name']}"
        objects[key] = [meta["uid"], bool(meta.get("deletionTimestamp")) or namespace in deleting]
    return objects


def snapshot(state: platform.PlatformState) -> dict[str, Any]:
    """The platform's cluster objects and what its datastores hold at the top level."""
    return {
        "cluster": _cluster_objects(state),
        "databases": asyncio.run(_sql(state, "SELECT datname FROM pg_database ORDER BY 1")),
        "roles": asyncio.run(_sql(state, "SELECT rolname FROM pg_roles ORDER BY 1")),
        "buckets": _buckets(state),
        "queues": _queues(state),
    }


def cluster_changes(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, str]:
    """Objects created, deleted or replaced between two snapshots; ones already being deleted
    before may finish going."""
    changes = {key: "created" for key in after.keys() - before.keys()}
    for key, (uid, deleting) in before.items():
        if key not in after and not deleting:
            changes[key] = "deleted"
        elif key in after and after[key][0] != uid:
            changes[key] = "replaced"
    return changes


def leave_marks(state: platform.PlatformState, marker: str) -> None:
    """A namespace, a database, a Redis key, a bucket and a queue, each named `marker`."""
    platform.kubectl(state, "create", "namespace", marker)
    asyncio.run(_sql(state, f'CREATE DATABASE "{marker}"'))
    with _redis(state) as client:
        client.set(marker, "left by a test session")
    tenants.s3(state).create_bucket(Bucket=marker)
    _rabbit(state, "PUT", f"/api/queues/%2F/{marker}", {"durable": True, "auto_delete": False})


def marks_found(state: platform.PlatformState, marker: str) -> list[str]:
    """Where `leave_marks(…, marker)` left something in this platform."""
    found = []
    namespaces = platform.kubectl(state, "get", "namespaces", "-o", "name").split()
    if f"namespace/{marker}" in namespaces:
        found.append("namespace")
    if marker in asyncio.run(_sql(state, "SELECT datname FROM pg_database")):
        found.append("database")
    with _redis(state) as client:
        if client.exists(marker):
            found.append("redis key")
    if marker in _buckets(state):
        found.append("bucket")
    if marker in _queues(state):
        found.append("queue")
    return found
