"""Login attempts per account and per client address, bounded: guessing gets a 429 early.

Two token buckets in Redis (`cache.TokenBucket`, atomic across replicas). Per (tenant, email):
`login_attempt_burst` attempts at once, then `login_attempts_per_minute`, against guessing one
account's password. Per client address: `login_address_burst`, then
`login_address_attempts_per_minute`, against one address trying a few passwords on many accounts
(spraying), which the per-account bucket never sees. The address is the one our own proxies saw
(`client_address`, `trusted_proxy_hops`); what a client writes into X-Forwarded-For itself is
ignored. Every attempt spends its tokens before the password is checked, whether or not the
account exists, so the answers do not tell which emails are real and the argon2 work is bounded
too. Keys are digests: no email or address sits in Redis in clear. When Redis is down, logins
are let through (`cache.RateLimiter`, the gateway's rate limit too, says why):
`meridian_auth_login_throttle_degraded` reads 1 and `meridian_auth_login_throttle_bypassed`
counts the buckets skipped; `meridian_auth_login_throttled{by}` counts the 429s, by bucket.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable

import prometheus_client
import redis.asyncio as aioredis
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, metrics, problems
from meridian.services.auth.settings import Settings


def key(tenant: str, email: str) -> str:
    digest = hashlib.sha256(f"{tenant}\0{email.strip().lower()}".encode()).hexdigest()
    return f"meridian:auth:login:{digest[:32]}"


def address_key(address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()
    return f"meridian:auth:login-address:{digest[:32]}"


def client_address(request: web.BaseRequest, trusted_proxy_hops: int) -> str:
    """The address the outermost of our `trusted_proxy_hops` proxies saw the request come from."""
    if trusted_proxy_hops > 0:
        forwarded = request.headers.get("X-Forwarded-For", "")
        chain = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if chain:
            return chain[max(0, len(chain) - trusted_proxy_hops)]
    return request.remote or ""


class LoginThrottle:
    def __init__(
        self,
        client: aioredis.Redis,
        settings: Settings,
        app_metrics: metrics.Metrics,
    ) -> None:
        self.limiter = cache.RateLimiter(
            client,
            name="auth_login_throttle",
            what="login attempts",
            retry_s=settings.redis_retry_s,
            registry=app_metrics.registry,
            on_breaker_change=app_metrics.breaker_changed,
        )
        self.settings = settings
        self.throttled = prometheus_client.Counter(
            "meridian_auth_login_throttled",
            "Login attempts refused with 429, by the bucket that was empty (account or address)",
            ["by"],
            registry=app_metrics.registry,
        )

    async def spend_attempt(self, request: web.BaseRequest, tenant: str, email: str) -> None:
        """Raises 429 (with Retry-After) when the address's or the account's attempts are spent.

        The address is checked first, so a spraying address spends no victim's account tokens.
        """
        settings = self.settings
        address = client_address(request, settings.trusted_proxy_hops)
        await self._spend(
            "address",
            address_key(address),
            settings.login_address_attempts_per_minute,
            settings.login_address_burst,
        )
        await self._spend(
            "account",
            key(tenant, email),
            settings.login_attempts_per_minute,
            settings.login_attempt_burst,
        )

    async def _spend(self, by: str, bucket_key: str, per_minute: float, burst: int) -> None:
        decision = await self.limiter.take(bucket_key, rate=per_minute / 60, burst=burst)
        if decision is not None and not decision.allowed:
            self.throttled.labels(by).inc()
            raise problems.TooManyRequests(
                decision.retry_after, f"Too many login attempts for this {by}; retry later"
            )


THROTTLE = web.AppKey("login_throttle", LoginThrottle)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the Redis client's."""

    async def throttle(app: web.Application) -> AsyncIterator[None]:
        app[THROTTLE] = LoginThrottle(app[cache.CLIENT], settings, app[runtime_app.METRICS])
        yield

    return throttle
