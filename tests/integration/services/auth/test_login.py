"""Login, refresh rotation and revocation against real PostgreSQL and Redis."""

from __future__ import annotations

import statistics
import time
import uuid

import jwt
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from meridian.services.auth.app import create_app
from meridian.services.auth.settings import Settings as AuthSettings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests.integration.services.auth.conftest import AuthClient, MakeTenant, MakeUser, User
from tests.integration.services.own_redis import RedisServer


async def login(auth: AuthClient, user: User, password: str | None = None) -> dict[str, object]:
    response = await auth.post(
        "/v1/auth/login",
        json={
            "tenant": user.tenant.name,
            "email": user.email,
            "password": password or user.password,
        },
    )
    assert response.status == 200, await response.text()
    body: dict[str, object] = await response.json()
    return body


async def verify_with_jwks(auth: AuthClient, token: str) -> contracts.AccessClaims:
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    keys = {jwk["kid"]: tokens.public_key(jwk) for jwk in document["keys"]}
    return tokens.verify(token, keys[tokens.kid_of(token)], issuer="meridian-auth")


async def test_login_issues_a_token_that_verifies_against_the_served_jwks(
    auth: AuthClient, make_user: MakeUser
) -> None:
    user = await make_user(scopes=["orders:read"])
    body = await login(auth, user)
    claims = await verify_with_jwks(auth, str(body["access_token"]))
    assert claims.sub == str(user.id)
    assert claims.tenant_id == user.tenant.id
    assert claims.scopes == ["orders:read"]
    assert 0 < claims.exp - claims.iat <= 900
    assert body["token_type"] == "Bearer"
    assert str(body["refresh_token"]).startswith("mrt_")


async def test_first_start_creates_one_signing_key(auth: AuthClient) -> None:
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    assert len(document["keys"]) == 1
    assert document["keys"][0]["alg"] == "RS256"
    assert "d" not in document["keys"][0]  # public parts only


async def test_wrong_password_and_unknown_email_answer_alike(
    auth: AuthClient, make_user: MakeUser
) -> None:
    """No user enumeration: same status, same body, comparable time (argon2 runs either way)."""
    user = await make_user()

    async def attempt(email: str, tenant: str) -> tuple[int, dict[str, object], float]:
        started = time.perf_counter()
        response = await auth.post(
            "/v1/auth/login", json={"tenant": tenant, "email": email, "password": "wrong"}
        )
        elapsed = time.perf_counter() - started
        body = await response.json()
        body.pop("request_id")
        return response.status, body, elapsed

    wrong_password = [await attempt(user.email, user.tenant.name) for _ in range(5)]
    unknown_email = [await attempt("nobody@example.com", user.tenant.name) for _ in range(5)]
    unknown_tenant = [await attempt(user.email, "no-such-tenant") for _ in range(5)]
    for status, body, _ in wrong_password + unknown_email + unknown_tenant:
        assert status == 401
        assert body == wrong_password[0][1]
    known = statistics.median(t for _, _, t in wrong_password)
    for series in (unknown_email, unknown_tenant):
        assert statistics.median(t for _, _, t in series) > known / 3


async def test_refresh_rotates_and_a_replayed_token_revokes_the_login(
    auth: AuthClient, make_user: MakeUser
) -> None:
    user = await make_user()
    first = await login(auth, user)
    refreshed = await auth.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status == 200
    second = await refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await verify_with_jwks(auth, second["access_token"])).sub == str(user.id)
    # The first token again: a replay. Refused, and its successor dies with it.
    replay = await auth.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status == 401
    assert replay.content_type == "application/problem+json"
    after = await auth.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status == 401
    # Another login of the same user is another family, untouched.
    third = await login(auth, user)
    again = await auth.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert again.status == 200


async def test_refresh_token_of_unknown_shape_or_tenant_is_refused(auth: AuthClient) -> None:
    for token in ("garbage", f"mrt_{uuid.uuid4().hex}_{'x' * 43}"):
        response = await auth.post("/v1/auth/refresh", json={"refresh_token": token})
        assert response.status == 401


async def test_revoke_lists_the_jti_in_redis_for_the_tokens_remaining_lifetime(
    auth: AuthClient, make_user: MakeUser, auth_settings: AuthSettings
) -> None:
    user = await make_user()
    body = await login(auth, user)
    access = str(body["access_token"])
    claims = jwt.decode(access, options={"verify_signature": False})
    response = await auth.post(
        "/v1/auth/revoke",
        headers={"Authorization": f"Bearer {access}"},
        json={"refresh_token": body["refresh_token"]},
    )
    assert response.status == 204
    assert auth_settings.redis_url is not None
    redis = aioredis.Redis.from_url(auth_settings.redis_url.get_secret_value())
    try:
        ttl = await redis.ttl(contracts.revoked_token_key(claims["jti"]))
    finally:
        await redis.aclose()
    assert 0 < ttl <= auth_settings.access_token_ttl_s + auth_settings.clock_skew_s <= 305
    # The refresh token's login ended with it.
    refreshed = await auth.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status == 401


