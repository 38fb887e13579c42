"""From a plan's Secret references to things a step can use: DSNs and cluster clients.

A plan names Secrets in its own namespace; nothing secret ever lands in its spec or status. A
missing Secret or key is a `MissingSecret` naming it, which readiness reports as SecretsPresent=False.
"""

from __future__ import annotations

import base64
import contextlib
import urllib.parse
from collections.abc import AsyncIterator

import yaml
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Secret

from meridian.core.api.v1alpha1 import failoverplan as api_types

KUBECONFIG_KEY = "kubeconfig"
SERVICES_DSN_KEY = "servicesDsn"
"""Optional key of a credentials Secret: the URI the services dial, where it is not the operator's."""
FIELD_MANAGER = "meridian-operator"


class MissingSecret(Exception):
    """A Secret (or a key of it) the plan refers to is not there."""

    def __init__(self, namespace: str, name: str, key: str | None = None) -> None:
        what = f"Secret {namespace}/{name}" + (f" key {key!r}" if key else "")
        super().__init__(f"{what} not found")
        self.secret = name


async def read_secret(api: AsyncClient, namespace: str, name: str) -> dict[str, str]:
    try:
        secret = await api.get(Secret, name, namespace=namespace)
    except ApiError as error:
        if error.status.code == 404:
            raise MissingSecret(namespace, name) from error
        raise
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


async def dsn(api: AsyncClient, namespace: str, endpoint: api_types.DatabaseEndpoint) -> str:
    """The libpq URI of an endpoint: the Secret's `dsn` as it is, else built from username/password."""
    data = await read_secret(api, namespace, endpoint.credentials_secret)
    if data.get("dsn"):
        return data["dsn"]
    for key in ("username", "password"):
        if key not in data:
            raise MissingSecret(namespace, endpoint.credentials_secret, key)
    user = urllib.parse.quote(data["username"], safe="")
    password = urllib.parse.quote(data["password"], safe="")
    return f"postgresql://{user}:{password}@{endpoint.host}:{endpoint.port}/{endpoint.database}"


async def services_dsn(
    api: AsyncClient, namespace: str, endpoint: api_types.DatabaseEndpoint
) -> str:
    """What the services' database Secret gets: the credentials Secret's `servicesDsn` when it
    has one (the operator reaches the server through a tunnel or a local port the services do not
    share), else the operator's own URI."""
    data = await read_secret(api, namespace, endpoint.credentials_secret)
    if data.get(SERVICES_DSN_KEY):
        return data[SERVICES_DSN_KEY]
    return await dsn(api, namespace, endpoint)


@contextlib.asynccontextmanager
async def cluster(
    api: AsyncClient, namespace: str, ref: api_types.ClusterRef, timeout_s: float
) -> AsyncIterator[AsyncClient]:
    """A client of the cluster `ref` names: the operator's own when it names no kubeconfig."""
    if not ref.kubeconfig_secret:
        yield api
        return
    data = await read_secret(api, namespace, ref.kubeconfig_secret)
    if KUBECONFIG_KEY not in data:
        raise MissingSecret(namespace, ref.kubeconfig_secret, KUBECONFIG_KEY)
    config = KubeConfig.from_dict(yaml.safe_load(data[KUBECONFIG_KEY]))
    client = AsyncClient(config, field_manager=FIELD_MANAGER)
    try:
        yield client
    finally:
        await client.close()
