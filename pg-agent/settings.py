"""Settings of the instance agent (`MERIDIAN_PG_AGENT_*`): which server it owns and how it acts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime.settings import ServerSettings


class PgAgentSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_PG_AGENT_", extra="ignore", frozen=True)

    name: str = "pg-agent"
    data_dir: Path
    """The data directory the agent owns (and a re-seed replaces)."""
    pg_port: int = Field(ge=1, le=65535)
    socket_dir: Path | None = None
    """The server's Unix socket directory (local `trust` as the superuser); unset: data_dir."""
    superuser: str = "postgres"
    bin_dir: Path = Path("/usr/lib/postgresql/15/bin")
    token: SecretStr
    """Bearer token every request but the probes must carry (from the plan's Secret)."""
    state_file: Path
    """Where the last re-seed is remembered (outside the data directory, which a re-seed wipes)."""
    run_as: str = ""
    """User that runs the PostgreSQL tools (they refuse root); empty: the agent's own user."""
    start_argv: list[str] = Field(default_factory=list)
    """Command that starts the server and returns once it runs (the platform's supervisor);
    empty: `pg_ctl start` with the server's own configuration."""
    stop_timeout_s: float = Field(default=60.0, gt=0)
    streaming_timeout_s: float = Field(default=120.0, gt=0)
    """How long a re-seeded server may take to stream from its new primary."""
    poll_s: float = Field(default=0.5, gt=0)