async def test_revoke_needs_a_valid_token(auth: AuthClient) -> None:
    response = await auth.post("/v1/auth/revoke", headers={"Authorization": "Bearer nope"})
    assert response.status == 401


async def test_suspended_tenants_user_is_refused_after_the_password_check(
    auth: AuthClient, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    user = await make_user(await make_tenant(state="suspended"))
    response = await auth.post(
        "/v1/auth/login",
        json={"tenant": user.tenant.name, "email": user.email, "password": user.password},
    )
    assert response.status == 403


async def test_login_attempts_per_account_are_bounded_whether_or_not_it_exists(
    auth: AuthClient, make_user: MakeUser, auth_settings: AuthSettings
) -> None:
    """After the burst, even the right password gets 429 (with Retry-After) for that account;
    an unknown email is throttled alike (no enumeration), and another account is untouched."""
    user, other = await make_user(), await make_user()
    ghost = {"tenant": user.tenant.name, "email": f"ghost{uuid.uuid4().hex[:6]}@example.com"}
    for credentials in ({"tenant": user.tenant.name, "email": user.email}, ghost):
        statuses = [
            (await auth.post("/v1/auth/login", json={**credentials, "password": "wrong"})).status
            for _ in range(auth_settings.login_attempt_burst)
        ]
        assert statuses == [401] * auth_settings.login_attempt_burst
        refused = await auth.post("/v1/auth/login", json={**credentials, "password": user.password})
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await refused.json())["title"] == "Too Many Requests"
    await login(auth, other)


def _address() -> str:
    """An address of the documentation range, unique to the test run."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def test_login_attempts_per_address_are_bounded_across_accounts(
    auth_settings: AuthSettings, make_user: MakeUser
) -> None:
    """Spraying: one address trying one password on many accounts gets 429 once the address's
    burst is spent, though no account's own burst is. The address is the one the gateway appended
    to X-Forwarded-For, so entries the client wrote itself do not move it; another address still
    logs in."""
    settings = auth_settings.model_copy(
        update={"login_address_burst": 3, "login_address_attempts_per_minute": 1.0}
    )
    user = await make_user()
    sprayer = _address()
    async with TestClient(TestServer(create_app(settings))) as auth:
        statuses = []
        for n in range(4):
            response = await auth.post(
                "/v1/auth/login",
                json={"tenant": user.tenant.name, "email": f"v{n}@example.com", "password": "x"},
                headers={"X-Forwarded-For": f"{_address()}, {sprayer}"},
            )
            statuses.append(response.status)
        assert statuses == [401, 401, 401, 429]
        assert "address" in (await response.json())["detail"]
        assert int(response.headers["Retry-After"]) >= 1
        response = await auth.post(
            "/v1/auth/login",
            json={"tenant": user.tenant.name, "email": user.email, "password": user.password},
            headers={"X-Forwarded-For": _address()},
        )
        assert response.status == 200, await response.text()
        metrics = await (await auth.get("/metrics")).text()
    assert 'meridian_auth_login_throttled_total{by="address"} 1.0' in metrics
    assert 'meridian_auth_login_throttled_total{by="account"}' not in metrics


async def test_login_attempts_pass_unthrottled_while_redis_is_down_and_it_shows(
    auth_settings: AuthSettings, make_user: MakeUser, own_redis: RedisServer
) -> None:
    """Redis down: logins are still served (cache.RateLimiter admits), the throttle reads degraded
    and counts what it let through; the breaker spares each attempt Redis's timeout."""
    settings = auth_settings.model_copy(
        update={
            "redis_url": SecretStr(own_redis.url),
            "login_attempt_burst": 2,
            "redis_retry_s": 60.0,
        }
    )
    user = await make_user()
    async with TestClient(TestServer(create_app(settings))) as auth:
        await own_redis.stop()
        wrong = {"tenant": user.tenant.name, "email": user.email, "password": "wrong"}
        statuses = [(await auth.post("/v1/auth/login", json=wrong)).status for _ in range(4)]
        assert statuses == [401] * 4  # past the burst of 2, yet not 429
        await login(auth, user)
        metrics = await (await auth.get("/metrics")).text()
    assert "meridian_auth_login_throttle_degraded 1.0" in metrics
    # Two buckets (address, account) per attempt, five attempts.
    assert "meridian_auth_login_throttle_bypassed_total 10.0" in metrics
    assert 'circuit_breaker_state{breaker="redis"} 2.0' in metrics
