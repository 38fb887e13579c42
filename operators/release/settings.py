"""Settings of the ServiceRelease operator alone (`MERIDIAN_OPERATOR_RELEASE_*`); none yet."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from meridian.operators.machinery.settings import KindSettings


class ServiceReleaseSettings(KindSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_RELEASE_", extra="ignore", frozen=True
    )
