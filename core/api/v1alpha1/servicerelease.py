"""ServiceRelease (namespaced): one version of one Meridian service, and how it rolls out.

The spec is what a platform engineer writes (image, size, config, strategy) plus the on-call's
actions, each a counter: the operator acts when a counter exceeds the one it recorded in status,
so re-applying the same YAML never repeats an action. The apiserver refuses bad input itself,
naming the field (CEL and OpenAPI here, tested in tests/e2e/test_release_validation.py). The
status is the rollout's whole state machine (`servicerelease_status`), never kept in memory.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.config import JsonDict

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    DURATION_PATTERN,
    QUANTITY_PATTERN,
    READY_COLUMN,
    ApiModel,
    Kind,
    PrinterColumn,
    ServiceName,
    with_validations,
)
from meridian.core.api.v1alpha1.servicerelease_status import ServiceReleaseStatus

APPROVED_REGISTRY = "ghcr.io/meridian/"
"""The one registry release images come from (the seed's approved-registry policy)."""

IMAGE_PATTERN = (
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$"
)
"""A reference with a tag or a digest: an image without either is `latest` in disguise."""

CONDITION_PATTERN = (
    r"^result\s*(<|<=|>|>=|==|!=)\s*-?[0-9]+(\.[0-9]+)?"
    r"(\s*(&&|\|\|)\s*result\s*(<|<=|>|>=|==|!=)\s*-?[0-9]+(\.[0-9]+)?)*$"
)
"""`result < 0.01`, `result >= 0 && result < 5`: comparisons of the query's value, joined."""

_COUNTER_ONLY_GROWS: JsonDict = {
    "x-kubernetes-validations": [
        {"rule": "self >= oldSelf", "message": "an action counter only increases"}
    ]
}


class ResourceAmounts(ApiModel):
    cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN, description="CPU, e.g. 500m.")
    memory: str | None = Field(
        default=None, pattern=QUANTITY_PATTERN, description="Memory, e.g. 512Mi."
    )


class Limits(ApiModel):
    cpu: str = Field(pattern=QUANTITY_PATTERN, description="CPU each pod may use at most.")
    memory: str = Field(pattern=QUANTITY_PATTERN, description="Memory each pod may use at most.")


class Resources(ApiModel):
    requests: ResourceAmounts = Field(
        default_factory=ResourceAmounts,
        description="What each pod is guaranteed (defaults to the limits, as Kubernetes does).",
    )
    limits: Limits = Field(description="What each pod may use at most (required by policy).")


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
    query: str = Field(
        min_length=1, max_length=4096, description="PromQL query returning a single value."
    )
    success_condition: str = Field(
        pattern=CONDITION_PATTERN,
        max_length=256,
        description="Comparison of `result` that must hold, e.g. result < 0.01.",
    )
    failure_condition: str | None = Field(
        default=None,
        pattern=CONDITION_PATTERN,
        max_length=256,
        description="Comparison of `result` that fails the measurement; when unset, a "
        "measurement that misses successCondition fails. With it, a value meeting neither is "
        "inconclusive.",
    )
    interval: str = Field(
        default="30s", pattern=DURATION_PATTERN, description="Time between measurements."
    )
    count: int = Field(default=3, ge=1, le=100, description="Measurements taken.")
    consecutive_failure_limit: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Failed measurements in a row that abort the rollout (a flaky query "
        "failing once in between successes does not).",
    )
    inconclusive_limit: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Inconclusive measurements (Prometheus unreachable, an empty result, a "
        "value meeting neither condition) tolerated; beyond it the rollout pauses for a human. "
        "Never counted as a pass.",
    )


class Pause(ApiModel):
    duration: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        description="How long to pause, e.g. 2m; unset pauses until resumed (actions.resume).",
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


class RollingUpdate(ApiModel):
    max_surge: int = Field(
        default=1, ge=0, le=100, description="Extra pods created above replicas during an update."
    )
    max_unavailable: int = Field(
        default=0, ge=0, le=100, description="Pods that may be unavailable during an update."
    )

    model_config = with_validations(
        {
            "rule": "self.maxSurge + self.maxUnavailable > 0",
            "message": "rollingUpdate needs maxSurge or maxUnavailable above 0",
        }
    )


class Strategy(ApiModel):
    type: Literal["RollingUpdate", "Canary"] = Field(
        default="RollingUpdate", description="RollingUpdate or Canary."
    )
    rolling_update: RollingUpdate = Field(
        default_factory=RollingUpdate, description="Surge and unavailability of a RollingUpdate."
    )
    canary_steps: list[CanaryStep] = Field(
        default_factory=list, max_length=32, description="Steps of a Canary rollout, in order."
    )

    model_config = with_validations(
        {
            "rule": "self.type != 'Canary' || size(self.canarySteps) > 0",
            "message": "strategy.canarySteps must list at least one step when strategy.type is Canary",
        },
        {
            "rule": "!has(self.canarySteps) || "
            "self.canarySteps.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted() && "
            "self.canarySteps.filter(s, has(s.setWeight)).map(s, s.setWeight)"
            ".all(w, self.canarySteps.filter(s, has(s.setWeight)).map(s, s.setWeight)"
            ".indexOf(w) == self.canarySteps.filter(s, has(s.setWeight)).map(s, s.setWeight)"
            ".lastIndexOf(w))",
            "message": "strategy.canarySteps setWeight values must strictly increase",
            "fieldPath": ".canarySteps",
            "reason": "FieldValueInvalid",
        },
    )


