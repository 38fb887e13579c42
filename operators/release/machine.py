"""The rollout state machine: (spec, status, what the cluster shows, now) -> next status + actions.

Pure: no cluster, no clock, no Prometheus. `reconcile` observes, calls `decide`, applies the
actions in the order given and writes the status; everything the machine remembers is in that
status, so an operator killed at any point resumes at the same step. The faults of Argo Rollouts
and Flagger its tests reproduce:

- progress is measured on the new revision's available pods exceeding their previous maximum,
  so pods that never get Ready (#4128) or crash-loop and come back (#3765) hit the deadline;
- a pending abort is handled before a promote and clears a full promote in flight (#4461), in
  every phase including Promoting (Flagger #1588);
- a new revision starts from step 0 with no analysis, progress or promote carried over (#3082,
  #2048);
- on abort the stable is applied at full size and traffic moves back only once it is Ready at
  full size: `SetWeight(0)` never precedes that observation in the actions, and the abort
  records when the stable's pods got Ready, not when the weight moved.
"""

from __future__ import annotations

import datetime

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.servicerelease_status import (
    ANALYSIS_RUNS_MAX,
    AbortRecord,
    AnalysisRun,
    Outcome,
    RevisionRecord,
    ServiceReleaseStatus,
    Template,
)
from meridian.operators.release import analysis, history, reasons, revision
from meridian.operators.release.decision import (
    Action,
    Announce,
    Apply,
    Decision,
    Pods,
    RemoveCanary,
    SetWeight,
    World,
)
from meridian.operators.release.plan import canary_size, full_size, stable_size
from meridian.operators.release.resources import Role

WAIT_S = 2.0
"""How soon to look again while pods come up (the timer also wakes the release)."""


ACTION_NAMES = ("abort", "rollback", "retry", "promote", "pause", "resume")
"""The order pending actions are handled in: abort wins over everything."""


