"""Settings of the ServiceRelease operator alone (`MERIDIAN_OPERATOR_RELEASE_*`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class ServiceReleaseSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_RELEASE_", extra="ignore", frozen=True
    )

    tick_s: float = 5.0
    """Every release is decided again at this interval (timed pauses, analysis intervals and
    progress deadlines are checked then): level-triggered, its state only in status."""
    prometheus_url: str = ""
    """Prometheus' HTTP API for analysis steps; unset, every measurement is inconclusive."""
    query_timeout_s: float = 5.0
    """One Prometheus query's whole exchange; a timeout is an inconclusive measurement."""
    gateway_name: str = "meridian"
    gateway_namespace: str = "meridian-system"
    """The Gateway the releases' HTTPRoutes attach to (the Meridian gateway reads its routes)."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    """Where release pods run, as JSON (the local platform points them at its real node)."""
