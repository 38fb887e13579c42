"""What the webhook looks up: PDBs, NetworkPolicies and Secrets in the apiserver, tenant names in
the platform registry, and the live policy modes (re-read from their ConfigMap on a timer, so an
admission never waits on it).

Every lookup is bounded by `lookup_timeout_s`; a lookup that fails raises `LookupFailed`, which the
policy concerned reports as "could not be checked" (denied in Enforce: failing closed, as the
registration's `failurePolicy: Fail` does when the webhook itself is down).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg
import httpx2 as httpx
from lightkube import ApiError, AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Secret
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget

from meridian.core.policy import catalogue
from meridian.core.policy.catalogue import Mode
from meridian.core.registry import tenants
from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.webhooks import recent

log = meridian_logging.get_logger("meridian.webhooks.world")
T = TypeVar("T")

# What a namespace (DNS label) and a Secret (DNS subdomain) may be called; anything else cannot
# exist, and is never put into an apiserver URL.
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


class LookupFailed(Exception):
    """The apiserver or the registry did not answer in time, or refused."""


class World:
    def __init__(
        self,
        kube: AsyncClient,
        registry: db.Pool | None,
        timeout_s: float,
        cache_ttl_s: float = 2.0,
    ) -> None:
        self.kube = kube
        self.registry = registry
        self.timeout_s = timeout_s
        self._pdbs: recent.Recent[list[dict[str, Any]]] = recent.Recent(cache_ttl_s)
        self._network_policies: recent.Recent[bool] = recent.Recent(cache_ttl_s)
        self.modes: dict[str, Mode] = catalogue.live_modes(None)

    async def _bounded(self, what: str, work: Awaitable[T]) -> T:
        """`work`'s result within the lookup timeout; failures of the peer become LookupFailed."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await work
        except TimeoutError:
            raise LookupFailed(f"{what}: no answer within {self.timeout_s}s") from None
        except (ApiError, OSError, httpx.HTTPError, asyncpg.PostgresError) as error:
            raise LookupFailed(f"{what}: {type(error).__name__}: {error}"[:300]) from error

    @staticmethod
    def _namespace(namespace: str) -> str:
        if not _LABEL.match(namespace):
            raise LookupFailed(f"{namespace[:80]!r} is not a namespace name")
        return namespace

    async def pdbs(self, namespace: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The namespace's PDBs; from the last `cache_ttl_s` unless `fresh` (see `recent`)."""
        self._namespace(namespace)

        async def fetch() -> list[dict[str, Any]]:
            return [
                p.to_dict() async for p in self.kube.list(PodDisruptionBudget, namespace=namespace)
            ]

        lookup = self._pdbs.get(namespace, fetch, fresh=fresh)
        return await self._bounded(f"listing PodDisruptionBudgets in {namespace}", lookup)

    async def has_network_policy(self, namespace: str, *, fresh: bool = False) -> bool:
        self._namespace(namespace)

        async def fetch() -> bool:
            async for _policy in self.kube.list(NetworkPolicy, namespace=namespace, chunk_size=1):
                return True
            return False

        lookup = self._network_policies.get(namespace, fetch, fresh=fresh)
        return await self._bounded(f"listing NetworkPolicies in {namespace}", lookup)

    async def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment a scale request addresses (never cached: its labels decide)."""
        self._namespace(namespace)

        async def fetch() -> dict[str, Any]:
            found: dict[str, Any] = (
                await self.kube.get(Deployment, name, namespace=namespace)
            ).to_dict()
            return found

        return await self._bounded(f"reading Deployment {namespace}/{name}", fetch())

    async def secret_exists(self, namespace: str, name: str) -> bool:
        self._namespace(namespace)
        if not _SUBDOMAIN.match(name):
            return False  # no Secret can have that name

        async def fetch() -> bool:
            try:
                await self.kube.get(Secret, name, namespace=namespace)
            except ApiError as error:
                if error.status.code == 404:
                    return False
                raise
            return True

        return await self._bounded(f"reading Secret {namespace}/{name}", fetch())

    async def tenant_registered(self, name: str) -> bool:
        registry = self.registry
        if registry is None:
            raise LookupFailed(
                "the platform registry is not configured (MERIDIAN_WEBHOOKS_PLATFORM_DSN)"
            )

        async def fetch() -> bool:
            async with registry.acquire() as conn:
                return await tenants.is_registered(conn, name)

        return await self._bounded("reading the platform registry", fetch())

    async def refresh_modes(self) -> None:
        """Re-read the modes ConfigMap; a missing one means every policy's default."""
        try:
            configmap = await self.kube.get(
                ConfigMap, catalogue.MODES_CONFIGMAP, namespace=catalogue.MODES_NAMESPACE
            )
            data: dict[str, str] | None = configmap.data
        except ApiError as error:
            if error.status.code != 404:
                raise
            data = None
        modes = catalogue.live_modes(data)
        if modes != self.modes:
            log.info("Policy modes changed", modes={k: str(v) for k, v in modes.items()})
        self.modes = modes
