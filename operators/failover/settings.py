"""Settings of the FailoverPlan operator alone (`MERIDIAN_OPERATOR_FAILOVER_*`).

Route53's endpoint and credentials are the operator's, not the plan's: a plan names a zone, the
operator decides how AWS is reached (moto's server locally, AWS itself in production).
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class FailoverPlanSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_FAILOVER_", extra="ignore", frozen=True
    )

    readiness_interval_s: float = 30.0
    """How often a standing-by plan re-evaluates readiness (ARC re-evaluates every 30 minutes)."""
    route53_endpoint: str | None = None
    """Route53's endpoint; unset means AWS itself. The local platform points it at moto."""
    aws_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    """Unset: boto3's own chain (IRSA, instance profile, AWS_* variables)."""
    dependency_timeout_s: float = 10.0
    """Timeout of one connection or call to PostgreSQL, an apiserver or Route53."""
    replay_timeout_s: float = 120.0
    """How long a Planned run waits for the replica to replay up to the fenced LSN."""
    reseed_timeout_s: float = 600.0
    """How long a run waits for the target's instance agent to re-seed it (a pg_basebackup of a
    large database takes a while; a pg_rewind seconds)."""
    scale_timeout_s: float = 180.0
    """How long a run waits for the target's services to become Ready."""
    poll_s: float = 0.5
    """Polling interval inside a step (replay position, Deployment readiness, checks)."""
    fault_drill_pause_s: float = 0.0
    """Fault drills only (0 in production): each step pauses this long after acting and before
    its journal write, the window where a crash hurts most, so a test can SIGKILL it there."""
