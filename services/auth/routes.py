"""Auth's routes: login, refresh, API-key exchange, revocation, JWKS.

Every failure to authenticate is a 401 problem with the same detail whatever was wrong (unknown
tenant, unknown email, wrong password), so answers do not enumerate users; a caller who proved who
they are but may not proceed (suspended tenant or key, disabled user) gets a 403.
"""

from __future__ import annotations

import datetime
import time
import uuid

from aiohttp import web

from meridian.core.registry import apikeys, refreshtokens, tenants, users
from meridian.core.runtime import cache, db, payloads, problems
from meridian.services.auth import keys, models, registry, throttle, tokens
from meridian.services.auth.passwords import Passwords
from meridian.services.auth.settings import SETTINGS, Settings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens as kit_tokens

PASSWORDS = web.AppKey("passwords", Passwords)
BAD_CREDENTIALS = "Invalid tenant, email or password"
BAD_REFRESH = "The refresh token is invalid, expired or already used"
AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="meridian"'}


def _settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def _unauthorized(detail: str, scheme: str = "Bearer") -> problems.Unauthorized:
    problem = problems.Unauthorized(detail)
    problem.extra_headers["WWW-Authenticate"] = f'{scheme} realm="meridian"'
    return problem


def _json(model: models.Body, status: int = 200) -> web.Response:
    # Tokens must never be cached by a proxy (RFC 6749 §5.1).
    return web.json_response(
        model.model_dump(mode="json"),
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _issue_refresh(
    conn: db.Connection,
    settings: Settings,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
) -> str:
    token = refreshtokens.generate(tenant_id)
    expires_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=settings.refresh_token_ttl_s
    )
    await refreshtokens.insert(
        conn, token, user_id=user_id, family_id=family_id, expires_at=expires_at
    )
    return token.token


def _login_response(
    request: web.Request, user: users.User, refresh_token: str
) -> models.LoginResponse:
    settings = _settings(request)
    access, claims = tokens.issue(
        request.app[keys.RING],
        settings,
        subject=str(user.id),
        tenant_id=user.tenant_id,
        scopes=user.scopes,
    )
    return models.LoginResponse(
        access_token=access,
        expires_in=claims.exp - claims.iat,
        scope=" ".join(claims.scopes),
        refresh_token=refresh_token,
        refresh_expires_in=settings.refresh_token_ttl_s,
    )


async def login(request: web.Request) -> web.Response:
    body = await payloads.read_json(request, models.LoginRequest)
    await request.app[throttle.THROTTLE].spend_attempt(request, body.tenant, body.email)
    settings, pool = _settings(request), request.app[registry.POOL]
    passwords = request.app[PASSWORDS]
    async with registry.unscoped(pool) as conn:
        tenant = await users.find_tenant(conn, body.tenant)
    user = None
    if tenant is not None:
        async with registry.scoped(pool, tenant.id) as conn:
            user = await users.by_email(conn, tenant.id, body.email)
    # Always one argon2 verification, so unknown tenants and emails cost what a wrong password does.
    verified = await passwords.verify(user.password_hash if user else None, body.password)
    if tenant is None or user is None or not verified:
        raise _unauthorized(BAD_CREDENTIALS)
    if tenant.state != "active":
        raise problems.Forbidden("The tenant is suspended")
    if user.state != "active":
        raise problems.Forbidden("The user is disabled")
    new_hash = (
        await passwords.hash(body.password) if passwords.needs_rehash(user.password_hash) else None
    )
    async with registry.scoped(pool, tenant.id) as conn:
        if new_hash is not None:
            await users.set_password_hash(conn, tenant.id, user.id, new_hash)
        refresh = await _issue_refresh(
            conn, settings, tenant_id=tenant.id, user_id=user.id, family_id=uuid.uuid4()
        )
    return _json(_login_response(request, user, refresh))


