"""ServiceRelease (namespaced): one version of one Meridian service, and how it rolls out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    DURATION_PATTERN,
    QUANTITY_PATTERN,
    READY_COLUMN,
    ApiModel,
    Kind,
    ObjectStatus,
    PrinterColumn,
    ServiceName,
    with_validations,
)

ReleasePhase = Literal[
    "Pending", "Progressing", "Paused", "Healthy", "Degraded", "RolledBack", "Failed"
]


class ResourceAmounts(ApiModel):
    cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN, description="CPU, e.g. 500m.")
    memory: str | None = Field(
        default=None, pattern=QUANTITY_PATTERN, description="Memory, e.g. 512Mi."
    )


class Resources(ApiModel):
    requests: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="250m", memory="256Mi"),
        description="What each pod is guaranteed.",
    )
    limits: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="1", memory="512Mi"),
        description="What each pod may use at most (required by policy).",
    )


class DisruptionBudget(ApiModel):
    min_available: int | None = Field(
        default=None,
        ge=0,
        description="Pods that must stay available during voluntary disruptions.",
    )
    max_unavailable: int | None = Field(
        default=None, ge=1, description="Pods that may be unavailable during voluntary disruptions."
    )

    model_config = with_validations(
        {
            "rule": "has(self.minAvailable) != has(self.maxUnavailable)",
            "message": "disruptionBudget sets exactly one of minAvailable or maxUnavailable",
        }
    )


class Autoscaling(ApiModel):
    enabled: bool = Field(default=False, description="Render a HorizontalPodAutoscaler.")
    min_replicas: int = Field(
        default=2, ge=1, description="Lower bound of replicas when autoscaling."
    )
    max_replicas: int = Field(
        default=10, ge=1, le=100, description="Upper bound of replicas when autoscaling."
    )
    target_cpu_utilization: int = Field(
        default=70,
        ge=10,
        le=100,
        description="Average CPU utilization (percent of requests) to aim for.",
    )

    model_config = with_validations(
        {
            "rule": "self.minReplicas <= self.maxReplicas",
            "message": "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        }
    )


class AnalysisCheck(ApiModel):
    query: str = Field(min_length=1, description="PromQL query returning a single value.")
    success_condition: str = Field(
        min_length=1, description="Expression over `result` that must hold, e.g. result < 0.01."
    )
    failure_condition: str = Field(
        default="", description="Expression over `result` that aborts the rollout when it holds."
    )
    interval: str = Field(
        default="30s", pattern=DURATION_PATTERN, description="Time between measurements."
    )
    count: int = Field(default=3, ge=1, le=100, description="Measurements taken.")


class Pause(ApiModel):
    duration: str = Field(
        default="", description="How long to pause; empty pauses until resumed by hand."
    )


class CanaryStep(ApiModel):
    """Exactly one of setWeight, pause or analysis."""

    set_weight: int | None = Field(
        default=None, ge=0, le=100, description="Percentage of traffic sent to the canary."
    )
    pause: Pause | None = Field(default=None, description="Wait before the next step.")
    analysis: AnalysisCheck | None = Field(
        default=None, description="Query Prometheus and gate the next step on the result."
    )

    model_config = with_validations(
        {
            "rule": "[has(self.setWeight), has(self.pause), has(self.analysis)].filter(x, x).size() == 1",
            "message": "each canary step sets exactly one of setWeight, pause or analysis",
        }
    )


class Strategy(ApiModel):
    type: Literal["RollingUpdate", "Canary"] = Field(
        default="RollingUpdate", description="RollingUpdate or Canary."
    )
    canary_steps: list[CanaryStep] = Field(
        default_factory=list, max_length=32, description="Steps of a Canary rollout, in order."
    )

    model_config = with_validations(
        {
            "rule": "self.type != 'Canary' || size(self.canarySteps) > 0",
            "message": "strategy.canarySteps must list at least one step when strategy.type is Canary",
        }
    )


class ServiceReleaseSpec(ApiModel):
    service: ServiceName = Field(description="Which Meridian service this release runs.")
    image: str = Field(
        description="Container image from the approved registry, ghcr.io/meridian/<name>:<tag>; never latest.",
        pattern=r"^ghcr\.io/meridian/[a-z0-9-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$",
        max_length=512,
    )
    replicas: int = Field(
        default=2, ge=0, le=100, description="Desired pods when autoscaling is off."
    )
    resources: Resources = Field(
        default_factory=Resources, description="Per-pod requests and limits."
    )
    config: dict[str, str] = Field(
        default_factory=dict,
        description="Environment for the service (MERIDIAN_<SERVICE>_* settings).",
    )
    disruption_budget: DisruptionBudget = Field(
        default_factory=lambda: DisruptionBudget(max_unavailable=1),
        description="PodDisruptionBudget; set exactly one of minAvailable or maxUnavailable.",
    )
    autoscaling: Autoscaling = Field(
        default_factory=Autoscaling, description="HorizontalPodAutoscaler settings."
    )
    strategy: Strategy = Field(default_factory=Strategy, description="How a new image rolls out.")
    paused: bool = Field(default=False, description="Hold the rollout at its current step.")

    model_config = with_validations(
        {
            "rule": "!self.image.endsWith(':latest')",
            "message": "spec.image must pin a version: the tag latest is not allowed",
            "fieldPath": ".image",
            "reason": "FieldValueInvalid",
        }
    )


class RevisionRecord(ApiModel):
    revision: int = Field(ge=1, description="Monotonic revision number.")
    image: str = Field(description="Image of this revision.")
    outcome: str = Field(default="", description="Promoted, RolledBack or Aborted.")


class ServiceReleaseStatus(ObjectStatus):
    phase: ReleasePhase | None = Field(
        default=None, description="Short summary of the rollout state."
    )
    current_revision: int | None = Field(default=None, ge=0, description="Revision now serving.")
    stable_image: str | None = Field(
        default=None, description="Image of the last promoted revision."
    )
    canary_weight: int | None = Field(
        default=None, ge=0, le=100, description="Traffic percentage on the canary."
    )
    current_step: int | None = Field(
        default=None, ge=0, description="Index of the canary step in progress."
    )
    ready_replicas: int | None = Field(
        default=None, ge=0, description="Pods ready across stable and canary."
    )
    history: list[RevisionRecord] = Field(
        default_factory=list, max_length=20, description="Recent revisions, newest last."
    )


KIND = Kind(
    kind="ServiceRelease",
    plural="servicereleases",
    short_name="sr",
    scope="Namespaced",
    spec=ServiceReleaseSpec,
    status=ServiceReleaseStatus,
    description="A release of one Meridian service: its Deployment, Service, PDB, HPA and rollout strategy.",
    columns=(
        PrinterColumn("Service", ".spec.service"),
        PrinterColumn("Image", ".spec.image", priority=1),
        PrinterColumn("Strategy", ".spec.strategy.type"),
        PrinterColumn("Phase", ".status.phase"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
