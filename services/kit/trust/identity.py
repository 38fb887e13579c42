"""Who is calling: the identity proven by the internal token every request carries.

Nothing that can reach a service's port is trusted for who it says it is: the identity headers
(`contracts.IDENTITY_HEADERS`, which the gateway still sets for logs) are never read here. Every
call carries `Authorization: Bearer <internal token>`, signed by the gateway (for the user it
authenticated) or by a peer (orders, for the user it acts for or for its sweeper) with a key only
that caller holds (`signing`). `verifying(app, settings)` installs a middleware that checks the
token before any handler runs: an RS256 signature by an issuer in `identity_issuers` (JWKS cached,
refreshed on an unknown kid), this service as audience, not expired (within clock skew).

Handlers call `of(request, needs=<scope>)` once and scope everything by its `tenant_id` (through
`db.tenant_connection`): a request without a valid token is refused with 401, and one whose token
lacks the operation's scope with 403, before any query runs. Every handler names its scope: there
is no default, so a new route cannot forget to check, and a service that did not install the
verifier refuses every request (it fails closed). `forward(signer, identity, audience=...)` gives
the headers for a call to a peer on the caller's behalf.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple

from aiohttp import web
from aiohttp.typedefs import Handler

from meridian.core.runtime import client, periodic, problems
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import contracts
from meridian.services.kit.settings import IdentitySettings
from meridian.services.kit.trust import jwks, signing, tokens

log = meridian_logging.get_logger("meridian.services.kit.trust.identity")

NO_TOKEN = "A bearer token from the gateway or a peer service is required"


class Identity(NamedTuple):
    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]


class Verifier:
    """Internal tokens for one audience, from the issuers it knows, each with its JWKS cache."""

    def __init__(self, audience: str, issuers: dict[str, jwks.Jwks], *, leeway: float) -> None:
        self.audience = audience
        self.issuers = issuers
        self.leeway = leeway
        self.verified = jwks.VerifiedTokens[tokens.InternalClaims](leeway=leeway)

    async def verify(self, token: str) -> tokens.InternalClaims:
        known = self.verified.get(token)
        if known is not None:
            return known
        kid = tokens.kid_of(token)
        issuer = tokens.issuer_of(token)
        cache = self.issuers.get(issuer)
        if cache is None:
            raise tokens.InvalidToken(f"Issuer {issuer!r} is not trusted here")
        key = await cache.key(kid)
        if key is None:
            raise tokens.InvalidToken(f"The token is signed by a key {issuer} does not publish")
        claims = tokens.verify(
            token,
            key,
            issuer=issuer,
            audience=self.audience,
            leeway=self.leeway,
            claims=tokens.InternalClaims,
        )
        self.verified.put(token, cache, kid, key, claims)
        return claims

    async def refresh(self) -> None:
        for cache in self.issuers.values():
            await cache.refresh()


VERIFIER = web.AppKey("identity_verifier", Verifier)
CLAIMS = web.RequestKey("identity_claims", tokens.InternalClaims)
REFUSAL = web.RequestKey("identity_refusal", str)


@web.middleware
async def _verify(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            request[CLAIMS] = await request.app[VERIFIER].verify(token.strip())
        except tokens.InvalidToken as error:
            request[REFUSAL] = f"Invalid token: {error}"
    return await handler(request)


def verifying(app: web.Application, settings: IdentitySettings) -> None:
    """Installs the token check: the middleware, and the JWKS caches (with their own session)."""
    if not settings.identity_issuers:
        raise ValueError(
            f"{settings.name}: identity_issuers "
            f"(MERIDIAN_{settings.name.upper()}_IDENTITY_ISSUERS) is not configured: "
            "no caller could prove who it is"
        )
    app.middlewares.append(_verify)
    app.cleanup_ctx.append(_context(settings))


def _context(settings: IdentitySettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        # Fetched on first use, not here: peers start in any order, and readiness must not wait
        # for a caller (the gateway starts last).
        # The runtime's session: bounded waits, so a stuck issuer cannot hold a request for
        # aiohttp's default five minutes while its JWKS is fetched.
        async with client.create_session() as session:
            caches = {
                issuer: jwks.Jwks(
                    session, str(url), min_refresh_s=settings.identity_jwks_min_refresh_s
                )
                for issuer, url in settings.identity_issuers.items()
            }
            verifier = Verifier(
                tokens.principal(settings.name), caches, leeway=settings.identity_clock_skew_s
            )
            app[VERIFIER] = verifier
            async with periodic.running(
                verifier.refresh,
                every_s=settings.identity_jwks_max_age_s,
                name=f"{settings.name}-identity-jwks",
                failure="Callers' JWKS not refreshed",
                first_now=False,
            ):
                yield

    return context


def _unauthorized(detail: str) -> problems.Unauthorized:
    problem = problems.Unauthorized(detail)
    problem.extra_headers["WWW-Authenticate"] = 'Bearer realm="meridian"'
    return problem


def of(request: web.Request, *, needs: str) -> Identity:
    claims = request.get(CLAIMS)
    if claims is None:
        raise _unauthorized(request.get(REFUSAL, NO_TOKEN))
    scopes = frozenset(claims.scopes)
    if needs not in scopes:
        raise problems.Forbidden(f"The token lacks the scope {needs!r} this operation needs")
    return Identity(tenant_id=claims.tenant_id, subject=claims.sub, scopes=scopes)


def forward(signer: signing.Signer, identity: Identity, *, audience: str) -> dict[str, str]:
    """The headers of a call to the peer `audience` (a service name) on `identity`'s behalf: the
    proof, and the identity headers for the peer's logs."""
    token = signer.mint(
        audience=tokens.principal(audience),
        tenant_id=identity.tenant_id,
        subject=identity.subject,
        scopes=identity.scopes,
    )
    return {
        "Authorization": f"Bearer {token}",
        contracts.TENANT_HEADER: str(identity.tenant_id),
        contracts.SUBJECT_HEADER: identity.subject,
        contracts.SCOPES_HEADER: " ".join(sorted(identity.scopes)),
    }