class _Machine:
    """One decision: the status being built and the actions in the order they must run."""

    def __init__(
        self, spec: servicerelease.ServiceReleaseSpec, status: ServiceReleaseStatus, world: World
    ) -> None:
        self.spec, self.world = spec, world
        self.st = status.model_copy(deep=True)
        self.now = analysis.iso(world.now)
        self.actions: list[Action] = []
        self.requeue: float | None = None
        self.requested: set[str] = set()

    # -- bookkeeping -------------------------------------------------------------------------

    def say(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(Announce("Warning" if warning else "Normal", reason, message))

    def wait(self, seconds: float) -> None:
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def pods(self, role: Role, revision_hash: str | None) -> Pods:
        return self.world.pods.get((role, revision_hash or ""), Pods())

    def record(self, template: Template) -> RevisionRecord:
        keep = {self.st.stable_revision, self.st.canary_revision, self.st.rollback_to}
        return history.record(self.st, template, self.spec.revision_history_limit, keep, self.now)

    def template(self, digest: str | None) -> Template:
        return history.template(self.st, digest)

    def close(self, digest: str | None, outcome: Outcome) -> None:
        history.close(self.st, digest, outcome)

    def set_phase(self, phase: str, message: str) -> None:
        self.st.phase = phase  # type: ignore[assignment]
        self.st.message = message

    # -- actions the on-call asked for -------------------------------------------------------

    def take_requests(self) -> None:
        asked = self.spec.actions
        handled = self.st.actions_handled
        for name in ACTION_NAMES:
            count = getattr(asked, name).count
            if count > getattr(handled, name):
                setattr(handled, name, count)
                self.requested.add(name)

    # -- the target ---------------------------------------------------------------------------

    def target(self) -> str:
        """The revision to run: the spec's, or a rollback's until the spec's changes."""
        spec_template = revision.template_of(self.spec)
        spec_hash = revision.hash_of(spec_template)
        self.record(spec_template)
        if "rollback" in self.requested:
            wanted = self.spec.actions.rollback.revision
            entry = next((e for e in self.st.history if e.revision == wanted), None)
            if entry is None:
                self.say(reasons.ACTION_IGNORED, f"rollback: no revision {wanted} in history", True)
            else:
                self.st.rollback_to, self.st.rollback_from = entry.hash, spec_hash
                self.say(reasons.ROLLING_BACK, f"Rolling back to revision {wanted}")
        if self.st.rollback_to is not None and self.st.rollback_from != spec_hash:
            self.st.rollback_to = self.st.rollback_from = None  # the spec moved on
        return self.st.rollback_to or spec_hash

    # -- the decision -------------------------------------------------------------------------

    def decide(self) -> Decision:
        self.take_requests()
        target = self.target()
        stable = self.st.stable_revision
        if "abort" in self.requested:
            if "promote" in self.requested or self.st.promote_full:
                self.say(reasons.ACTION_IGNORED, "promote ignored: abort wins", True)
                self.requested.discard("promote")
            if self.st.canary_revision is not None and self.st.phase != "Aborting":
                self.start_abort(reasons.ABORTED_BY_HAND, "abort asked by actions.abort")
        if "pause" in self.requested:
            self.st.manual_pause = True
        if "resume" in self.requested:
            self.st.manual_pause = False
        if stable is None:
            self.first_rollout(target)
        elif self.st.phase == "Aborting":
            self.aborting()
        elif target == stable:
            if self.st.canary_revision is not None:
                reason = reasons.ROLLED_BACK if self.st.rollback_to else reasons.REVERTED
                self.start_abort(reason, f"revision {target} is the stable again")
                self.aborting()
            else:
                self.steady()
        elif (
            self.st.abort is not None
            and self.st.abort.revision == target
            and (self.st.canary_revision is None)
        ):
            if "retry" in self.requested:
                self.say(reasons.RETRIED, f"Retrying revision {target} from step 0")
                self.start(target)
                self.roll(target)
            else:
                self.aborted(target)
        else:
            if self.st.canary_revision != target:
                if self.st.canary_revision is not None and self.st.canary_weight > 0:
                    self.start_abort(reasons.SUPERSEDED, f"revision {target} replaces the canary")
                    self.aborting()
                    return self.result()
                self.close(self.st.canary_revision, "Superseded")
                self.start(target)
            self.roll(target)
        return self.result()

    def result(self) -> Decision:
        return Decision(self.st, tuple(self.actions), self.requeue)

    # -- phases -------------------------------------------------------------------------------

    def first_rollout(self, target: str) -> None:
        """No stable yet: there is no traffic to protect, so run the revision at full size."""
        size = full_size(self.spec)
        self.actions += [Apply("stable", target, self.template(target), size), SetWeight(0)]
        pods = self.pods("stable", target)
        if pods.available >= size:
            self.st.stable_revision = target
            self.close(target, "Promoted")
            self.st.progress_at, self.st.available_max = None, 0
            self.set_phase("Healthy", f"revision {target} available at {size} pods")
            self.say(reasons.PROMOTED, f"Revision {target} is stable")
            return
        self.track_progress(pods)
        self.set_phase("Progressing", f"{pods.available}/{size} pods of {target} available")
        self.wait(WAIT_S)

    def steady(self) -> None:
        stable = self.st.stable_revision
        size = full_size(self.spec)
        self.actions += [
            Apply("stable", stable or "", self.template(stable), size),
            SetWeight(0),
            RemoveCanary(),
        ]
        available = self.pods("stable", stable).available
        self.st.canary_weight, self.st.current_step = 0, None
        if available >= size:
            self.set_phase("Healthy", f"revision {stable} available at {size} pods")
        else:
            self.set_phase("Degraded", f"{available}/{size} pods of {stable} available")
            self.wait(WAIT_S)

    def aborted(self, target: str) -> None:
        self.steady()
        if self.st.phase == "Healthy":
            message = f"revision {target} aborted; actions.retry or a new revision rolls again"
            self.set_phase("Aborted", message)

    def start(self, target: str) -> None:
        """A revision's rollout from a clean slate: nothing of an earlier one carries over."""
        rolling_back = self.st.rollback_to == target
        self.st.canary_revision = target
        self.st.current_step = 0 if self.spec.strategy.type == "Canary" else None
        self.st.canary_weight = 0
        self.st.analysis = None
        self.st.promote_full = rolling_back
        self.st.available_max = 0
        self.st.progress_at = self.st.step_started_at = self.now
        self.set_phase("Progressing", f"revision {target} started")
        self.say(reasons.REVISION_STARTED, f"Rolling out revision {target}")

    def track_progress(self, pods: Pods) -> None:
        if pods.available > self.st.available_max:
            self.st.available_max = pods.available
            self.st.progress_at = self.now

    def stalled(self, pods: Pods, wanted: int) -> str | None:
        """Why the rollout is past its progress deadline, if it is."""
        self.track_progress(pods)
        since = analysis.parse(self.st.progress_at or self.now)
        late = self.world.now - since > datetime.timedelta(
            seconds=self.spec.progress_deadline_seconds
        )
        if not late or (pods.available >= wanted and not pods.crash_looping):
            return None
        return reasons.CRASH_LOOPING if pods.crash_looping else reasons.PROGRESS_DEADLINE

    def roll(self, target: str) -> None:
        if self.st.manual_pause and not self.st.promote_full:
            self.set_phase("Paused", "paused by actions.pause; actions.resume continues")
            return
        if self.spec.strategy.type == "RollingUpdate" or self.st.promote_full:
            self.promoting(target)
        else:
            self.canary(target)

    def begin_promotion(self, target: str) -> None:
        """Every step done (or skipped): from now on the stable Deployment moves to `target`."""
        if self.st.analysis is not None:
            self.archive(self.st.analysis)
        self.st.promote_full = True
        self.st.available_max, self.st.progress_at = 0, self.now
        self.promoting(target)

    def promoting(self, target: str) -> None:
        """Move the stable Deployment to `target` at full size; traffic follows once it is Ready."""
        size = full_size(self.spec)
        weight = self.st.canary_weight
        self.actions += [Apply("stable", target, self.template(target), size), SetWeight(weight)]
        pods = self.pods("stable", target)
        stalled = self.stalled(pods, size)
        if stalled:
            self.start_abort(stalled, f"{pods.available}/{size} pods of {target} available")
            self.aborting()
            return
        if pods.available < size:
            phase = "Promoting" if self.spec.strategy.type == "Canary" else "Progressing"
            self.set_phase(phase, f"{pods.available}/{size} stable pods of {target} available")
            self.wait(WAIT_S)
            return
        self.actions += [SetWeight(0), RemoveCanary()]
        self.close(self.st.stable_revision, "Superseded")
        self.close(target, "RolledBack" if self.st.rollback_to == target else "Promoted")
        self.st.stable_revision, self.st.canary_revision = target, None
        self.st.canary_weight, self.st.current_step, self.st.promote_full = 0, None, False
        self.st.progress_at, self.st.available_max = None, 0
        self.set_phase("Healthy", f"revision {target} promoted at {size} pods")
        self.say(reasons.PROMOTED, f"Revision {target} is stable")

    def canary(self, target: str) -> None:
        steps = self.spec.strategy.canary_steps
        if "promote" in self.requested:
            if self.spec.actions.promote.full:
                self.say(reasons.PROMOTING, "Full promote asked: remaining steps skipped")
                self.begin_promotion(target)
                return
            self.say(reasons.STEP_PROMOTED, f"Step {self.st.current_step} skipped by promote")
            self.next_step()
        index = self.st.current_step or 0
        if index >= len(steps):
            self.begin_promotion(target)
            return
        step = steps[index]
        weight = self.st.canary_weight
        wanted = canary_size(self.spec, step.set_weight if step.set_weight is not None else weight)
        stable = self.st.stable_revision
        self.actions += [
            Apply("canary", target, self.template(target), wanted),
            Apply("stable", stable or "", self.template(stable), stable_size(self.spec, weight)),
            SetWeight(weight),
        ]
        pods = self.pods("canary", target)
        stalled = self.stalled(pods, wanted)
        if stalled:
            self.start_abort(
                stalled, f"{pods.available}/{wanted} canary pods of {target} available"
            )
            self.aborting()
            return
        if pods.available < wanted:
            self.set_phase("Progressing", f"{pods.available}/{wanted} canary pods available")
            self.wait(WAIT_S)
            return
        if step.set_weight is not None:
            self.st.canary_weight = step.set_weight
            self.actions += [
                SetWeight(step.set_weight),
                Apply(
                    "stable",
                    stable or "",
                    self.template(stable),
                    stable_size(self.spec, step.set_weight),
                ),
            ]
            self.say(reasons.WEIGHT_SET, f"Step {index}: {step.set_weight}% of traffic on {target}")
            self.next_step()
            self.canary(target)
        elif step.pause is not None:
            self.pause(step.pause, target)
        elif step.analysis is not None:
            self.analyse(step.analysis, target)

    def next_step(self) -> None:
        if self.st.analysis is not None:
            self.archive(self.st.analysis)
        self.st.current_step = (self.st.current_step or 0) + 1
        self.st.step_started_at = self.st.progress_at = self.now
        self.st.phase = "Progressing"
        self.requested.discard("promote")
        self.requested.discard("resume")

    def pause(self, pause: servicerelease.Pause, target: str) -> None:
        index = self.st.current_step or 0
        if pause.duration is None:
            if "resume" in self.requested:
                self.say(reasons.RESUMED, f"Step {index}: resumed")
                self.next_step()
                self.canary(target)
                return
            self.set_phase("Paused", f"step {index}: paused until actions.resume")
            return
        ends = analysis.parse(self.st.step_started_at or self.now) + datetime.timedelta(
            seconds=analysis.seconds(pause.duration)
        )
        if self.world.now >= ends:
            self.next_step()
            self.canary(target)
            return
        self.set_phase("Paused", f"step {index}: paused until {analysis.iso(ends)}")
        self.wait((ends - self.world.now).total_seconds())

    def analyse(self, check: servicerelease.AnalysisCheck, target: str) -> None:
        index = self.st.current_step or 0
        run = self.st.analysis
        if run is None or run.step != index or run.revision != target:
            run = AnalysisRun(step=index, revision=target, phase="Running", started_at=self.now)
        if run.phase == "Inconclusive":
            if "resume" not in self.requested and "retry" not in self.requested:
                self.st.analysis = run
                self.set_phase("Paused", f"step {index}: analysis inconclusive; resume re-runs it")
                return
            self.archive(run)
            run = AnalysisRun(step=index, revision=target, phase="Running", started_at=self.now)
        measurement = self.world.measurement
        if measurement is not None and analysis.next_due(check, run) <= self.world.now:
            run.measurements.append(measurement)
            run.phase = analysis.outcome(check, run.measurements)
        self.st.analysis = run
        if run.phase == "Failed":
            self.start_abort(reasons.ANALYSIS_FAILED, f"step {index}: {_tally(run)}")
            self.aborting()
        elif run.phase == "Inconclusive":
            self.set_phase("Paused", f"step {index}: analysis inconclusive ({_tally(run)})")
            self.say(reasons.ANALYSIS_INCONCLUSIVE, f"Step {index}: {_tally(run)}", True)
        elif run.phase == "Successful":
            self.say(reasons.ANALYSIS_SUCCESSFUL, f"Step {index}: {_tally(run)}")
            self.next_step()
            self.canary(target)
        else:
            self.set_phase("Progressing", f"step {index}: analysis {_tally(run)}")
            due = analysis.next_due(check, run)
            self.wait(max(0.0, (due - self.world.now).total_seconds()))

    def archive(self, run: AnalysisRun) -> None:
        self.st.analysis = None
        self.st.analysis_runs = [*self.st.analysis_runs, run][-ANALYSIS_RUNS_MAX:]

    # -- abort --------------------------------------------------------------------------------

    def start_abort(self, reason: str, message: str) -> None:
        self.st.abort = AbortRecord(
            reason=reason, message=message, revision=self.st.canary_revision or "", at=self.now
        )
        self.st.promote_full = False
        if self.st.analysis is not None:
            self.archive(self.st.analysis)
        self.set_phase("Aborting", f"{reason}: {message}")
        self.say(reasons.ABORTING, f"{reason}: {message}", True)

    def aborting(self) -> None:
        """Stable first, at full size; traffic moves back only once it is Ready at full size."""
        stable = self.st.stable_revision
        size = full_size(self.spec)
        record = self.st.abort
        self.actions.append(Apply("stable", stable or "", self.template(stable), size))
        pods = self.pods("stable", stable)
        if pods.available < size:
            message = f"waiting for the stable: {pods.available}/{size} pods available"
            self.set_phase("Aborting", message)
            self.wait(WAIT_S)
            return
        self.actions += [SetWeight(0), RemoveCanary()]
        if record is not None:
            record.stable_ready_at = self.full_since(pods, size, record.at)
            record.weight_restored_at = self.now
            self.close(record.revision, "Aborted")
        self.st.canary_revision, self.st.canary_weight, self.st.current_step = None, 0, None
        self.st.progress_at, self.st.available_max = None, 0
        self.set_phase("Aborted", f"{record.reason if record else 'Aborted'}: traffic on {stable}")
        self.say(reasons.ABORTED, f"All traffic back on revision {stable}", True)

    def full_since(self, pods: Pods, size: int, floor: str) -> str:
        """When `pods` reached `size` Ready pods, by their own Ready times (the `size`-th oldest
        of the pods Ready now), no earlier than `floor` (a stable already at full size when the
        abort began was so from the abort on) and no later than now; now when the pods' times
        are not seen yet."""
        if size < 1 or len(pods.ready_since) < size:
            return self.now
        reached = max(pods.ready_since[size - 1], analysis.parse(floor))
        return analysis.iso(min(reached, self.world.now))


def _tally(run: AnalysisRun) -> str:
    phases = [m.phase for m in run.measurements]
    return ", ".join(f"{p.lower()} {phases.count(p)}" for p in dict.fromkeys(phases)) or "started"


def decide(
    spec: servicerelease.ServiceReleaseSpec, status: ServiceReleaseStatus, world: World
) -> Decision:
    """The next status and the actions, in order, that make the world follow it."""
    return _Machine(spec, status, world).decide()


def abort_is_current(spec: servicerelease.ServiceReleaseSpec, status: ServiceReleaseStatus) -> bool:
    """Whether `status.abort` (kept as the last abort) tells how the release's last rollout ended
    or is ending, rather than an earlier rollout's: the abort under way or just done, or the
    revision the release targets held back as aborted (`decide`'s aborted branch, Degraded too
    while the stable comes back). A retry of it, a later revision or a rollback make it history."""
    abort = status.abort
    if abort is None:
        return False
    if status.phase in ("Aborting", "Aborted"):
        return True
    spec_hash = revision.hash_of(revision.template_of(spec))
    rolling_back = status.rollback_to is not None and status.rollback_from == spec_hash
    target = status.rollback_to if rolling_back else spec_hash
    return (
        status.canary_revision is None
        and abort.revision == target
        and abort.revision != status.stable_revision
    )
