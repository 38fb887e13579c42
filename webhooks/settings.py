"""The webhook's settings: `MERIDIAN_WEBHOOKS_*` (plus the runtime's HOST, PORT, LOG_LEVEL...)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core import servicecatalogue
from meridian.core.runtime.settings import ServerSettings

# The seed's three edge sites (crds/examples/edgenodes.yaml); production sets its own list.
DEFAULT_EDGE_SITES = ("nyc1", "dal1", "ams1")


class Settings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_WEBHOOKS_", extra="ignore", frozen=True)

    name: str = "webhooks"
    port: int = Field(default=8443, ge=0, le=65535)
    # An AdmissionReview carries the object and the old one (each up to etcd's 1.5 MiB, escaped
    # as JSON); a longer body is refused with 400 before it is parsed.
    review_max_bytes: int = Field(default=8 << 20, ge=1)
    # The runtime's own cap (413 before any handler runs), far above any review: only a client
    # that is not an apiserver ever meets it.
    max_body_bytes: int = Field(default=64 << 20, ge=1)

    # The serving certificate and key (PEM). Re-read when either file changes, so a rotated
    # certificate is served to new connections without a restart.
    tls_cert_file: Path
    tls_key_file: Path
    tls_reload_s: float = Field(default=5.0, gt=0)

    # Kubernetes: KUBECONFIG's cluster when set (or this one), else the pod's service account.
    kubeconfig: str | None = None
    # Where the webhook itself runs: excluded from its own registration, so it can always restart.
    namespace: str = "meridian-webhooks"
    # How often the live modes are re-read from the meridian-policy-modes ConfigMap.
    modes_refresh_s: float = Field(default=2.0, gt=0)
    # Each lookup (PDBs, NetworkPolicies, Secrets, the registry) must answer within this, inside
    # the registration's timeoutSeconds (3), or the policy reports it could not check. It is wall
    # time in this process: under a burst (200 admissions at once, TLS handshakes included) the
    # answer waits for the event loop too, which took over 1 s on a loaded 2-core machine.
    lookup_timeout_s: float = Field(default=2.0, gt=0)
    # PDB and NetworkPolicy lists are kept this long and shared by concurrent admissions; only
    # ever to admit: a "none found" is fetched again before it denies (`recent`).
    lookup_cache_s: float = Field(default=2.0, ge=0)

    # The platform registry (`meridian_platform`), read for "a Tenant's name is free".
    platform_dsn: SecretStr | None = None
    # EdgeNode sites the platform has configured; JSON list in the environment.
    edge_sites: tuple[str, ...] = DEFAULT_EDGE_SITES
    # The services a ServiceRelease may run; JSON list in the environment.
    services: tuple[str, ...] = servicecatalogue.SERVICES


SETTINGS = web.AppKey("webhooks_settings", Settings)
