"""Settings of the operator process (`meridian operator run`), from MERIDIAN_OPERATOR_* variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from meridian.core.settings import ProcessSettings


class OperatorSettings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_OPERATOR_", extra="ignore", frozen=True)

    health_host: str = "127.0.0.1"
    """Address of the liveness endpoint; the chart sets 0.0.0.0 so the kubelet can probe it."""
    health_port: int = 8080
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8081
    peering_name: str = "meridian"
    """ClusterKopfPeering through which replicas elect the one active operator."""
    resync_seconds: float = 60.0
    """Level-triggered resync: every object is reconciled from current state at this interval."""
