"""Settings of the operator process and the base of each operator's own settings.

`OperatorSettings` (`MERIDIAN_OPERATOR_*`) is what the process needs whichever operators it runs:
probes, metrics, peering, resync, logs. What one operator alone needs lives in its own class,
`MERIDIAN_OPERATOR_<NAME>_*`, declared in its package and named by its `Operator`; the runtime
reads only the classes of the operators it runs, so the others' variables are never required.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from meridian.core.runtime.settings import ProcessSettings


class OperatorSettings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_OPERATOR_", extra="ignore", frozen=True)

    health_host: str = "127.0.0.1"
    """Address of the liveness endpoint; the chart sets 0.0.0.0 so the kubelet can probe it."""
    health_port: int = 8080
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8081
    peering_name: str = "meridian"
    """ClusterKopfPeering through which replicas elect the one active operator."""
    resync_s: float = 60.0
    """Level-triggered resync: every object is reconciled from current state at this interval."""


class KindSettings(BaseSettings):
    """Base of one operator's own settings; subclasses set env_prefix MERIDIAN_OPERATOR_<NAME>_."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)
