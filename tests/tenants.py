"""Tenants made by tests, and how tests look at what the Tenant operator provisioned."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import boto3
import jwt
import yaml
from lightkube import AsyncClient
from mypy_boto3_s3 import S3Client

from meridian.core import kube
from meridian.core.registry import tenants as registry_tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.core.registry.tenants import TenantRecord
from meridian.localplatform import pipeline, platform, s3_server
from meridian.services.kit import contracts
from tests import issuer

OWNED_RESOURCES = (
    "tenants",
    "namespaces",
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "roles",
    "rolebindings",
    "secrets",
)
"""The resources the Tenant operator writes: Tenants themselves and what it creates for one."""

_REQUEST = re.compile(r"^Request: (\w+) (\S+)$", re.M)
_IDEMPOTENCY_KEY = re.compile(r"meridian_idempotency_key:(\S+)")


def manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {
            "tier": "starter",
            "region": "us-east-1",
            "contacts": [{"name": "Ops", "email": f"ops@{name}.example", "role": "billing"}],
            **spec,
        },
    }


def apply(state: platform.PlatformState, *documents: dict[str, Any]) -> None:
    platform.kubectl(state, "apply", "-f", "-", stdin=yaml.safe_dump_all(documents))


async def status(client: AsyncClient, name: str) -> dict[str, Any]:
    found = await client.get(kube.RESOURCES["Tenant"], name)
    return dict(found.status or {})  # type: ignore[attr-defined]


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


async def registry(state: platform.PlatformState) -> asyncpg.Connection:
    return await asyncpg.connect(state.postgres_info.dsn("meridian_platform"))


GROWTH_RATE_LIMIT = RateLimit(500, 1000)


async def register(
    state: platform.PlatformState, name: str, rate_limit: RateLimit = GROWTH_RATE_LIMIT
) -> uuid.UUID:
    """The registry row the Tenant operator would write (the operator is not under test here);
    returns the tenant's registry id, the value of the gateway's tenant identity header."""
    conn = await registry(state)
    try:
        return await registry_tenants.upsert(
            conn, TenantRecord(name, "growth", "us-east-1", "", "active", {}, rate_limit)
        )
    finally:
        await conn.close()


def login(gateway_url: str, tenant: str, email: str, password: str) -> str:
    """An access token for the user, through the gateway (it lives a few minutes: log in again)."""
    request = urllib.request.Request(
        f"{gateway_url}/v1/auth/login",
        method="POST",
        data=json.dumps({"tenant": tenant, "email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.loads(response.read())["access_token"]
        return token


class Customer(NamedTuple):
    name: str
    tenant_id: uuid.UUID
    auth: dict[str, str]
    """The Authorization header of the tenant's logged-in demo user."""


async def customer(
    state: platform.PlatformState, order_pipeline: pipeline.Pipeline, run_dir: Path, prefix: str
) -> Customer:
    """A new tenant with the demo user and stock, logged in through the gateway."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    tenant_id = await register(state, name)
    email, password = pipeline.seed_demo(state, order_pipeline, run_dir, tenant=name)
    token = login(order_pipeline.gateway_url, name, email, password)
    return Customer(name, tenant_id, {"Authorization": f"Bearer {token}"})


def identity_headers(
    state: platform.PlatformState, tenant_id: uuid.UUID, token: str
) -> dict[str, str]:
    """What the gateway forwards for this token: to call a service directly, as the gateway."""
    claims = jwt.decode(token, options={"verify_signature": False})
    proof = issuer.as_gateway(state.run_dir, tenant_id, claims["sub"], claims["scopes"])
    return {
        "Authorization": f"Bearer {proof}",
        contracts.TENANT_HEADER: str(tenant_id),
        contracts.SUBJECT_HEADER: claims["sub"],
        contracts.SCOPES_HEADER: " ".join(claims["scopes"]),
    }


def s3(state: platform.PlatformState) -> S3Client:
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=state.s3_endpoint,
        region_name=s3_server.REGION,
        aws_access_key_id=s3_server.ACCESS_KEY,
        aws_secret_access_key=s3_server.SECRET_KEY,
    )
    return client


def _stripe_log(state: platform.PlatformState) -> str:
    return (Path(state.run_dir) / "logs" / "stripe-mock.log").read_text(errors="replace")


def stripe_requests(state: platform.PlatformState) -> list[tuple[str, str]]:
    """(method, path) of every call stripe-mock answered, from its verbose log."""
    return [(m.group(1), m.group(2)) for m in _REQUEST.finditer(_stripe_log(state))]


def stripe_request_data(state: platform.PlatformState) -> list[str]:
    """The parameters of every call, one line each (lines of concurrent calls interleave, so a
    line is matched by its own content, never by the `Request:` line above it)."""
    return [line for line in _stripe_log(state).splitlines() if line.startswith("Request data:")]


def customers_created(state: platform.PlatformState, name: str) -> int:
    """Customers the tenant has in Stripe: distinct idempotency keys of its customer creations.

    stripe-mock is stateless, so a creation repeated after a crash reaches it twice; real Stripe
    answers a repeated key with the first customer. Only a customer's metadata carries both the
    tenant's name and its id, and it carries the call's idempotency key as well."""
    marker = f"meridian_tenant:{name} meridian_tenant_id:"
    return len(
        {
            found.group(1)
            for line in stripe_request_data(state)
            if marker in line and (found := _IDEMPOTENCY_KEY.search(line))
        }
    )