async def refresh(request: web.Request) -> web.Response:
    body = await payloads.read_json(request, models.RefreshRequest)
    settings, pool = _settings(request), request.app[registry.POOL]
    try:
        presented = refreshtokens.parse(body.refresh_token)
    except ValueError as error:
        raise _unauthorized(BAD_REFRESH) from error
    tenant_id = presented.tenant_id
    refused: problems.Problem | None = None
    user: users.User | None = None
    token = ""
    async with registry.scoped(pool, tenant_id) as conn:
        spent = await refreshtokens.use(conn, presented)
        if spent.outcome == "replayed":
            # A used token came back: someone holds a copy. End the whole login, for both.
            assert spent.row is not None
            await refreshtokens.revoke_family(conn, tenant_id, spent.row["family_id"])
            refused = _unauthorized("The refresh token was already used; the login is revoked")
        elif spent.outcome != "ok":
            refused = _unauthorized(BAD_REFRESH)
        else:
            assert spent.row is not None
            user = await users.by_id(conn, tenant_id, spent.row["user_id"])
            tenant_state = await tenants.state_of(conn, tenant_id)
            if user is None or user.state != "active" or tenant_state != "active":
                refused = problems.Forbidden("The user or tenant is no longer active")
            else:
                token = await _issue_refresh(
                    conn,
                    settings,
                    tenant_id=tenant_id,
                    user_id=user.id,
                    family_id=spent.row["family_id"],
                )
    if refused is not None:  # raised after the block: the family's revocation is committed
        raise refused
    assert user is not None
    return _json(_login_response(request, user, token))


async def api_key_token(request: web.Request) -> web.Response:
    """`Authorization: ApiKey mrd_...` → an access token for a machine client."""
    settings = _settings(request)
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "apikey" or not credential.strip():
        raise _unauthorized("Send the API key as `Authorization: ApiKey mrd_...`", "ApiKey")
    try:
        key = apikeys.parse(credential.strip())
    except ValueError as error:
        raise _unauthorized("Invalid API key", "ApiKey") from error
    async with registry.unscoped(request.app[registry.POOL]) as conn:
        found = await apikeys.find(conn, key.prefix)
    if found is None or not apikeys.matches(key, found.secret_sha256):
        raise _unauthorized("Invalid API key", "ApiKey")
    if found.key_state == "revoked":
        raise _unauthorized("The API key is revoked", "ApiKey")
    if found.key_state != "active" or found.tenant_state != "active":
        raise problems.Forbidden("The API key or its tenant is suspended")
    access, claims = tokens.issue(
        request.app[keys.RING],
        settings,
        subject=f"apikey:{key.prefix}",
        tenant_id=found.tenant_id,
        scopes=list(settings.api_key_scopes),
    )
    return _json(
        models.TokenResponse(
            access_token=access, expires_in=claims.exp - claims.iat, scope=" ".join(claims.scopes)
        )
    )


async def revoke(request: web.Request) -> web.Response:
    """The bearer's access token (and optionally a refresh token's login) revoked."""
    settings = _settings(request)
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise _unauthorized("Send the access token to revoke as `Authorization: Bearer ...`")
    try:
        claims = tokens.verify(request.app[keys.RING], settings, credential.strip())
    except kit_tokens.InvalidToken as error:
        raise _unauthorized(f"Invalid access token: {error}") from error
    body = models.RevokeRequest()
    if request.body_exists:
        body = await payloads.read_json(request, models.RevokeRequest)
    # Listed until the token would have expired anyway (and the verifiers' leeway with it): at
    # most the access-token lifetime, which the settings bound to 15 and default to 5 minutes.
    ttl = max(1, claims.exp + settings.clock_skew_s - int(time.time()))
    await request.app[cache.CLIENT].set(contracts.revoked_token_key(claims.jti), "1", ex=ttl)
    if body.refresh_token is not None:
        await _revoke_refresh(request, claims, body.refresh_token)
    return web.Response(status=204)


async def _revoke_refresh(request: web.Request, claims: contracts.AccessClaims, token: str) -> None:
    try:
        presented = refreshtokens.parse(token)
    except ValueError as error:
        raise problems.BadRequest("refresh_token: not a Meridian refresh token") from error
    if presented.tenant_id != claims.tenant_id:
        raise problems.Forbidden("The refresh token belongs to another tenant")
    async with registry.scoped(request.app[registry.POOL], claims.tenant_id) as conn:
        row = await refreshtokens.find(conn, presented)
        if row is not None and str(row["user_id"]) != claims.sub:
            raise problems.Forbidden("The refresh token belongs to another user")
        if row is not None:
            await refreshtokens.revoke_family(conn, claims.tenant_id, row["family_id"])


async def jwks(request: web.Request) -> web.Response:
    ring = request.app[keys.RING]
    max_age = int(_settings(request).key_refresh_s)
    return web.json_response(ring.jwks(), headers={"Cache-Control": f"public, max-age={max_age}"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/auth/login", login)
    app.router.add_post("/v1/auth/refresh", refresh)
    app.router.add_post("/v1/auth/token", api_key_token)
    app.router.add_post("/v1/auth/revoke", revoke)
    app.router.add_get(contracts.JWKS_PATH, jwks)
