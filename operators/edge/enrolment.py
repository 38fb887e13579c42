"""Enrolled: the node's identity exists as rendered and its credential is fresh; revocation.

`ensure` applies only objects missing from (or differing in) the operator's indexes (the Lease
only when missing from the heartbeat book's listing: its renewals are the agent's), then issues or renews the bootstrap credential.
`revoke`, behind the finalizer, deletes all of it; the token dies with its Secret and account.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, NamedTuple

from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import credentials, heartbeat, owned, reasons, resources
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import reconciler


class Enrolment(NamedTuple):
    condition: reconciler.ConditionUpdate
    written: list[str]
    expires_at: datetime.datetime | None
    issued: bool
    """A token was written into the bootstrap Secret this time."""


async def ensure_namespace(api: AsyncClient) -> None:
    await api.apply(
        Namespace(
            metadata=ObjectMeta(
                name=resources.NAMESPACE, labels={"app.kubernetes.io/part-of": "meridian"}
            )
        ),
        force=True,
    )


def _failed(reason: str, message: str, written: list[str]) -> Enrolment:
    condition = reconciler.ConditionUpdate(reasons.ENROLLED, "False", reason, message)
    return Enrolment(condition, written, None, False)


async def ensure(
    api: AsyncClient,
    node: str,
    owner_uid: str,
    indexes: owned.Indexes,
    settings: EdgeNodeSettings,
    endpoint: credentials.Endpoint,
    site: str,
    book: heartbeat.Book,
    checked: dict[str, tuple[float, datetime.datetime | None]],
) -> Enrolment:
    """`checked`: when each node's Secret was last read and its expiry (updated here)."""
    written: list[str] = []
    await book.synced.wait()
    for manifest in resources.render(node, owner_uid, settings.grace_for(site)):
        meta = manifest["metadata"]
        if manifest["kind"] == "Lease":
            if book.exists(meta["name"]):
                continue
        else:
            live = owned.lookup(indexes, manifest["kind"], meta.get("namespace"), meta["name"])
            if live is not None and resources.contains(live, manifest):
                continue
        what = f"{manifest['kind']}/{meta['name']}"
        try:
            # The Lease is applied without force: a field the agent owns is never taken back.
            await api.apply(codecs.from_dict(manifest), force=manifest["kind"] != "Lease")
        except ApiError as error:
            return _failed(
                reasons.APPLY_FAILED, f"applying {what}: {error.status.message}", written
            )
        written.append(what)
    now = datetime.datetime.now(datetime.UTC)
    try:
        last = checked.get(node)
        if last is not None and time.monotonic() - last[0] < settings.credential_check_s:
            expires_at = last[1]
        else:
            expires_at = credentials.expiry_of(await credentials.fetch(api, node))
            checked[node] = (time.monotonic(), expires_at)
        issued = credentials.needs_renewal(expires_at, now, settings)
        if issued:
            expires_at = await credentials.issue(api, node, owner_uid, endpoint, settings)
            checked[node] = (time.monotonic(), expires_at)
    except ApiError as error:
        message = f"issuing the bootstrap credential: {error.status.message}"
        return _failed(reasons.TOKEN_FAILED, message, written)
    secret = f"{resources.NAMESPACE}/{edgenode.bootstrap_secret_name(node)}"
    message = (
        f"ServiceAccount {resources.NAMESPACE}/{edgenode.service_account_name(node)}, its Lease "
        f"and RBAC exist; credential in Secret {secret} (key {credentials.KEY}) "
        f"valid until {expires_at:%Y-%m-%dT%H:%MZ}"
    )
    condition = reconciler.ConditionUpdate(reasons.ENROLLED, "True", reasons.ISSUED, message)
    return Enrolment(condition, written, expires_at, issued)


async def revoke(api: AsyncClient, node: str) -> list[str]:
    """Delete the node's identity, credential first; returns what was still there."""
    account = edgenode.service_account_name(node)
    cluster_role = edgenode.cluster_role_name(node)
    namespaced: list[tuple[Any, str]] = [
        (Secret, edgenode.bootstrap_secret_name(node)),
        (ServiceAccount, account),
        (RoleBinding, account),
        (Role, account),
        (Lease, edgenode.lease_name(node)),
    ]
    deleted = []
    for kind, name in namespaced:
        if await _delete(api, kind, name, resources.NAMESPACE):
            deleted.append(f"{kind.__name__}/{name}")
    for kind in (ClusterRoleBinding, ClusterRole):
        if await _delete(api, kind, cluster_role, None):
            deleted.append(f"{kind.__name__}/{cluster_role}")
    return deleted


async def _delete(api: AsyncClient, kind: Any, name: str, namespace: str | None) -> bool:
    try:
        if namespace is None:
            await api.delete(kind, name)
        else:
            await api.delete(kind, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            return False
        raise
    return True
