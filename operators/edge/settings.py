"""Settings of the EdgeNode operator alone (`MERIDIAN_OPERATOR_EDGE_*`).

Durations in seconds. Maps (`_SITE_GRACE_S`, `_SITE_MAX_UNAVAILABLE`, `_SITE_FAILURE_BUDGET`,
`_SITE_UPGRADE_TIMEOUT_S`) are
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
    """How often the heartbeat sweep compares every node's Lease with the grace (in memory)."""
    last_seen_resolution_s: float = 300.0
    """status.lastHeartbeatTime is rewritten at most this often while a node stays Ready (every
    renewal would be a status write per node every 10 s; the kubelet's node status, likewise,
    every 5 minutes); Ready transitions always write it. The Lease is the live heartbeat."""
    enrol_concurrency: int = 16
    """Nodes enrolled (or checked on resync) at once; the rest wait their turn in the process."""
    token_ttl_s: int = 7 * 24 * 3600
    """Lifetime of the token in a node's bootstrap Secret (TokenRequest, bound to that Secret)."""
    token_renew_fraction: float = 1 / 3
    """A new token is issued once less than this fraction of the lifetime is left."""
    credential_check_s: float = 600.0
    """How often a reconcile reads a node's bootstrap Secret again to check its token (a resync of
    1,000 nodes a minute would be 17 Secret reads a second); in between, the expiry read last time
    decides. A deleted Secret is re-issued within this long (its token died with it at once)."""
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
    upgrade_timeout_s: float = 900.0
    """A node given its target that has not reported it Ready within this long counts as failed
    (against its site's failure budget): a hung command or a node that never came back must not
    hold the wave's slot for ever."""
    site_upgrade_timeout_s: dict[str, float] = Field(default_factory=dict)
    drain_for_upgrade: bool = True
    """Drain a node (spec.drain, with the operator's owner annotation) while it upgrades, and
    undrain it once it reports the new version Ready; a node drained by anyone else is left so."""
    wave_interval_s: float = 5.0
    """How often a site with a wave in progress is planned again."""

    def grace_for(self, site: str) -> float:
        return self.site_grace_s.get(site, self.grace_s)

    def max_unavailable_for(self, site: str) -> int:
        return self.site_max_unavailable.get(site, self.max_unavailable)

    def upgrade_timeout_for(self, site: str) -> float:
        return self.site_upgrade_timeout_s.get(site, self.upgrade_timeout_s)

    def failure_budget_for(self, site: str) -> int:
        return self.site_failure_budget.get(site, self.failure_budget)
