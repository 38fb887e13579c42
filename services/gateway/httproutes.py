"""The gateway honours Gateway API HTTPRoutes: each route's traffic split by its backends' weights.

In a cluster, the routes come from the API: every HTTPRoute whose `parentRefs` name this
gateway's Gateway (`MERIDIAN_GATEWAY_GATEWAY_NAME` / `_GATEWAY_NAMESPACE`), read again every
`httproute_refresh_s`. A route's PathPrefix rule sends each request to one of its backendRefs
(Services, `http://<name>.<namespace>.svc.cluster.local:<port>`) in proportion to their weights,
exactly: a canary at 10 % gets one request in every ten, not a replica ratio and not a random
draw (at 1,000 requests a draw strays past +-3 % at a 50 % weight one run in twenty). Routes from
`MERIDIAN_GATEWAY_ROUTES` stay, for running outside a cluster; an HTTPRoute for the same prefix
takes its place. Everything else about a route (public, timeout, audience) is the settings' or
the defaults', as for a route from settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web
from lightkube import AsyncClient
from lightkube.generic_resource import create_namespaced_resource

from meridian.core import kube
from meridian.core.runtime import periodic
from meridian.services.gateway import proxy
from meridian.services.gateway.settings import Settings

HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")


class Backend(NamedTuple):
    base: str
    weight: int


def _attached(route: Mapping[str, Any], name: str, namespace: str) -> bool:
    own = route["metadata"].get("namespace")
    return any(
        parent.get("name") == name and parent.get("namespace", own) == namespace
        for parent in (route.get("spec") or {}).get("parentRefs") or []
    )


def split(
    routes: Iterable[Mapping[str, Any]], gateway: str, namespace: str
) -> dict[str, list[Backend]]:
    """Path prefix -> weighted backends, from the HTTPRoutes attached to this gateway."""
    found: dict[str, list[Backend]] = {}
    for route in routes:
        if not _attached(route, gateway, namespace):
            continue
        own = route["metadata"].get("namespace", "default")
        for rule in (route.get("spec") or {}).get("rules") or []:
            backends = [
                Backend(
                    f"http://{ref['name']}.{ref.get('namespace', own)}.svc.cluster.local:{ref['port']}",
                    int(ref.get("weight", 1)),
                )
                for ref in rule.get("backendRefs") or []
            ]
            for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                path = match.get("path") or {}
                if path.get("type", "PathPrefix") == "PathPrefix" and backends:
                    found["/" + str(path.get("value", "/")).strip("/")] = backends
    return found


class Rotation:
    """Smooth weighted round-robin (nginx's): in every `total` consecutive picks each backend is
    picked exactly `weight` times, spread out (90/10 sends the canary one request in each ten,
    not ten in a row). Backends of weight 0 are never picked; `pick` is None when all are 0."""

    def __init__(self, backends: Sequence[Backend]) -> None:
        self.backends = tuple(backends)
        self._live = [backend for backend in self.backends if backend.weight > 0]
        self._total = sum(backend.weight for backend in self._live)
        self._current = [0] * len(self._live)

    def pick(self) -> str | None:
        if not self._live:
            return None
        chosen = 0
        for index, backend in enumerate(self._live):
            self._current[index] += backend.weight
            if self._current[index] > self._current[chosen]:
                chosen = index
        self._current[chosen] -= self._total
        return self._live[chosen].base


class Table(proxy.RouteTable):
    """The settings' routes plus the HTTPRoutes'; `update` swaps the latter in one assignment."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._settings = settings
        self._rotations: dict[str, Rotation] = {}

    def update(self, weighted: Mapping[str, Sequence[Backend]]) -> None:
        """A prefix whose backends and weights are unchanged keeps its rotation: restarting it at
        every refresh would send each refresh interval's first requests to the heaviest backend
        only (a 10 % canary seeing fewer than ten requests per interval would get none)."""
        current = self._rotations
        self._rotations = {
            prefix: (
                current[prefix]
                if prefix in current and current[prefix].backends == tuple(backends)
                else Rotation(backends)
            )
            for prefix, backends in weighted.items()
        }

    def match(self, path: str) -> proxy.Route | None:
        rotations = self._rotations
        prefixes = sorted(rotations, key=len, reverse=True)
        prefix = next((p for p in prefixes if proxy._within(path, p)), None)
        static = super().match(path)
        if prefix is None or (static is not None and len(static.prefix) > len(prefix)):
            return static
        base = rotations[prefix].pick()
        if base is None:
            return static
        if static is not None and static.prefix == prefix:
            return static._replace(base=base)
        public = any(proxy._within(prefix, p) for p in self._settings.public_prefixes)
        return proxy.Route(
            prefix=prefix,
            base=base,
            timeout=aiohttp.ClientTimeout(
                total=self._settings.upstream_timeout_s,
                connect=self._settings.upstream_connect_timeout_s,
            ),
            public=public,
            audience=prefix.rsplit("/", 1)[-1],
        )


async def refresh(api: AsyncClient, table: Table, settings: Settings) -> None:
    routes = [route async for route in api.list(HTTPRoute, namespace="*")]
    name, namespace = settings.gateway_name or "", settings.gateway_namespace
    table.update(split(routes, name, namespace))


def context(settings: Settings, table: Table) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: the routes read at start, then every `httproute_refresh_s`."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        api = kube.client()
        try:
            async with periodic.running(
                lambda: refresh(api, table, settings),
                every_s=settings.httproute_refresh_s,
                name="gateway-httproutes",
                failure="HTTPRoutes not read",
            ):
                yield
        finally:
            await api.close()

    return run
