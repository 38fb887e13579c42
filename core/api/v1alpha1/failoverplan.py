"""FailoverPlan (namespaced): how to move production from one cluster and region to another."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import Field

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    READY_COLUMN,
    ApiModel,
    Kind,
    ObjectStatus,
    PrinterColumn,
    Region,
    ServiceName,
    with_validations,
)

FailoverPhase = Literal["Pending", "StandingBy", "NotReady", "Running", "Completed", "Failed"]
StepName = Literal[
    "Preflight",
    "FenceSource",
    "WaitForLag",
    "PromoteReplica",
    "ScaleUpTarget",
    "SwitchDNS",
    "Verify",
]


class ClusterRef(ApiModel):
    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Cluster name, e.g. prod or dr.",
    )
    region: Region = Field(description="AWS region the cluster runs in.")
    kubeconfig_secret: str = Field(
        default="",
        max_length=253,
        description="Secret (in this namespace) holding a kubeconfig for the cluster under key 'kubeconfig'; empty means the cluster the operator runs in.",
    )


class DatabaseEndpoint(ApiModel):
    host: str = Field(min_length=1, max_length=253, description="Host name or address.")
    port: int = Field(default=5432, ge=1, le=65535, description="TCP port.")
    credentials_secret: str = Field(
        default="", max_length=253, description="Secret with keys username and password."
    )


class Database(ApiModel):
    primary: DatabaseEndpoint = Field(description="The current primary in the source region.")
    replica: DatabaseEndpoint = Field(description="The cross-region streaming replica to promote.")


class DnsRecord(ApiModel):
    zone: str = Field(min_length=1, max_length=253, description="Hosted zone, e.g. meridian.io.")
    record: str = Field(
        min_length=1, max_length=253, description="Record to switch, e.g. api.meridian.io."
    )
    ttl_seconds: int = Field(
        default=60, ge=1, le=86400, description="TTL written with the new value."
    )


class VerificationCheck(ApiModel):
    name: str = Field(min_length=1, max_length=63, description="Name shown in status.")
    url: str = Field(pattern=r"^https?://", max_length=2048, description="URL that must answer.")
    expect_status: int = Field(
        default=200, ge=100, le=599, description="HTTP status that counts as healthy."
    )


class Trigger(ApiModel):
    type: Literal["Switchover", "Failover"] = Field(
        description="Switchover (planned, waits for lag) or Failover (emergency)."
    )
    id: str = Field(
        min_length=1, max_length=63, description="Unique id of this run; a new id starts a new run."
    )
    reason: str = Field(
        default="",
        max_length=1024,
        description="Why on-call triggered it (recorded in status and Events).",
    )


class FailoverPlanSpec(ApiModel):
    source_cluster: ClusterRef = Field(description="Where production runs now.")
    target_cluster: ClusterRef = Field(description="Where production moves to.")
    database: Database = Field(description="The primary and the replica to promote.")
    dns: DnsRecord = Field(description="The DNS record that moves traffic.")
    services: list[ServiceName] = Field(
        min_length=1,
        max_length=10,
        description="Services to repoint and scale up in the target.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    verification: list[VerificationCheck] = Field(
        default_factory=list,
        max_length=32,
        description="Checks that must pass before the run completes.",
    )
    lag_budget_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="Replica lag tolerated before a planned switchover proceeds (RPO budget).",
    )
    trigger: Trigger | None = Field(
        default=None, description="Set by on-call to start a run; leave unset while standing by."
    )

    model_config = with_validations(
        {
            "rule": "self.sourceCluster.name != self.targetCluster.name",
            "message": "spec.targetCluster.name must differ from spec.sourceCluster.name",
            "fieldPath": ".targetCluster.name",
        }
    )


class StepStatus(ApiModel):
    name: StepName = Field(description="The step.")
    state: Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"] = Field(
        description="Where the step is."
    )
    started_at: datetime.datetime | None = Field(default=None, description="When the step started.")
    finished_at: datetime.datetime | None = Field(default=None, description="When the step ended.")
    message: str = Field(default="", description="What happened.")


class FailoverPlanStatus(ObjectStatus):
    phase: FailoverPhase | None = Field(
        default=None, description="Short summary: standing by, running, done."
    )
    active_cluster: str | None = Field(default=None, description="The cluster serving production.")
    replica_lag_seconds: float | None = Field(
        default=None, ge=0, description="Last measured replica lag."
    )
    run_id: str | None = Field(default=None, description="Trigger id of the current or last run.")
    steps: list[StepStatus] = Field(
        default_factory=list, max_length=16, description="Progress of the current or last run."
    )
    rpo_seconds: float | None = Field(
        default=None, ge=0, description="Measured data-loss window of the last run."
    )
    rto_seconds: float | None = Field(
        default=None, ge=0, description="Measured time to recovery of the last run."
    )


KIND = Kind(
    kind="FailoverPlan",
    plural="failoverplans",
    short_name="fp",
    scope="Namespaced",
    spec=FailoverPlanSpec,
    status=FailoverPlanStatus,
    description="A disaster-recovery plan: readiness while standing by, a resumable promotion when triggered.",
    columns=(
        PrinterColumn("Source", ".spec.sourceCluster.name"),
        PrinterColumn("Target", ".spec.targetCluster.name"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Lag", ".status.replicaLagSeconds", type="number", priority=1),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
