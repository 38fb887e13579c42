"""The operator's side of the PostgreSQL instance agent (`meridian.pg_agent`): read its state,
ask it to re-seed its server. The operator still decides everything over SQL (is the server a
streaming replica, is it fenced); the agent is only the hand that can reach a data directory."""

from __future__ import annotations

from typing import Any

import aiohttp
from lightkube import AsyncClient

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover import endpoints


class AgentError(Exception):
    """The agent refused or failed a request; the message is its problem detail."""


async def _call(
    api: AsyncClient,
    namespace: str,
    ref: api_types.InstanceAgent,
    timeout_s: float,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    secret = await endpoints.read_secret(api, namespace, ref.token_secret.name)
    if ref.token_secret.key not in secret:
        raise endpoints.MissingSecret(namespace, ref.token_secret.name, ref.token_secret.key)
    headers = {"Authorization": f"Bearer {secret[ref.token_secret.key]}"}
    url = ref.url.rstrip("/") + path
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.request(method, url, json=body, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json(content_type=None)
        if response.status >= 400:
            raise AgentError(f"{method} {url}: {response.status} {answer.get('detail', answer)}")
    return answer


async def state(
    api: AsyncClient, namespace: str, ref: api_types.InstanceAgent, timeout_s: float
) -> dict[str, Any]:
    """`{"server": {...}, "reseed": {...} | None}`."""
    return await _call(api, namespace, ref, timeout_s, "GET", "/v1/state")


async def reseed(
    api: AsyncClient,
    namespace: str,
    ref: api_types.InstanceAgent,
    timeout_s: float,
    request_id: str,
    primary_dsn: str,
) -> dict[str, Any]:
    """Start (or join, or read the outcome of) re-seed `request_id`: `{"decision", "reseed"}`."""
    body = {"id": request_id, "primaryConninfo": primary_dsn}
    return await _call(api, namespace, ref, timeout_s, "POST", "/v1/reseed", body)
