"""The one way a Meridian process is configured: a pydantic-settings class read from MERIDIAN_* env."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessSettings(BaseSettings):
    """Base of every process's settings; subclasses set env_prefix MERIDIAN_<PROCESS>_."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_", extra="ignore", frozen=True)

    log_level: str = "INFO"
    log_json: bool = True
