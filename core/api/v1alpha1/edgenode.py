"""EdgeNode (cluster-scoped): a bare-metal edge server and the agent that reports from it."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Literal

from pydantic import Field

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    READY_COLUMN,
    ApiModel,
    Kind,
    ObjectStatus,
    PrinterColumn,
)

# The contract between the EdgeNode operator and the edge agent: where a node's identity and
# heartbeat live. The operator creates them at enrolment; the agent may touch only its own.
EDGE_NAMESPACE = "meridian-edge"


def lease_name(node: str) -> str:
    """The node's heartbeat Lease in EDGE_NAMESPACE (the operator pre-creates it: `create` cannot
    be limited by resourceNames, so the agent is granted only get/update on this one name)."""
    return node


def service_account_name(node: str) -> str:
    """The node's own identity in EDGE_NAMESPACE."""
    return f"edge-{node}"


def bootstrap_secret_name(node: str) -> str:
    """The Secret in EDGE_NAMESPACE holding the kubeconfig the agent's install uses."""
    return f"edge-{node}-bootstrap"


def cluster_role_name(node: str) -> str:
    """The node's ClusterRole (and ClusterRoleBinding): its own EdgeNode and EdgeNode status."""
    return f"meridian-edge-node-{node}"


# Upgrade waves: what the operator and `kubectl meridian edge` record on an EdgeNode's metadata
# (the agent's credential can write only status, so it can neither fake nor clear these).
UPGRADE_FAILED_ANNOTATION = "edge.meridian.io/upgrade-failed"
"""Set by the operator to the version whose upgrade failed on this node; it counts against the
site's failure budget until `kubectl meridian edge resume` removes it."""
UPGRADE_TIMED_OUT_ANNOTATION = "edge.meridian.io/upgrade-timed-out"
"""Set beside UPGRADE_FAILED_ANNOTATION (same version) when the failure was the operator's upgrade
timeout: the agent never reported the target version in time."""
DRAINED_BY_ANNOTATION = "edge.meridian.io/drained-by"
"""Set by the operator when it set spec.drain itself (for an upgrade); only then does it undo it."""
OPERATOR_OWNER = "meridian-edge-operator"


def config_hash(config: dict[str, str]) -> str:
    """SHA-256 of a desired configuration: operator (desired) and agent (applied) hash alike."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


EdgePhase = Literal["Pending", "Ready", "NotReady", "Draining", "Maintenance", "Upgrading"]
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class MaintenanceWindow(ApiModel):
    days: list[Weekday] = Field(
        min_length=1,
        max_length=7,
        description="Days of the week the window opens.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    start: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Opening time, HH:MM in UTC."
    )
    duration_minutes: int = Field(ge=15, le=720, description="How long the window stays open.")


class EdgeNodeSpec(ApiModel):
    site: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Site (data centre) the node is racked in, e.g. nyc1; upgrades roll out site by site.",
    )
    address: str = Field(
        pattern=r"^(([0-9]{1,3}\.){3}[0-9]{1,3}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$",
        max_length=253,
        description="Management address (IPv4 or DNS name) the fleet tooling reaches the node on.",
    )
    role: Literal["cdn-origin", "cache"] = Field(
        default="cdn-origin", description="What the node serves: cdn-origin or cache."
    )
    agent_version: str = Field(
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$",
        description="Edge agent version the node should run (semver).",
    )
    config: dict[str, str] = Field(
        default_factory=dict,
        description="Desired agent configuration; the agent reports the hash it applied. Applied "
        "only while the node's Held condition is not True (drain, outside its maintenance windows).",
    )
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list,
        max_length=8,
        description="When disruptive work (upgrades, reboots) may happen.",
    )
    drain: bool = Field(default=False, description="Take the node out of service.")


class NodeFacts(ApiModel):
    hostname: str = Field(default="", description="Host name reported by the agent.")
    os: str = Field(default="", description="Operating system and version.")
    kernel: str = Field(default="", description="Kernel release.")
    cpus: int | None = Field(default=None, ge=0, description="Logical CPUs.")
    memory_bytes: int | None = Field(default=None, ge=0, description="Physical memory.")


class NodeMetrics(ApiModel):
    load1: float | None = Field(default=None, ge=0, description="One-minute load average.")
    disk_free_bytes: int | None = Field(
        default=None, ge=0, description="Free bytes on the cache disk."
    )
    cache_hit_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Cache hit ratio from the local nginx, when configured.",
    )


UpgradePhase = Literal["Pending", "Running", "Succeeded", "Failed"]


class UpgradeStatus(ApiModel):
    """The operator writes `targetVersion` when the node's turn in its site's wave comes; the agent
    runs its configured upgrade command and writes `phase` and `message`."""

    target_version: str | None = Field(
        default=None, description="Version the operator asked this node to upgrade to."
    )
    phase: UpgradePhase | None = Field(default=None, description="Where the agent's upgrade is.")
    message: str | None = Field(default=None, description="Last phase's detail or error.")
    started_time: datetime.datetime | None = Field(
        default=None,
        description="When the operator gave the node its target; the upgrade timeout counts from here.",
    )


class EdgeNodeStatus(ObjectStatus):
    phase: EdgePhase | None = Field(default=None, description="Short summary of the node's state.")
    agent_version: str | None = Field(
        default=None, description="Agent version the node reports running."
    )
    applied_config_hash: str | None = Field(
        default=None, description="SHA-256 of the configuration the agent applied."
    )
    last_heartbeat_time: datetime.datetime | None = Field(
        default=None, description="Last Lease renewal seen."
    )
    facts: NodeFacts | None = Field(
        default=None, description="Hardware and OS facts reported by the agent."
    )
    metrics: NodeMetrics | None = Field(default=None, description="Load and cache figures.")
    config_error: str | None = Field(
        default=None,
        description="Why the last desired configuration was not applied (the last good one stays).",
    )
    last_report_time: datetime.datetime | None = Field(
        default=None,
        description="When the agent last wrote its status (on change, else every 5 min).",
    )
    upgrade: UpgradeStatus | None = Field(
        default=None, description="The node's part in an upgrade wave."
    )
    credential_expires_at: datetime.datetime | None = Field(
        default=None,
        description="When the token in the bootstrap Secret expires (the operator renews it before).",
    )


KIND = Kind(
    kind="EdgeNode",
    plural="edgenodes",
    short_name="en",
    scope="Cluster",
    spec=EdgeNodeSpec,
    status=EdgeNodeStatus,
    description="A bare-metal edge node: desired agent version and configuration, and what its agent reports.",
    columns=(
        PrinterColumn("Site", ".spec.site"),
        PrinterColumn("Role", ".spec.role"),
        READY_COLUMN,
        PrinterColumn(
            "Agent Version", ".status.agentVersion", description="Version the agent reports"
        ),
        PrinterColumn(
            "Config Applied",
            '.status.conditions[?(@.type=="ConfigApplied")].status',
            description="The agent applied the desired configuration",
        ),
        PrinterColumn(
            "Last Seen", ".status.lastHeartbeatTime", type="date", description="Last Lease renewal"
        ),
        AGE_COLUMN,
        PrinterColumn("Phase", ".status.phase", priority=1),
        PrinterColumn("Desired Version", ".spec.agentVersion", priority=1),
    ),
)
