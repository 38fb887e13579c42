"""Orders' client of inventory's reservation API, behind a circuit breaker.

Connection failures (the request never reached inventory, or the peer hung up) are retried with
full-jitter backoff: reservations are idempotent per order id, so a retry cannot reserve twice.
Timeouts, 5xx answers and connection failures that outlast the retries count against the breaker;
when it is open, calls fail at once with `Unavailable` instead of waiting on a dead peer.
Answers are mapped onto the few outcomes the order flow distinguishes. Every call carries an
internal token orders signs for inventory (`identity.forward`): for the user the order is placed
for, or for the sweeper when no request is behind it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import aiohttp
import pydantic

from meridian.core.runtime import problems, resilience
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity, signing

AUDIENCE = "inventory"


class Reserved(NamedTuple):
    allocations: list[contracts.Allocation]


class Insufficient(NamedTuple):
    sku: str
    detail: str


class UnknownSkus(NamedTuple):
    errors: list[problems.FieldError]


class Released(NamedTuple):
    detail: str


class Unavailable(NamedTuple):
    reason: str


Outcome = Reserved | Insufficient | UnknownSkus | Released | Unavailable


class Failed(Exception):
    """Inventory did not answer usefully (timeout, 5xx, connection): counts against the breaker."""


class Inventory:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        breaker: resilience.CircuitBreaker,
        *,
        signer: signing.Signer,
        timeout: float,
        attempts: int,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker
        self.signer = signer
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.attempts = attempts

    async def _call(
        self, method: str, path: str, caller: identity.Identity, body: Any = None
    ) -> tuple[int, Any]:
        async def attempt() -> tuple[int, Any]:
            try:
                async with self.session.request(
                    method,
                    self.base_url + path,
                    json=body,
                    headers=identity.forward(self.signer, caller, audience=AUDIENCE),
                    timeout=self.timeout,
                ) as response:
                    raw = await response.read()
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError):
                raise  # retried below
            except (aiohttp.ClientError, TimeoutError) as error:
                raise Failed(f"{type(error).__name__}: {error}") from error
            if response.status >= 500:
                raise Failed(f"inventory answered {response.status}")
            return response.status, json.loads(raw) if raw else None

        async def retried() -> tuple[int, Any]:
            try:
                return await resilience.retry(
                    attempt,
                    attempts=self.attempts,
                    base=0.05,
                    cap=0.5,
                    retry_on=(aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError),
                )
            except aiohttp.ClientError as error:
                raise Failed(f"{type(error).__name__}: {error}") from error

        return await self.breaker.call(retried)

    async def reserve(
        self, caller: identity.Identity, order_id: uuid.UUID, lines: Sequence[contracts.Line]
    ) -> Outcome:
        request = contracts.ReservationRequest(order_id=order_id, lines=list(lines))
        try:
            status, body = await self._call(
                "POST", "/v1/inventory/reservations", caller, request.model_dump(mode="json")
            )
        except (Failed, resilience.CircuitOpen) as error:
            return Unavailable(str(error))
        kind = body.get("type") if isinstance(body, dict) else None
        if status in (200, 201):
            try:
                return Reserved(contracts.Reservation.model_validate(body).allocations)
            except pydantic.ValidationError as error:
                return Unavailable(f"inventory answered an invalid reservation: {error}")
        if status == 409 and kind == contracts.INSUFFICIENT_STOCK:
            return Insufficient(str(body.get("sku", "")), str(body.get("detail", "")))
        if status == 409 and kind == contracts.RESERVATION_RELEASED:
            return Released(str(body.get("detail", "")))
        if status == 422 and kind == contracts.UNKNOWN_SKU:
            errors = [problems.FieldError(e["field"], e["message"]) for e in body["errors"]]
            return UnknownSkus(errors)
        # Anything else is a contract mismatch between us and inventory, not the client's fault.
        return Unavailable(f"inventory answered {status}: {str(body)[:200]}")

    async def release(self, caller: identity.Identity, order_id: uuid.UUID) -> None:
        """Raises `Failed` or `CircuitOpen` when the release did not happen (retry later)."""
        status, body = await self._call("DELETE", f"/v1/inventory/reservations/{order_id}", caller)
        if status not in (204, 409):  # 409: shipped already, nothing left to give back
            raise Failed(f"inventory answered {status}: {str(body)[:200]}")
