"""Settings of the EdgeNode operator alone (`MERIDIAN_OPERATOR_EDGE_*`).

Durations in seconds. Maps (`_SITE_GRACE_S`, `_SITE_MAX_UNAVAILABLE`, `_SITE_FAILURE_BUDGET`) are
JSON objects keyed by site, e.g. `MERIDIAN_OPERATOR_EDGE_SITE_GRACE_S='{"sgp1": 90}'` for a site
behind a slow uplink; a site not named takes the global value.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class EdgeNodeSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_EDGE_", extra="ignore", frozen=True
    )

    grace_s: float = 50.0
    """No Lease renewal for longer than this: Ready=Unknown (the controller-manager's node grace,
    raised from 40 s to 50 s after readiness flapped at 40 s with a 10 s renewal)."""
    site_grace_s: dict[str, float] = Field(default_factory=dict)
    """Per-site grace overrides."""
    heartbeat_check_s: float = 2.0
    """How often each node's heartbeat watcher compares its Lease with the grace (in memory)."""
    last_seen_resolution_s: float = 60.0
    """status.lastHeartbeatTime is rewritten at most this often while a node stays Ready (every
    renewal would be a status write per node every 10 s); transitions always write it."""
    enrol_concurrency: int = 16
    """Nodes enrolled (or checked on resync) at once; the rest wait their turn in the process."""
    token_ttl_s: int = 7 * 24 * 3600
    """Lifetime of the token in a node's bootstrap Secret (TokenRequest, bound to that Secret)."""
    token_renew_fraction: float = 1 / 3
    """A new token is issued once less than this fraction of the lifetime is left."""
    agent_api_server: str | None = None
    """API server URL written into the nodes' kubeconfigs; default: the operator's own."""
    agent_ca_file: str | None = None
    """CA bundle written into the nodes' kubeconfigs; default: the operator's own."""
    max_unavailable: int = 1
    """Upgrade waves: nodes of one site upgrading or offline at once."""
    site_max_unavailable: dict[str, int] = Field(default_factory=dict)
    failure_budget: int = 0
    """Failed upgrades a site tolerates; one more halts its wave until `edge resume`."""
    site_failure_budget: dict[str, int] = Field(default_factory=dict)
    drain_for_upgrade: bool = True
    """Drain a node (spec.drain, with the operator's owner annotation) while it upgrades, and
    undrain it once it reports the new version Ready; a node drained by anyone else is left so."""
    wave_interval_s: float = 5.0
    """How often a site with a wave in progress is planned again."""

    def grace_for(self, site: str) -> float:
        return self.site_grace_s.get(site, self.grace_s)

    def max_unavailable_for(self, site: str) -> int:
        return self.site_max_unavailable.get(site, self.max_unavailable)

    def failure_budget_for(self, site: str) -> int:
        return self.site_failure_budget.get(site, self.failure_budget)
