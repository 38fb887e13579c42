"""`kubectl meridian search reindex|status <tenant>`: on-call's handle on a tenant's search index.

Both call search's admin API through the gateway (`POST|GET /v1/search/reindex`, scope
`search:admin`) with a token of the tenant's (`--token`, default `$MERIDIAN_TOKEN`; the gateway
from `--gateway-url`, default `$MERIDIAN_GATEWAY_URL`, which `meridian dev env` exports). Search
takes the tenant from the token, never from a parameter, so the command first reads the Tenant
from the cluster and refuses a token of another tenant: the name typed is the tenant acted on.
`reindex` prints the run it started (or the one already running); with `--wait` it follows the
run until it is done or failed. `status` prints the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from lightkube import AsyncClient

from meridian.core import kube
from meridian.plugin import run, table

if TYPE_CHECKING:
    from meridian.plugin import Commands

RESOURCE = kube.RESOURCES["Tenant"]
PATH = "/v1/search/reindex"
FINISHED = ("done", "failed", "abandoned")


class Refused(Exception):
    """The command cannot go on (wrong token, the API's problem): one line on stderr, exit 1."""


def token_tenant(token: str) -> str | None:
    """The `tenant_id` claim of a token (read, not verified: the gateway verifies it)."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    tenant = claims.get("tenant_id")
    return tenant if isinstance(tenant, str) else None


def render(progress: dict[str, Any]) -> str:
    """A run as `status` prints it: one table row, then its error if it failed."""
    row = [
        progress.get("state"),
        progress.get("target_index"),
        progress.get("documents_copied"),
        progress.get("documents_in_target"),
        progress.get("started_at"),
        progress.get("finished_at"),
    ]
    headers = ["state", "index", "copied", "verified", "started", "finished"]
    text = table.render(headers, [row])
    return text + (f"error: {progress['error']}\n" if progress.get("error") else "")


async def call(gateway_url: str, token: str, method: str) -> dict[str, Any]:
    """One call of search's admin API; a problem answer becomes `Refused` with its detail."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.request(method, gateway_url.rstrip("/") + PATH, headers=headers) as response,
    ):
        body = await response.json(content_type=None)
        if response.status >= 400:
            detail = body.get("detail") if isinstance(body, dict) else body
            raise Refused(f"search answered {response.status}: {detail}")
        return dict(body)


async def _tenant_id(client: AsyncClient, name: str) -> str:
    tenant = await client.get(RESOURCE, name)
    tenant_id = (getattr(tenant, "status", None) or {}).get("tenantId")
    if not tenant_id:
        raise Refused(f"tenant/{name} has no tenant id yet (not provisioned)")
    return str(tenant_id)


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    gateway = args.gateway_url or os.environ.get("MERIDIAN_GATEWAY_URL")
    token = args.token or os.environ.get("MERIDIAN_TOKEN")
    if not gateway or not token:
        raise Refused("give --gateway-url and --token (or MERIDIAN_GATEWAY_URL, MERIDIAN_TOKEN)")
    return gateway, token


async def _checked(client: AsyncClient, args: argparse.Namespace) -> tuple[str, str]:
    gateway, token = _credentials(args)
    expected = await _tenant_id(client, args.tenant)
    if token_tenant(token) != expected:
        raise Refused(f"the token is not one of tenant/{args.tenant}'s ({expected})")
    return gateway, token


def _print(progress: dict[str, Any], output: str) -> None:
    if output == "json":
        json.dump(progress, sys.stdout, indent=2)
        print()
    else:
        print(render(progress), end="")


async def follow(gateway: str, token: str, *, every_s: float = 2.0) -> dict[str, Any]:
    """Polls the run until it is no longer running; returns its last progress."""
    while True:
        progress = await call(gateway, token, "GET")
        if progress.get("state") in FINISHED:
            return progress
        await asyncio.sleep(every_s)


async def _reindex(client: AsyncClient, args: argparse.Namespace) -> int:
    try:
        gateway, token = await _checked(client, args)
        progress = await call(gateway, token, "POST")
        print(f"tenant/{args.tenant}: reindex {progress['run_id']} {progress['state']}")
        if args.wait:
            progress = await follow(gateway, token)
        _print(progress, args.output)
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if progress.get("state") != "failed" else 1


async def _status(client: AsyncClient, args: argparse.Namespace) -> int:
    try:
        gateway, token = await _checked(client, args)
        _print(await call(gateway, token, "GET"), args.output)
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def register(commands: Commands, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("search", help="A tenant's search index: reindex, progress")
    leaves = group.add_subparsers(required=True, metavar="COMMAND")

    def leaf(name: str, help: str) -> argparse.ArgumentParser:
        parser = leaves.add_parser(name, help=help, parents=common)
        parser.add_argument("tenant", help="Tenant name")
        parser.add_argument("--gateway-url", default=None, help="default: $MERIDIAN_GATEWAY_URL")
        parser.add_argument(
            "--token", default=None, help="the tenant's token with search:admin ($MERIDIAN_TOKEN)"
        )
        parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
        return parser

    reindex = leaf("reindex", "Rebuild the tenant's index from the catalogue, swap it in")
    reindex.add_argument("--wait", action="store_true", help="follow the run until it ends")
    reindex.set_defaults(handler=run.kube_command(_reindex))
    leaf("status", "The tenant's last reindex").set_defaults(handler=run.kube_command(_status))
