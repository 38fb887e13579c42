"""Settings of the policy audit controller alone (`MERIDIAN_OPERATOR_POLICY_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings

DEFAULT_EDGE_SITES = ("nyc1", "dal1", "ams1")


class PolicySettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_POLICY_", extra="ignore", frozen=True
    )

    interval_s: float = Field(default=60.0, gt=0)
    """A full re-scan of every existing object at least this often (and at start)."""
    modes_poll_s: float = Field(default=2.0, gt=0)
    """How often the modes ConfigMap is read; a change starts a re-scan at once."""
    max_results: int = Field(default=100, ge=1, le=1000)
    """Results listed per report; beyond, the report keeps the first ones and says how many it
    left out (its summary still counts them all). 100 results of at most ~1.2 KiB each keep a
    report near 120 KiB, a tenth of etcd's 1.5 MiB object limit whatever the namespace holds;
    each namespace has its own report, so 400 tenant namespaces are 400 such objects."""
    max_events: int = Field(default=50, ge=0)
    """Events posted per scan for violations not seen in the previous one (a first scan of a
    cluster full of violations must not flood the apiserver)."""
    edge_sites: tuple[str, ...] = DEFAULT_EDGE_SITES
    """Configured edge sites, for the ClusterPolicyReport's EdgeNode check (JSON list)."""
