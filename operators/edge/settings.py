"""Settings of the EdgeNode operator alone (`MERIDIAN_OPERATOR_EDGE_*`); none yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class EdgeNodeSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_EDGE_", extra="ignore", frozen=True
    )
