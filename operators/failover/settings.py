"""Settings of the FailoverPlan operator alone (`MERIDIAN_OPERATOR_FAILOVER_*`); none yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class FailoverPlanSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_FAILOVER_", extra="ignore", frozen=True
    )
