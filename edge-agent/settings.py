"""The edge agent's settings (`MERIDIAN_EDGE_AGENT_*`), on the runtime's `ProcessSettings`.

Commands are argument lists (JSON in the environment: `'["nginx", "-t"]'`), never shell strings:
the agent executes them without a shell, and a value from the API (a version, a config value) is
always one more argument or file content, so it cannot be interpreted.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime.settings import ProcessSettings


def _package_version() -> str:
    return importlib.metadata.version("meridian")


class AgentSettings(ProcessSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_EDGE_AGENT_", extra="ignore", frozen=True
    )

    name: str = "edge-agent"
    # The EdgeNode (and Lease) this agent reports for, and the credential the install wrote.
    node: str = Field(min_length=1, max_length=253)
    kubeconfig: Path | None = None
    # Cached desired state, the last good config and what was applied survive restarts here.
    state_dir: Path = Path("/var/lib/meridian-edge-agent")

    # The running version; `version_file` (written by the install and the upgrade command) wins.
    version: str = Field(default_factory=_package_version)
    version_file: Path | None = None

    # Desired config: the template at `config_template` (`{{ key }}` from spec.config) rendered
    # to `config_path`, then `validate_command`, then `reload_command`; either failing rolls back.
    config_template: Path | None = None
    config_path: Path | None = None
    validate_command: list[str] = Field(default_factory=list)
    reload_command: list[str] = Field(default_factory=list)
    command_timeout_s: float = Field(default=60.0, gt=0)

    # Upgrade: `upgrade_command + [version]`, run when the operator sets upgrade.targetVersion.
    upgrade_command: list[str] = Field(default_factory=list)
    upgrade_timeout_s: float = Field(default=900.0, gt=0)

    # Metrics: free space of `disk_path`; cache hit ratio from nginx's stub_status when set.
    disk_path: Path = Path("/")
    stub_status_url: str | None = None

    # Heartbeat: the kubelet's node Lease cadence (KEP-589); errors back off with full jitter
    # from `retry_base_s` up to `lease_interval_s`, so a recovering API server is not stampeded.
    lease_interval_s: float = Field(default=10.0, gt=0)
    retry_base_s: float = Field(default=0.5, gt=0)
    # How often the desired state (spec) is read; status is written on change, else this often.
    sync_interval_s: float = Field(default=10.0, gt=0)
    report_interval_s: float = Field(default=300.0, gt=0)
    # One API request's bound; below the lease interval so a stuck call cannot skip a renewal.
    request_timeout_s: float = Field(default=5.0, gt=0)
