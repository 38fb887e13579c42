"""The auth service's settings: `MERIDIAN_AUTH_*` (plus the kit's, e.g. `MERIDIAN_AUTH_PG_DSN`)."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.services.kit.settings import ServiceSettings

DAY = 86_400


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_AUTH_", extra="ignore", frozen=True)

    name: str = "auth"
    # pg_dsn (kit) is auth's own database, meridian_auth: the signing keys.
    # The platform registry (meridian_platform): tenants, API keys, users, refresh tokens.
    platform_dsn: SecretStr | None = None
    platform_pool_max: int = Field(default=10, ge=1)

    issuer: str = "meridian-auth"
    # Login attempts per (tenant, email): a burst, then a steady rate (`throttle`).
    login_attempt_burst: int = Field(default=10, ge=1)
    login_attempts_per_minute: float = Field(default=2.0, gt=0)
    # And per client address, against one address trying many accounts (password spraying).
    # Generous, because a customer's office logs in from behind one NAT address.
    login_address_burst: int = Field(default=100, ge=1)
    login_address_attempts_per_minute: float = Field(default=60.0, gt=0)
    # How many X-Forwarded-For entries, counted from the right, our own proxies appended: the
    # client's address is the one they saw. 1: the gateway alone; 2: a load balancer in front of
    # it that appends too; 0: no proxy, the peer's address. Entries further left are the
    # client's own claims and are never trusted.
    trusted_proxy_hops: int = Field(default=1, ge=0)
    # Access tokens are short: a revoked one stays in Redis for its remaining lifetime, and the
    # seed bounds that window at 5 minutes. Never above 15 minutes.
    access_token_ttl_s: int = Field(default=300, ge=30, le=900)
    refresh_token_ttl_s: int = Field(default=14 * DAY, ge=60)
    # Allowed difference between our clock and a verifier's.
    clock_skew_s: int = Field(default=5, ge=0, le=60)

    # Signing keys: a key older than `key_rotate_after_s` is succeeded by a new one (checked at
    # start and every `key_refresh_s`); the new key is published at once and signs from
    # `key_activation_delay_s` later, so every replica (reloading every `key_refresh_s`) and
    # every gateway knows it before its first token. The old key stays published until its last
    # token has expired.
    key_rotate_after_s: int = Field(default=30 * DAY, ge=60)
    key_activation_delay_s: int = Field(default=60, ge=0)
    key_refresh_s: float = Field(default=30.0, gt=0)
    key_bits: int = Field(default=2048, ge=2048)
    # Private signing keys are stored encrypted with it (PKCS#8, the best encryption the
    # cryptography library offers); the service refuses to start without it. From a Secret, never
    # from the database it protects.
    signing_key_passphrase: SecretStr | None = None

    # Scopes of a new user unless given, and of every API-key (machine) token.
    default_user_scopes: list[str] = Field(
        default_factory=lambda: ["orders:read", "orders:write", "inventory:read"]
    )
    api_key_scopes: list[str] = Field(
        default_factory=lambda: [
            "orders:read",
            "orders:write",
            "inventory:read",
            "inventory:write",
        ]
    )

    # argon2id (RFC 9106's second recommended setting by default): time cost, memory in KiB,
    # lanes; at most `password_hash_concurrency` hashes at once, each holding `memory_kib`.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8_192)
    argon2_parallelism: int = Field(default=4, ge=1)
    password_hash_concurrency: int = Field(default=4, ge=1)


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
