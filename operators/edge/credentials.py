"""A node's bootstrap credential: a kubeconfig with a TokenRequest token, in a Secret.

The token is requested for the node's ServiceAccount and *bound to the bootstrap Secret itself*
(`boundObjectRef` kind Secret): the apiserver rejects it as soon as that Secret or the
ServiceAccount is gone, so deleting the EdgeNode (or only its Secret) revokes it at once, not at
expiry. It lives `token_ttl_s` (default 7 days) and the operator writes a fresh one into the same
Secret once less than `token_renew_fraction` of that is left; the previous token stays valid until
its own expiry, so an installer that re-reads the Secret within days never loses the node. The
Secret is created first (empty) because the binding needs its uid.
"""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import BoundObjectReference, TokenRequestSpec
from lightkube.models.core_v1 import Secret as SecretModel
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret, ServiceAccountToken
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import resources
from meridian.operators.edge.settings import EdgeNodeSettings

KEY = "kubeconfig"
SECRET_TYPE = "meridian.io/edge-bootstrap"
EXPIRES_ANNOTATION = "edge.meridian.io/token-expires-at"


class Endpoint(NamedTuple):
    """Where agents reach the API server: its URL and the CA bundle (base64 PEM)."""

    server: str
    ca_data: str | None


def endpoint(settings: EdgeNodeSettings) -> Endpoint:
    """The settings' endpoint, else the operator's own (KUBECONFIG or the in-cluster account)."""
    path = os.environ.get("KUBECONFIG")
    config = (KubeConfig.from_file(path) if path else KubeConfig.from_service_account()).get()
    if config is None:
        raise SystemExit("the EdgeNode operator found no current context in its kubeconfig")
    server = settings.agent_api_server or config.cluster.server
    ca_file = settings.agent_ca_file or config.cluster.certificate_auth
    if settings.agent_ca_file is None and config.cluster.certificate_auth_data:
        return Endpoint(server, config.cluster.certificate_auth_data)
    if ca_file:
        base = config.fname.parent if config.fname and not settings.agent_ca_file else Path()
        pem = (base / ca_file).read_bytes()
        return Endpoint(server, base64.b64encode(pem).decode())
    return Endpoint(server, None)


def kubeconfig(node: str, at: Endpoint, token: str) -> str:
    """The kubeconfig an agent's install writes to the node (pure)."""
    cluster: dict[str, Any] = {"server": at.server}
    if at.ca_data:
        cluster["certificate-authority-data"] = at.ca_data
    user = edgenode.service_account_name(node)
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "meridian", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [
                {
                    "name": node,
                    "context": {
                        "cluster": "meridian",
                        "user": user,
                        "namespace": resources.NAMESPACE,
                    },
                }
            ],
            "current-context": node,
        },
        sort_keys=False,
    )


def needs_renewal(
    expires_at: datetime.datetime | None, now: datetime.datetime, settings: EdgeNodeSettings
) -> bool:
    """No token yet, or less than the renewal fraction of its lifetime left (pure)."""
    if expires_at is None:
        return True
    left = (expires_at - now).total_seconds()
    return left < settings.token_ttl_s * settings.token_renew_fraction


def expiry_of(secret: Secret | None) -> datetime.datetime | None:
    if secret is None or not (secret.data or {}).get(KEY):
        return None
    stamp = (secret.metadata.annotations or {}).get(EXPIRES_ANNOTATION) if secret.metadata else None
    return datetime.datetime.fromisoformat(stamp) if stamp else None


async def fetch(api: AsyncClient, node: str) -> Secret | None:
    try:
        return await api.get(
            Secret, edgenode.bootstrap_secret_name(node), namespace=resources.NAMESPACE
        )
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise


async def issue(
    api: AsyncClient, node: str, owner_uid: str, at: Endpoint, settings: EdgeNodeSettings
) -> datetime.datetime:
    """Create the Secret if missing, request a token bound to it, write the kubeconfig into it."""
    name = edgenode.bootstrap_secret_name(node)
    secret = await fetch(api, node)
    if secret is None:
        meta = resources.metadata(node, name, owner_uid)
        created = codecs.from_dict(
            {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": SECRET_TYPE}
        )
        assert isinstance(created, Secret)
        secret = await api.create(created)
    assert secret.metadata is not None
    assert secret.metadata.uid is not None
    request = ServiceAccountToken(
        metadata=ObjectMeta(),
        spec=TokenRequestSpec(
            audiences=[],
            expirationSeconds=settings.token_ttl_s,
            boundObjectRef=BoundObjectReference(
                apiVersion="v1", kind="Secret", name=name, uid=secret.metadata.uid
            ),
        ),
    )
    issued = await api.create(
        request, name=edgenode.service_account_name(node), namespace=resources.NAMESPACE
    )
    if issued.status is None or not issued.status.token or not issued.status.expirationTimestamp:
        raise RuntimeError(f"TokenRequest for {node} returned no token")
    expires_at: datetime.datetime = issued.status.expirationTimestamp
    content = kubeconfig(node, at, issued.status.token)
    patch = SecretModel(
        metadata=ObjectMeta(annotations={EXPIRES_ANNOTATION: expires_at.isoformat()}),
        data={KEY: base64.b64encode(content.encode()).decode()},
    )
    await api.patch(
        Secret, name, patch.to_dict(), namespace=resources.NAMESPACE, patch_type=PatchType.MERGE
    )
    return expires_at
