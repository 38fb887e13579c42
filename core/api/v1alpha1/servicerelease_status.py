"""ServiceRelease status: the rollout's persisted state machine, nothing kept in memory.

The operator's decision function (`operators/release/machine.py`) reads this and writes it back;
an operator killed at any point resumes from here at the same step. Every list is bounded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from meridian.core.api.v1alpha1.meta import ApiModel, ObjectStatus

ReleasePhase = Literal[
    "Pending",  # seen, nothing rolled out yet
    "Progressing",  # pods of a new revision are coming up, or a canary step is running
    "Paused",  # a pause step, a manual pause or an inconclusive analysis holds the rollout
    "Promoting",  # the stable Deployment moves to the new revision before traffic follows
    "Aborting",  # the stable is scaled back up; traffic returns once it is Ready at full size
    "Aborted",  # all traffic on the stable; the spec's revision waits for retry or a new revision
    "Healthy",  # the spec's revision is stable, at full size and Ready
    "Degraded",  # the stable revision has fewer Ready pods than it should
]
MeasurementPhase = Literal["Successful", "Failed", "Inconclusive"]
RunPhase = Literal["Running", "Successful", "Failed", "Inconclusive"]
Outcome = Literal["Promoted", "Aborted", "Superseded", "RolledBack"]

HISTORY_MAX = 20
ANALYSIS_RUNS_MAX = 10
MEASUREMENTS_MAX = 100


class Template(ApiModel):
    """What a revision is made of: its hash covers exactly these fields."""

    image: str = Field(description="Container image.")
    config: dict[str, str] = Field(default_factory=dict, description="Environment of the service.")
    resources: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Requests and limits, as in the pod spec."
    )


class RevisionRecord(ApiModel):
    revision: int = Field(ge=1, description="Monotonic revision number (rollback names it).")
    hash: str = Field(description="Hash of the template (image, config, resources).")
    template: Template = Field(description="What the revision runs, to roll back to.")
    outcome: Outcome | None = Field(
        default=None, description="Promoted, Aborted, Superseded or RolledBack; unset while live."
    )
    at: str = Field(description="When the revision was first seen (RFC 3339).")


class Measurement(ApiModel):
    at: str = Field(description="When the query ran (RFC 3339).")
    phase: MeasurementPhase = Field(description="Successful, Failed or Inconclusive.")
    value: float | None = Field(default=None, description="The query's value, if it returned one.")
    message: str = Field(default="", max_length=512, description="Why inconclusive, if so.")


class AnalysisRun(ApiModel):
    step: int = Field(ge=0, description="Index of the analysis step in strategy.canarySteps.")
    revision: str = Field(description="Hash of the canary revision analysed.")
    phase: RunPhase = Field(description="Running, Successful, Failed or Inconclusive.")
    started_at: str = Field(description="When the first measurement was due (RFC 3339).")
    measurements: list[Measurement] = Field(
        default_factory=list, max_length=MEASUREMENTS_MAX, description="Measurements, oldest first."
    )


class AbortRecord(ApiModel):
    reason: str = Field(
        description="AnalysisFailed, ProgressDeadlineExceeded, CrashLooping, "
        "Aborted (by hand) or RolledBack."
    )
    message: str = Field(default="", max_length=1024, description="What was observed.")
    revision: str = Field(description="Hash of the revision aborted.")
    at: str = Field(description="When the abort was decided (RFC 3339).")
    stable_ready_at: str | None = Field(
        default=None,
        description="When the stable was Ready at full size, by its pods' Ready times; the "
        "abort's own time if it already was (RFC 3339).",
    )
    weight_restored_at: str | None = Field(
        default=None, description="When all traffic went back to the stable (RFC 3339)."
    )


class ActionCounts(ApiModel):
    """The spec.actions counts already acted on; a higher spec count is a new request."""

    promote: int = Field(default=0, ge=0, description="Promote count handled.")
    pause: int = Field(default=0, ge=0, description="Pause count handled.")
    resume: int = Field(default=0, ge=0, description="Resume count handled.")
    abort: int = Field(default=0, ge=0, description="Abort count handled.")
    retry: int = Field(default=0, ge=0, description="Retry count handled.")
    rollback: int = Field(default=0, ge=0, description="Rollback count handled.")


class ServiceReleaseStatus(ObjectStatus):
    phase: ReleasePhase | None = Field(
        default=None, description="Short summary of the rollout state."
    )
    message: str = Field(default="", max_length=1024, description="What the rollout waits for.")
    stable_revision: str | None = Field(
        default=None, description="Hash of the revision the stable Deployment serves."
    )
    canary_revision: str | None = Field(
        default=None, description="Hash of the revision being rolled out, if any."
    )
    rollback_to: str | None = Field(
        default=None,
        description="Hash of the revision a rollback targets instead of the spec's, until the "
        "spec's revision changes.",
    )
    rollback_from: str | None = Field(
        default=None, description="Hash of the spec's revision when the rollback was asked."
    )
    current_step: int | None = Field(
        default=None, ge=0, description="Index of the canary step in progress."
    )
    canary_weight: int = Field(
        default=0, ge=0, le=100, description="Traffic percentage on the canary."
    )
    step_started_at: str | None = Field(
        default=None, description="When the current step began (timed pauses count from it)."
    )
    progress_at: str | None = Field(
        default=None,
        description="Last real progress: the new revision's available pods exceeded their "
        "previous maximum (a crash-looping pod coming back is not progress).",
    )
    available_max: int = Field(
        default=0, ge=0, description="Most available pods of the new revision seen so far."
    )
    manual_pause: bool = Field(default=False, description="Held by actions.pause.")
    promote_full: bool = Field(
        default=False, description="A full promote was asked; steps are skipped."
    )
    analysis: AnalysisRun | None = Field(default=None, description="The analysis running now.")
    analysis_runs: list[AnalysisRun] = Field(
        default_factory=list,
        max_length=ANALYSIS_RUNS_MAX,
        description="Finished analysis runs, newest last.",
    )
    abort: AbortRecord | None = Field(default=None, description="The last abort, if any.")
    actions_handled: ActionCounts = Field(
        default_factory=ActionCounts, description="spec.actions counts already acted on."
    )
    latest_revision: int = Field(default=0, ge=0, description="Highest revision number given.")
    history: list[RevisionRecord] = Field(
        default_factory=list, max_length=HISTORY_MAX, description="Recent revisions, newest last."
    )
    ready_replicas: int = Field(default=0, ge=0, description="Ready pods across stable and canary.")
