"""Login attempts per account, bounded: password guessing gets a 429 long before it gets far.

One token bucket per (tenant, email) in Redis (`cache.TokenBucket`, atomic across replicas):
`login_attempt_burst` attempts at once, then `login_attempts_per_minute`. Every attempt spends a
token before the password is checked, whether or not the account exists, so the answers do not
tell which emails are real and the argon2 work per account is bounded too. The key is a digest:
no email sits in Redis in clear. When Redis is down, logins are let through (the gateway's rate
limit degrades the same way) and `meridian_auth_login_throttle_bypassed` counts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable

import prometheus_client
import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web

from meridian.core import logging as meridian_logging
from meridian.services.auth.settings import AuthSettings
from meridian.services.kit import app as kit_app
from meridian.services.kit import cache, problems

log = meridian_logging.get_logger("meridian.services.auth.throttle")


def key(tenant: str, email: str) -> str:
    digest = hashlib.sha256(f"{tenant}\0{email.strip().lower()}".encode()).hexdigest()
    return f"meridian:auth:login:{digest[:32]}"


class LoginThrottle:
    def __init__(
        self,
        client: aioredis.Redis,
        settings: AuthSettings,
        registry: prometheus_client.CollectorRegistry,
    ) -> None:
        self.bucket = cache.TokenBucket(client)
        self.rate = settings.login_attempts_per_minute / 60
        self.burst = settings.login_attempt_burst
        self.bypassed = prometheus_client.Counter(
            "meridian_auth_login_throttle_bypassed",
            "Login attempts let through unthrottled because Redis could not be reached",
            registry=registry,
        )

    async def spend_attempt(self, tenant: str, email: str) -> None:
        """Raises 429 (with Retry-After) when the account's attempts are spent."""
        try:
            decision = await self.bucket.take(key(tenant, email), rate=self.rate, burst=self.burst)
        except (redis.exceptions.RedisError, OSError) as error:
            self.bypassed.inc()
            log.warning("Login throttle unavailable; attempt allowed", error=str(error))
            return
        if not decision.allowed:
            raise problems.TooManyRequests(
                decision.retry_after, "Too many login attempts for this account; retry later"
            )


THROTTLE = web.AppKey("login_throttle", LoginThrottle)


def context(settings: AuthSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the Redis client's."""

    async def throttle(app: web.Application) -> AsyncIterator[None]:
        app[THROTTLE] = LoginThrottle(app[cache.CLIENT], settings, app[kit_app.METRICS].registry)
        yield

    return throttle
