"""FailoverPlan (namespaced): how to move production from one cluster and region to another.

The spec says what moves (clusters, the database pair, the DNS record, the services), how a move
is checked (verification) and how one is asked for: `spec.run` carries its own id, so applying
the same YAML twice never starts a second run. The status is the plan's journal: readiness while
standing by, and for the current or last run every step with what it changed, so an operator
restarted mid-run resumes from it and never redoes a promotion or a DNS switch.
"""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import Field

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    ApiModel,
    Kind,
    ObjectStatus,
    PrinterColumn,
    Region,
    with_validations,
)

FailoverPhase = Literal["Pending", "StandingBy", "NotReady", "Running", "Succeeded", "Failed"]
RunMode = Literal["Planned", "Emergency", "Practice"]
Direction = Literal["ToTarget", "ToSource"]
StepState = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]
StepName = Literal[
    "Preflight",
    "FenceSource",
    "WaitForReplay",
    "Promote",
    "RepointServices",
    "ScaleUpTarget",
    "SwitchDNS",
    "Verify",
    "Reseed",
    "ReseedSource",
]
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ClusterRef(ApiModel):
    name: str = Field(
        min_length=1, max_length=63, pattern=NAME_PATTERN, description="Cluster name, e.g. prod."
    )
    region: Region = Field(description="AWS region the cluster runs in.")
    kubeconfig_secret: str = Field(
        default="",
        max_length=253,
        description="Secret (in this namespace) holding a kubeconfig for the cluster under key "
        "'kubeconfig'; empty means the cluster the operator runs in.",
    )


class SecretKeyRef(ApiModel):
    name: str = Field(min_length=1, max_length=253, description="Secret name.")
    key: str = Field(default="dsn", min_length=1, max_length=253, description="Key in it.")


class InstanceAgent(ApiModel):
    url: str = Field(
        pattern=r"^https?://",
        max_length=2048,
        description="Base URL of the PostgreSQL instance agent beside this server (it owns the "
        "data directory and re-seeds the server as a standby: a failback's Reseed step).",
    )
    token_secret: SecretKeyRef = Field(
        description="Secret (in this namespace) and key holding the agent's bearer token."
    )


class DatabaseEndpoint(ApiModel):
    host: str = Field(min_length=1, max_length=253, description="Host name or address.")
    port: int = Field(default=5432, ge=1, le=65535, description="TCP port.")
    database: str = Field(
        default="postgres", min_length=1, max_length=63, description="Database to connect to."
    )
    credentials_secret: str = Field(
        min_length=1,
        max_length=253,
        description="Secret (in this namespace) with keys username and password, or with key dsn "
        "(a libpq URI used as it is, e.g. through a tunnel or a local port). The role needs "
        "pg_monitor, pg_promote and pg_signal_backend (or superuser). Optional key servicesDsn: "
        "the URI a run writes into the services' database Secret when they reach the server "
        "otherwise than the operator does (else the operator's own).",
    )
    agent: InstanceAgent | None = Field(
        default=None,
        description="The server's instance agent. Without one a run into this server needs it "
        "to be a streaming replica already; with one, a run re-seeds it first when it is not "
        "(the old primary of a failback: pg_rewind, else pg_basebackup).",
    )


class Database(ApiModel):
    primary: DatabaseEndpoint = Field(description="The primary, on the source side.")
    replica: DatabaseEndpoint = Field(
        description="The streaming replica on the target side: promoted by a run."
    )


class DnsRecord(ApiModel):
    zone: str = Field(
        min_length=1, max_length=253, description="Route53 hosted zone, e.g. meridian.io."
    )
    record: str = Field(
        min_length=1, max_length=253, description="Record to switch, e.g. api.meridian.io."
    )
    type: Literal["CNAME", "A", "AAAA"] = Field(default="CNAME", description="Record type.")
    source_value: str = Field(
        min_length=1, max_length=253, description="The record's value while the source serves."
    )
    target_value: str = Field(
        min_length=1, max_length=253, description="The record's value once the target serves."
    )
    ttl_seconds: int = Field(
        default=60, ge=1, le=86400, description="TTL written with the new value."
    )


class Services(ApiModel):
    namespace: str = Field(
        default="meridian-prod",
        min_length=1,
        max_length=63,
        pattern=NAME_PATTERN,
        description="Namespace of the services' Deployments, the same on both sides.",
    )
    names: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Deployments to move, by name (or use selector).",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    selector: dict[str, str] = Field(
        default_factory=dict, description="Deployments to move, by labels (matchLabels)."
    )
    replicas: int = Field(default=2, ge=1, le=100, description="Replicas of each in the target.")
    database_secret: SecretKeyRef | None = Field(
        default=None,
        description="The Secret (in namespace, on the target side) the services read their "
        "database DSN from: a run points it at the promoted replica.",
    )

    model_config = with_validations(
        {
            "rule": "size(self.names) > 0 || size(self.selector) > 0",
            "message": "spec.services needs names or a selector",
        }
    )


class VerificationCheck(ApiModel):
    name: str = Field(min_length=1, max_length=63, description="Name shown in status.")
    url: str = Field(pattern=r"^https?://", max_length=2048, description="URL that must answer.")
    expect_status: int = Field(
        default=200, ge=100, le=599, description="HTTP status that counts as healthy."
    )
    timeout_seconds: int = Field(
        default=30, ge=1, le=600, description="How long to retry before the check fails."
    )


