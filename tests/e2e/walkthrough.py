"""The README's walkthrough ("Ordering through the gateway"), request for request, from the host.

Login, an order with an Idempotency-Key (201, confirmed), the order read until fulfilled, its
shipment (a label_key), the stock: what a developer runs with curl against
`$MERIDIAN_GATEWAY_URL`. `Orders` places one order after another in a thread, recording every
answer, for as long as a rollout takes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, NamedTuple

from meridian.localplatform import pipeline

SKU = pipeline.DEMO_SKUS[0]
SHIP_TO = {
    "name": "Ada Lovelace",
    "street1": "1 Main St",
    "city": "Newark",
    "postal_code": "07102",
    "country": "US",
}


def call(method: str, url: str, body: Any = None, **headers: str) -> tuple[int | str, Any]:
    """(status, body); a request that got no HTTP answer is (the error's name, its text)."""
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return type(error).__name__, str(error)


class Walkthrough(NamedTuple):
    gateway_url: str
    tenant: str
    email: str
    password: str

    def login(self) -> dict[str, str]:
        """The README's first request; the Authorization header of its access token."""
        body = {"tenant": self.tenant, "email": self.email, "password": self.password}
        status, found = call("POST", f"{self.gateway_url}/v1/auth/login", body)
        assert status == 200, found
        return {"Authorization": f"Bearer {found['access_token']}"}

    def order(
        self, auth: dict[str, str], quantity: int = 1, key: str | None = None
    ) -> tuple[int | str, Any]:
        return call(
            "POST",
            f"{self.gateway_url}/v1/orders",
            {"lines": [{"sku": SKU, "quantity": quantity}], "ship_to": SHIP_TO},
            **auth,
            **{"Idempotency-Key": key or str(uuid.uuid4())},
        )

    def get(self, auth: dict[str, str], path: str) -> Any:
        status, found = call("GET", f"{self.gateway_url}{path}", **auth)
        assert status == 200, (path, status, found)
        return found

    def stock(self, auth: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = self.get(auth, f"/v1/inventory/stock/{SKU}")
        return found

    def states(self, auth: dict[str, str], ids: list[str]) -> dict[str, str]:
        return {order: self.get(auth, f"/v1/orders/{order}")["state"] for order in ids}

    def label_keys(self, auth: dict[str, str], order: str) -> list[str]:
        found = self.get(auth, f"/v1/fulfillment/shipments?order_id={order}")
        return [item["label_key"] for item in found["items"]]


RETRY_SAME_KEY = (502, 504)
"""The gateway's answers that say the upstream may have acted: "retry with the same
Idempotency-Key" (its API description), which a client does and the order is placed once."""


class Orders(threading.Thread):
    """One order (quantity 1) after another, every `interval_s`, until `stop`: each final answer
    kept as (status, body). An answer of `RETRY_SAME_KEY` is retried once with the same key, as
    the API tells a client to; those first answers are kept in `retried`."""

    def __init__(self, walkthrough: Walkthrough, auth: dict[str, str], interval_s: float) -> None:
        super().__init__(daemon=True)
        self.walkthrough, self.auth, self.interval_s = walkthrough, auth, interval_s
        self.answers: list[tuple[int | str, Any]] = []
        self.retried: list[tuple[int | str, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            key = str(uuid.uuid4())
            answer = self.walkthrough.order(self.auth, key=key)
            if answer[0] in RETRY_SAME_KEY:
                self.retried.append(answer)
                time.sleep(0.5)
                answer = self.walkthrough.order(self.auth, key=key)
            self.answers.append(answer)
            time.sleep(self.interval_s)

    def stop(self) -> list[tuple[int | str, Any]]:
        self.stopping.set()
        self.join(timeout=60)
        return self.answers
