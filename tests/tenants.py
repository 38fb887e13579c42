"""Tenants made by tests, and how tests look at what the Tenant operator provisioned."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import yaml
from lightkube import AsyncClient
from mypy_boto3_s3 import S3Client

from meridian.core import kube
from meridian.localplatform import platform, s3_server

_REQUEST = re.compile(r"^Request: (\w+) (\S+)$", re.M)


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


def s3(state: platform.PlatformState) -> S3Client:
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=state.s3_endpoint,
        region_name=s3_server.REGION,
        aws_access_key_id=s3_server.ACCESS_KEY,
        aws_secret_access_key=s3_server.SECRET_KEY,
    )
    return client


def stripe_requests(state: platform.PlatformState) -> list[tuple[str, str, str]]:
    """(method, path, request data) of every call stripe-mock answered, from its verbose log."""
    log = (Path(state.run_dir) / "logs" / "stripe-mock.log").read_text(errors="replace")
    matches = list(_REQUEST.finditer(log))
    found = []
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        block = log[match.end() : following.start() if following else len(log)]
        data = next((line for line in block.splitlines() if line.startswith("Request data:")), "")
        found.append((match.group(1), match.group(2), data))
    return found


def customers_created(state: platform.PlatformState, name: str) -> int:
    """Customer creations for the tenant that reached Stripe (metadata names the tenant)."""
    return sum(
        1
        for method, path, data in stripe_requests(state)
        if method == "POST" and path == "/v1/customers" and f"meridian_tenant:{name} " in data
    )
