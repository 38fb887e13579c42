"""API-key exchange for machine clients, bad input, the OpenAPI document, the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid

import asyncpg
import pytest

from meridian.core.registry import apikeys, connection
from meridian.services.auth import openapi as auth_openapi
from meridian.services.auth.settings import Settings as AuthSettings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests.integration.services.auth.conftest import AuthClient, MakeTenant, MakeUser


async def test_api_key_exchange_issues_a_machine_token(
    auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    response = await auth.post(
        "/v1/auth/token", headers={"Authorization": f"ApiKey {tenant.api_key.token}"}
    )
    assert response.status == 200
    body = await response.json()
    token = body["access_token"]
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    key = tokens.public_key(document["keys"][0])
    claims = tokens.verify(token, key, issuer="meridian-auth")
    assert claims.tenant_id == tenant.id
    assert claims.sub == f"apikey:{tenant.api_key.prefix}"
    assert "refresh_token" not in body


async def test_suspended_or_revoked_key_and_wrong_secret_are_refused(
    auth: AuthClient, make_tenant: MakeTenant, registry: asyncpg.Connection
) -> None:
    suspended, revoked, wrong = await make_tenant(), await make_tenant(), await make_tenant()
    await apikeys.set_suspended(registry, suspended.id, True)
    await apikeys.revoke(registry, revoked.id)
    forged = apikeys.ApiKey(wrong.api_key.prefix, "x" * 43).token
    expected = {suspended.api_key.token: 403, revoked.api_key.token: 401, forged: 401}
    for token, status in expected.items():
        response = await auth.post("/v1/auth/token", headers={"Authorization": f"ApiKey {token}"})
        assert response.status == status
        assert response.content_type == "application/problem+json"
    missing = await auth.post("/v1/auth/token")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("ApiKey")


async def test_suspended_tenant_key_is_refused(auth: AuthClient, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant(state="suspended")
    response = await auth.post(
        "/v1/auth/token", headers={"Authorization": f"ApiKey {tenant.api_key.token}"}
    )
    assert response.status == 403


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 400, None),
        (
            b'{"tenant": "a", "email": "a@b.c", "password": 12}',
            "application/json",
            422,
            "/password",
        ),
        (b'{"tenant": "a", "email": "a@b.c"}', "application/json", 422, "/password"),
        (
            b'{"tenant": "A B", "email": "a@b.c", "password": "p"}',
            "application/json",
            422,
            "/tenant",
        ),
        (
            b'{"tenant": "a", "email": "a@b.c", "password": "p", "x": 1}',
            "application/json",
            422,
            "/x",
        ),
        (b"tenant=a", "application/x-www-form-urlencoded", 415, None),
    ],
)
async def test_bad_login_input_is_a_problem_naming_the_field(
    auth: AuthClient, body: bytes, content_type: str, status: int, field: str | None
) -> None:
    response = await auth.post("/v1/auth/login", data=body, headers={"Content-Type": content_type})
    assert response.status == status
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]


async def test_oversized_body_is_413(auth: AuthClient) -> None:
    response = await auth.post(
        "/v1/auth/login",
        data=io.BytesIO(b"x" * (2 << 20)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413


async def test_openapi_json_serves_the_description(auth: AuthClient) -> None:
    """What the coverage test checks against the router is what clients get."""
    document = await (await auth.get("/openapi.json")).json()
    assert document == json.loads(json.dumps(auth_openapi.description()))
    assert "LoginRequest" in document["components"]["schemas"]


async def test_users_are_isolated_by_tenant_at_the_database(
    auth: AuthClient, make_user: MakeUser, registry: asyncpg.Connection
) -> None:
    """As the services' role, tenant A's setting shows A's users and refresh tokens, never B's."""
    a, b = await make_user(), await make_user()
    for user in (a, b):  # each gets a refresh token: an empty table would prove nothing
        response = await auth.post(
            "/v1/auth/login",
            json={"tenant": user.tenant.name, "email": user.email, "password": user.password},
        )
        assert response.status == 200, await response.text()
    async with registry.transaction():
        await registry.execute(f"SET LOCAL ROLE {connection.APP_ROLE}")
        await registry.execute(
            "SELECT set_config('meridian.tenant_id', $1, true)", str(a.tenant.id)
        )
        visible = await registry.fetch("SELECT id, tenant_id FROM platform.users")
        tokens_visible = await registry.fetch(
            "SELECT DISTINCT tenant_id FROM platform.refresh_tokens"
        )
        by_b = await registry.fetchrow("SELECT 1 FROM platform.users WHERE id = $1", b.id)
    assert [(row["id"], row["tenant_id"]) for row in visible] == [(a.id, a.tenant.id)]
    assert [row["tenant_id"] for row in tokens_visible] == [a.tenant.id]
    assert by_b is None


async def _create_user_cli(
    auth_settings: AuthSettings, *args: str, password: str
) -> tuple[int, str, str]:
    assert auth_settings.pg_dsn is not None
    assert auth_settings.platform_dsn is not None
    env = {
        **os.environ,
        "MERIDIAN_AUTH_PG_DSN": auth_settings.pg_dsn.get_secret_value(),
        "MERIDIAN_AUTH_PLATFORM_DSN": auth_settings.platform_dsn.get_secret_value(),
        "MERIDIAN_AUTH_ARGON2_MEMORY_KIB": "8192",
        "MERIDIAN_AUTH_ARGON2_TIME_COST": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meridian.services.auth", "create-user", *args,
        env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(f"{password}\n".encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode()


async def test_create_user_cli_prints_the_new_users_id(
    auth_settings: AuthSettings, make_tenant: MakeTenant, auth: AuthClient
) -> None:
    """The password comes on stdin (one starting with '-' too); --ensure brings an existing
    user to new scopes and a new password instead of failing."""
    tenant = await make_tenant()
    email = f"cli{uuid.uuid4().hex[:6]}@example.com"
    where = ("--tenant", tenant.name, "--email", email)
    status, out, err = await _create_user_cli(auth_settings, *where, password="-s3cret-pass")
    assert status == 0, err
    user_id = uuid.UUID(out)
    response = await auth.post(
        "/v1/auth/login", json={"tenant": tenant.name, "email": email, "password": "-s3cret-pass"}
    )
    assert response.status == 200
    claims = await response.json()
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    key = tokens.public_key(document["keys"][0])
    assert tokens.verify(claims["access_token"], key, issuer="meridian-auth").sub == str(user_id)

    status, _, err = await _create_user_cli(auth_settings, *where, password="again")
    assert status == 1
    assert "exists" in err
    status, out, err = await _create_user_cli(
        auth_settings, *where, "--scope=inventory:write", "--ensure", password="new-pass"
    )
    assert (status, out) == (0, str(user_id)), err
    response = await auth.post(
        "/v1/auth/login", json={"tenant": tenant.name, "email": email, "password": "new-pass"}
    )
    assert response.status == 200
    assert (await response.json())["scope"] == "inventory:write"
