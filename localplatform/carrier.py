"""A local shipping carrier, since real ones live on the public internet (EasyPost/Shippo-like).

Fulfillment buys labels here in dev and tests. Protocol (JSON, `Authorization: Bearer <key>` on
every `/v1` call, 401 without):
- `POST /v1/shipments` {from_address, to_address, parcel, service} with an optional
  `Idempotency-Key` header: 201 {id, tracking_number, carrier, service, rate, label {format, url},
  created_at}. The same key again returns the same shipment (201, `Idempotent-Replayed: true`);
  the same key with a different body is refused with 422. Bad bodies get 422 naming the fields.
- `GET /v1/labels/{id}.pdf`: the label, a real PDF (`carrier_label`).
Errors use the carriers' shape: `{"error": {"code", "message", "errors": [{field, message}]}}`.

For tests (no auth, loopback only): `POST /_faults` {fail_next: N, status: 503, delay_ms, match}
makes the next N `/v1` calls (only those whose path, body or Idempotency-Key contain `match`, when
given) answer `status`, and delays every `/v1` call by `delay_ms` until faults are reset
(`DELETE /_faults`); `GET /_stats` counts calls and shipments. State is in memory.

`python -m meridian.localplatform.carrier --port P` serves it; `start(supervisor, run_dir)` runs
that under the platform's supervisor and returns the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import hashlib
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic
from aiohttp import web
from aiohttp.typedefs import Handler

from meridian.localplatform import carrier_label, net
from meridian.localplatform.processes import ProcessSpec, Supervisor

API_KEY = "ck_test_meridianlocal"
"""The key the local platform's carrier accepts; the real one comes from a Secret in production."""
CARRIER = "MeridianPost"
RATES_CENTS = {"ground": 745, "express": 1890, "overnight": 3450}


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Address(_Model):
    name: str = pydantic.Field(min_length=1, max_length=100)
    street1: str = pydantic.Field(min_length=1, max_length=100)
    street2: str = pydantic.Field(default="", max_length=100)
    city: str = pydantic.Field(min_length=1, max_length=60)
    state: str = pydantic.Field(default="", max_length=30)
    postal_code: str = pydantic.Field(min_length=1, max_length=20)
    country: str = pydantic.Field(pattern=r"^[A-Z]{2}$")

    def lines(self) -> list[str]:
        region = " ".join(p for p in (self.city, self.state, self.postal_code) if p)
        return [p for p in (self.name, self.street1, self.street2, f"{region} {self.country}") if p]


class Parcel(_Model):
    weight_oz: float = pydantic.Field(gt=0, le=2400)
    length_in: float = pydantic.Field(default=10, gt=0, le=108)
    width_in: float = pydantic.Field(default=8, gt=0, le=108)
    height_in: float = pydantic.Field(default=4, gt=0, le=108)


class ShipmentRequest(_Model):
    from_address: Address
    to_address: Address
    parcel: Parcel
    service: Literal["ground", "express", "overnight"] = "ground"


class Faults(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    fail_next: int = pydantic.Field(default=0, ge=0)
    status: int = pydantic.Field(default=503, ge=400, le=599)
    delay_ms: int = pydantic.Field(default=0, ge=0, le=60_000)
    match: str = ""


@dataclass
class CarrierState:
    api_key: str
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, bytes] = field(default_factory=dict)
    by_key: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (fingerprint, id)
    faults: Faults = field(default_factory=Faults)
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    failed: int = 0


STATE = web.AppKey("carrier_state", CarrierState)


def _error(
    status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message, "errors": errors or []}}, status=status
    )


@web.middleware
async def _auth_and_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    state = request.app[STATE]
    route = request.match_info.route.resource
    state.calls[f"{request.method} {route.canonical if route else request.path}"] += 1
    if request.headers.get("Authorization", "") != f"Bearer {state.api_key}":
        return _error(401, "UNAUTHORIZED", "Missing or invalid API key (Authorization: Bearer)")
    faults = state.faults
    if faults.delay_ms:
        await asyncio.sleep(faults.delay_ms / 1000)
    if faults.fail_next > 0:
        body = await request.text()
        haystack = f"{request.path} {body} {request.headers.get('Idempotency-Key', '')}"
        if faults.match in haystack:
            faults.fail_next -= 1
            state.failed += 1
            return _error(faults.status, "INJECTED_FAULT", "Injected failure (POST /_faults)")
    return await handler(request)