class Approval(ApiModel):
    run_id: str = Field(min_length=1, max_length=63, description="The run (spec.run.id) approved.")
    by: str = Field(min_length=1, max_length=253, description="Who approved.")
    reason: str = Field(min_length=1, max_length=1024, description="Why.")


class RunRequest(ApiModel):
    id: str = Field(
        min_length=1,
        max_length=63,
        pattern=NAME_PATTERN,
        description="Unique id of the run; a new id starts a new run, the same id never twice.",
    )
    mode: RunMode = Field(
        default="Planned",
        description="Planned (switchover, RPO 0), Emergency (source unreachable: promote what "
        "the replica has; needs approval) or Practice (every check and a dry walk, nothing changed).",
    )
    direction: Direction = Field(
        default="ToTarget",
        description="ToTarget moves production to targetCluster; ToSource moves it back (failback, "
        "re-seeding the old primary first).",
    )
    reason: str = Field(default="", max_length=1024, description="Why on-call asked for it.")


class FailoverPlanSpec(ApiModel):
    source_cluster: ClusterRef = Field(description="Where production runs normally.")
    target_cluster: ClusterRef = Field(description="Where production moves to.")
    database: Database = Field(description="The primary and the replica to promote.")
    dns: DnsRecord = Field(description="The DNS record that moves traffic.")
    services: Services = Field(description="Services to scale down, repoint and scale up.")
    verification: list[VerificationCheck] = Field(
        default_factory=list,
        max_length=32,
        description="Checks that must pass before a run succeeds.",
    )
    lag_budget_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="Replica replay lag tolerated while standing by (the RPO budget).",
    )
    lag_budget_bytes: int = Field(
        default=16 * 1024 * 1024, ge=0, description="WAL not yet replayed tolerated (bytes)."
    )
    approval: Approval | None = Field(
        default=None, description="Who approved which run, and why (required for Emergency)."
    )
    run: RunRequest | None = Field(
        default=None, description="Set by on-call to start a run; leave unset while standing by."
    )

    model_config = with_validations(
        {
            "rule": "self.sourceCluster.name != self.targetCluster.name",
            "message": "spec.targetCluster.name must differ from spec.sourceCluster.name",
            "fieldPath": ".targetCluster.name",
        },
        {
            "rule": "!has(self.run) || self.run.mode != 'Emergency' || "
            "(has(self.approval) && self.approval.runId == self.run.id)",
            "message": "spec.approval is required for an Emergency run (approval.runId = run.id)",
            "fieldPath": ".approval",
        },
    )


class Lag(ApiModel):
    bytes: int | None = Field(default=None, ge=0, description="WAL not yet replayed (bytes).")
    seconds: float | None = Field(default=None, ge=0, description="Replay delay (seconds).")
    measured_at: datetime.datetime | None = Field(default=None, description="When measured.")


class StepStatus(ApiModel):
    name: StepName = Field(description="The step.")
    state: StepState = Field(description="Where the step is.")
    started_at: datetime.datetime | None = Field(default=None, description="When it started.")
    finished_at: datetime.datetime | None = Field(default=None, description="When it ended.")
    message: str = Field(default="", max_length=4096, description="What happened.")
    changed: list[str] = Field(
        default_factory=list, max_length=64, description="What the step changed in the world."
    )


class RunStatus(ApiModel):
    id: str = Field(description="spec.run.id of this run.")
    mode: RunMode = Field(description="Its mode.")
    direction: Direction = Field(description="Its direction.")
    state: Literal["Running", "Succeeded", "Failed"] = Field(description="Where the run is.")
    started_at: datetime.datetime = Field(description="When it started.")
    finished_at: datetime.datetime | None = Field(default=None, description="When it ended.")
    message: str = Field(default="", max_length=4096, description="Outcome, or what to do.")
    steps: list[StepStatus] = Field(default_factory=list, max_length=16, description="Journal.")
    fenced_lsn: str | None = Field(default=None, description="Primary's WAL end when fenced.")
    promoted: bool = Field(default=False, description="The replica was promoted by this run.")
    dns_switched: bool = Field(default=False, description="The record was switched by this run.")
    rpo_seconds: float | None = Field(default=None, ge=0, description="Data-loss window.")
    rpo_bytes: int | None = Field(default=None, ge=0, description="WAL lost (bytes).")
    rto_seconds: float | None = Field(default=None, ge=0, description="Start to verified.")


class FailoverPlanStatus(ObjectStatus):
    phase: FailoverPhase | None = Field(
        default=None, description="Short summary: standing by, running, done."
    )
    active_cluster: str | None = Field(default=None, description="The cluster serving production.")
    lag: Lag | None = Field(default=None, description="Last measured replica lag.")
    run: RunStatus | None = Field(default=None, description="The current or last run.")


KIND = Kind(
    kind="FailoverPlan",
    plural="failoverplans",
    short_name="fp",
    scope="Namespaced",
    spec=FailoverPlanSpec,
    status=FailoverPlanStatus,
    description="A disaster-recovery plan: readiness while standing by, a resumable promotion when triggered.",
    columns=(
        PrinterColumn("Source", ".spec.sourceCluster.name", priority=1),
        PrinterColumn("Target", ".spec.targetCluster.name", priority=1),
        PrinterColumn("Active side", ".status.activeCluster"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="ReadyToFailover")].status'),
        PrinterColumn(
            "Lag", ".status.lag.seconds", type="number", description="Replica lag (seconds)"
        ),
        PrinterColumn("Last run", ".status.run.id"),
        PrinterColumn("RTO", ".status.run.rtoSeconds", type="number", description="seconds"),
        AGE_COLUMN,
    ),
)
