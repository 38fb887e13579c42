"""The carrier API client: buy a shipment (idempotently), fetch its label, retry what is transient.

Speaks the EasyPost/Shippo-like protocol of `localplatform/carrier.py`. Each call is retried
inside the client with full-jitter backoff (`resilience.retry`) on what a retry can fix:
connection errors, timeouts, 5xx, 408 and 429. Errors are typed for the consumer: a request the
carrier calls invalid (400/422) is `CarrierRejected`, a `consumer.Permanent` (the message goes to
the DLQ at once); anything else that is left after the retries propagates, and the message goes
through the queue's own retries. The `Idempotency-Key` makes every retry, in here or from the
queue, land on the same carrier shipment.
"""

from __future__ import annotations

from typing import Any, Literal

import aiohttp
import pydantic
import yarl

from meridian.core.runtime import resilience
from meridian.services.kit import contracts
from meridian.services.kit.events import consumer

RETRYABLE_STATUS = frozenset({408, 429})


class CarrierUnavailable(Exception):
    """Transient: the carrier did not answer, timed out, or answered 5xx/408/429."""


class CarrierError(Exception):
    """The carrier refused in a way a retry later may fix (401 after a key rotation, say)."""


class CarrierRejected(consumer.Permanent):
    """The carrier says the request itself is invalid: retrying the message cannot help."""


class _Wire(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class Parcel(_Wire):
    weight_oz: float


class ShipmentRequest(_Wire):
    from_address: contracts.Address
    to_address: contracts.Address
    parcel: Parcel
    service: Literal["ground", "express", "overnight"]


class Rate(_Wire):
    amount: str
    currency: str


class Label(_Wire):
    format: Literal["PDF"]
    url: str


class CarrierShipment(_Wire):
    id: str
    tracking_number: str
    carrier: str
    service: str
    rate: Rate
    label: Label


class Client:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        attempts: int,
        backoff_base: float,
        backoff_cap: float,
    ) -> None:
        self.session = session
        self.base_url = yarl.URL(base_url)
        self.api_key = api_key
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    async def create_shipment(
        self, request: ShipmentRequest, *, idempotency_key: str
    ) -> CarrierShipment:
        body = await self._call(
            "POST",
            self.base_url / "v1" / "shipments",
            json=request.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
        )
        try:
            return CarrierShipment.model_validate_json(body)
        except pydantic.ValidationError as error:
            raise CarrierError(f"Unexpected shipment from the carrier: {error}") from error

    async def label(self, url: str) -> bytes:
        """The label's bytes; the API key goes only to the carrier's own origin."""
        target = yarl.URL(url)
        body = await self._call("GET", target, auth=same_origin(target, self.base_url))
        if not body.startswith(b"%PDF-"):
            raise CarrierError(f"The label at {url} is not a PDF")
        return body

    async def _call(
        self,
        method: str,
        url: yarl.URL,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> bytes:
        request_headers = dict(headers or {})
        if auth:
            request_headers["Authorization"] = f"Bearer {self.api_key}"

        async def once() -> bytes:
            try:
                async with self.session.request(
                    method, url, json=json, headers=request_headers
                ) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                raise CarrierUnavailable(
                    f"{method} {url}: {type(error).__name__}: {error}"
                ) from error
            summary = f"{method} {url.path}: {status} {body[:300]!r}"
            if status >= 500 or status in RETRYABLE_STATUS:
                raise CarrierUnavailable(summary)
            if status in (400, 422):
                raise CarrierRejected(summary)
            if status >= 400:
                raise CarrierError(summary)
            return body

        return await resilience.retry(
            once,
            attempts=self.attempts,
            base=self.backoff_base,
            cap=self.backoff_cap,
            retry_on=(CarrierUnavailable,),
        )


def same_origin(a: yarl.URL, b: yarl.URL) -> bool:
    """Scheme, host and port, the default port spelled out or not: yarl's `origin()` keeps an
    explicit `:80`, so `http://carrier:80` and the `http://carrier/...` label URL the carrier
    builds from the Host header compared unequal and the key was withheld (a 401)."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
