"""The gateway honours Gateway API HTTPRoutes: each route's traffic split by its backends' weights.

In a cluster, the routes come from the API: every HTTPRoute whose `parentRefs` name this
gateway's Gateway (`MERIDIAN_GATEWAY_GATEWAY_NAME` / `_GATEWAY_NAMESPACE`), read again every
`httproute_refresh_s`. A route's PathPrefix rule sends each request to one of its backendRefs
(Services, `http://<name>.<namespace>.svc.cluster.local:<port>`) drawn with probability
weight/total, so a canary at 10 % gets 10 % of requests, not a replica ratio. Routes from
`MERIDIAN_GATEWAY_ROUTES` stay, for running outside a cluster; an HTTPRoute for the same prefix
takes its place. Everything else about a route (public, timeout, audience) is the settings' or
the defaults', as for a route from settings.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
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


def pick(backends: list[Backend], draw: Callable[[], float]) -> str | None:
    """One backend, with probability weight/total; None when every weight is 0."""
    total = sum(backend.weight for backend in backends)
    if total <= 0:
        return None
    point = draw() * total
    for backend in backends:
        point -= backend.weight
        if point < 0:
            return backend.base
    return backends[-1].base


class Table(proxy.RouteTable):
    """The settings' routes plus the HTTPRoutes'; `update` swaps the latter in one assignment."""

    def __init__(self, settings: Settings, draw: Callable[[], float] = random.random) -> None:
        super().__init__(settings)
        self._settings, self._draw = settings, draw
        self._weighted: dict[str, list[Backend]] = {}

    def update(self, weighted: dict[str, list[Backend]]) -> None:
        self._weighted = weighted

    def match(self, path: str) -> proxy.Route | None:
        weighted = self._weighted
        prefixes = sorted(weighted, key=len, reverse=True)
        prefix = next((p for p in prefixes if proxy._within(path, p)), None)
        static = super().match(path)
        if prefix is None or (static is not None and len(static.prefix) > len(prefix)):
            return static
        base = pick(weighted[prefix], self._draw)
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