def _fingerprint(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


async def create_shipment(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        document = await request.json()
        shipment = ShipmentRequest.model_validate(document)
    except json.JSONDecodeError:
        return _error(400, "BAD_REQUEST", "The body is not valid JSON")
    except pydantic.ValidationError as error:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in error.errors(include_url=False)
        ]
        return _error(422, "SHIPMENT.INVALID_PARAMS", "The shipment is invalid", fields)
    key = request.headers.get("Idempotency-Key", "")
    fingerprint = _fingerprint(document)
    if key and key in state.by_key:
        known_fingerprint, known_id = state.by_key[key]
        if known_fingerprint != fingerprint:
            return _error(
                422, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with different parameters"
            )
        return web.json_response(
            state.shipments[known_id], status=201, headers={"Idempotent-Replayed": "true"}
        )
    shipment_id = f"shp_{uuid.uuid4().hex}"
    tracking = "1ZM" + uuid.uuid4().hex[:15].upper()
    cents = RATES_CENTS[shipment.service]
    record = {
        "id": shipment_id,
        "object": "Shipment",
        "tracking_number": tracking,
        "carrier": CARRIER,
        "service": shipment.service,
        "rate": {"amount": f"{cents // 100}.{cents % 100:02d}", "currency": "USD"},
        "label": {"format": "PDF", "url": f"{request.url.origin()}/v1/labels/{shipment_id}.pdf"},
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
    }
    state.labels[shipment_id] = carrier_label.render(
        carrier_label.LabelText(
            shipment_id=shipment_id,
            tracking_number=tracking,
            carrier=CARRIER,
            service=shipment.service,
            sender=shipment.from_address.lines(),
            recipient=shipment.to_address.lines(),
            weight_oz=shipment.parcel.weight_oz,
        )
    )
    state.shipments[shipment_id] = record
    if key:
        state.by_key[key] = (fingerprint, shipment_id)
    return web.json_response(record, status=201)


async def get_label(request: web.Request) -> web.Response:
    label = request.app[STATE].labels.get(request.match_info["id"])
    if label is None:
        return _error(404, "NOT_FOUND", "No such label")
    return web.Response(body=label, content_type="application/pdf")


async def set_faults(request: web.Request) -> web.Response:
    try:
        request.app[STATE].faults = Faults.model_validate_json(await request.read())
    except pydantic.ValidationError as error:
        return _error(400, "BAD_REQUEST", str(error))
    return web.json_response(request.app[STATE].faults.model_dump())


async def reset_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults = Faults()
    return web.Response(status=204)


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"shipments": len(state.shipments), "failed": state.failed, "calls": dict(state.calls)}
    )


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(api_key: str = API_KEY) -> web.Application:
    app = web.Application(middlewares=[_auth_and_faults])
    app[STATE] = CarrierState(api_key=api_key)
    app.router.add_post("/v1/shipments", create_shipment)
    app.router.add_get("/v1/labels/{id}.pdf", get_label)
    app.router.add_post("/_faults", set_faults)
    app.router.add_delete("/_faults", reset_faults)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/healthz", healthz)
    return app


def start(supervisor: Supervisor, run_dir: Path) -> str:
    """Run the fake as a platform process on a sticky loopback port; returns its URL."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (port,) = net.sticky_ports(run_dir / "port", 1)
    supervisor.start(
        ProcessSpec(
            name="carrier",
            argv=[sys.executable, "-m", "meridian.localplatform.carrier", "--port", str(port)],
            # The child imports meridian exactly as this process does (editable install or not).
            env={"PYTHONPATH": os.pathsep.join(sys.path)},
            cwd=run_dir,
        )
    )
    url = f"http://{net.LOOPBACK}:{port}"
    supervisor.wait_ready("carrier", lambda: net.http_ok(f"{url}/healthz"), timeout=30)
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m meridian.localplatform.carrier")
    parser.add_argument("--host", default=net.LOOPBACK)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=API_KEY)
    args = parser.parse_args(argv)
    web.run_app(create_app(args.api_key), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