class Counter(ApiModel):
    count: int = Field(
        default=0,
        ge=0,
        description="Raise by one to ask again.",
        json_schema_extra=_COUNTER_ONLY_GROWS,
    )


class Promote(Counter):
    full: bool = Field(
        default=False, description="Skip every remaining step (true) or only the current one."
    )


class Rollback(Counter):
    revision: int = Field(default=0, ge=0, description="The status.history revision to go back to.")


class Actions(ApiModel):
    """On-call actions: each acts once per increment of its count (the operator records the
    count it handled in status.actionsHandled), so re-applying the same YAML repeats nothing."""

    promote: Promote = Field(
        default_factory=Promote, description="Advance the canary a step, or fully."
    )
    pause: Counter = Field(default_factory=Counter, description="Hold the rollout where it is.")
    resume: Counter = Field(
        default_factory=Counter,
        description="Continue after a pause (manual, untimed or inconclusive).",
    )
    abort: Counter = Field(
        default_factory=Counter,
        description="Return all traffic to the stable revision; wins over a pending promote.",
    )
    retry: Counter = Field(
        default_factory=Counter, description="Start an aborted revision's canary again from step 0."
    )
    rollback: Rollback = Field(
        default_factory=Rollback, description="Go back to a revision listed in status.history."
    )


class ServiceReleaseSpec(ApiModel):
    service: ServiceName = Field(description="Which Meridian service this release runs.")
    image: str = Field(
        description=f"Container image from the approved registry, {APPROVED_REGISTRY}<name> with a "
        "tag or @sha256 digest; never latest.",
        pattern=IMAGE_PATTERN,
        max_length=512,
    )
    replicas: int = Field(
        default=2, ge=0, le=100, description="Desired pods when autoscaling is off."
    )
    resources: Resources = Field(description="Per-pod requests and limits (limits required).")
    config: dict[str, str] = Field(
        default_factory=dict,
        description="Environment for the service (MERIDIAN_<SERVICE>_* settings); a change is "
        "a new revision.",
    )
    disruption_budget: DisruptionBudget | None = Field(
        default=None,
        description="PodDisruptionBudget; required when more than one replica runs.",
    )
    autoscaling: Autoscaling = Field(
        default_factory=Autoscaling, description="HorizontalPodAutoscaler settings."
    )
    strategy: Strategy = Field(
        default_factory=Strategy, description="How a new revision rolls out."
    )
    route: str | None = Field(
        default=None,
        pattern=r"^/[a-z0-9/_-]*$",
        max_length=256,
        description="Path prefix the Meridian gateway forwards to this service (e.g. /v1/orders): "
        "the operator writes an HTTPRoute splitting it between stable and canary by weight; "
        "unset renders none.",
    )
    progress_deadline_seconds: int = Field(
        default=600,
        ge=10,
        le=86400,
        description="A rollout whose new pods make no progress (more available than ever "
        "before) for this long is aborted.",
    )
    revision_history_limit: int = Field(
        default=10, ge=1, le=20, description="Revisions kept in status.history."
    )
    actions: Actions = Field(default_factory=Actions, description="On-call actions (counters).")

    model_config = with_validations(
        {
            "rule": f"self.image.startsWith('{APPROVED_REGISTRY}')",
            "message": f"spec.image must come from the approved registry {APPROVED_REGISTRY}",
            "fieldPath": ".image",
            "reason": "FieldValueInvalid",
        },
        {
            "rule": "!self.image.endsWith(':latest')",
            "message": "spec.image must pin a version: the tag latest is not allowed",
            "fieldPath": ".image",
            "reason": "FieldValueInvalid",
        },
        {
            "rule": "has(self.disruptionBudget) || (self.replicas <= 1 && !(has(self.autoscaling) "
            "&& self.autoscaling.enabled && self.autoscaling.minReplicas > 1))",
            "message": "spec.disruptionBudget is required when more than one replica runs",
            "fieldPath": ".disruptionBudget",
            "reason": "FieldValueRequired",
        },
    )


KIND = Kind(
    kind="ServiceRelease",
    plural="servicereleases",
    short_name="sr",
    scope="Namespaced",
    spec=ServiceReleaseSpec,
    status=ServiceReleaseStatus,
    description="A release of one Meridian service: its Deployments, Services, PDB, HPA, "
    "HTTPRoute and rollout.",
    columns=(
        PrinterColumn("Service", ".spec.service"),
        PrinterColumn("Image", ".spec.image"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Weight", ".status.canaryWeight", type="integer"),
        READY_COLUMN,
        AGE_COLUMN,
        PrinterColumn("Strategy", ".spec.strategy.type", priority=1),
        PrinterColumn("Step", ".status.currentStep", type="integer", priority=1),
    ),
)
