"""A model of the cluster for the state machine's tests: Deployments become available one
decision after they are applied (unless a revision is broken), each new pod Ready `READY_AFTER`
after the apply that asked for it, the route holds a weight, and a query answers what the test
says. Every decision and the world it saw are kept, in order."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, NamedTuple

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.servicerelease_status import ServiceReleaseStatus
from meridian.operators.release import analysis, decision, machine, plan, revision
from meridian.operators.release.resources import Role

T0 = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)
READY_AFTER = datetime.timedelta(milliseconds=400)


class Tick(NamedTuple):
    at: datetime.datetime
    world: decision.World
    decision: decision.Decision


class Simulation:
    def __init__(self, spec: servicerelease.ServiceReleaseSpec) -> None:
        self.spec = spec
        self.status = ServiceReleaseStatus()
        self.now = T0
        self.deployments: dict[Role, tuple[str, int]] = {}
        self.ready_since: dict[Role, list[datetime.datetime]] = {}
        """Each role's pods' Ready times, oldest first (a scale-down removes the newest)."""
        self.weight = 0
        self.never_ready: set[str] = set()
        self.crash_looping: set[str] = set()
        self.query: Callable[[], float | None] = lambda: 0.0
        self.ticks: list[Tick] = []

    def revision_of(self, spec: servicerelease.ServiceReleaseSpec | None = None) -> str:
        return revision.hash_of(revision.template_of(spec or self.spec))

    def change(self, **fields: Any) -> None:
        merged = {**self.spec.model_dump(), **fields}
        self.spec = servicerelease.ServiceReleaseSpec.model_validate(merged)

    def ask(self, action: str, **fields: Any) -> None:
        """`kubectl meridian release <action>`: the action's counter goes up by one."""
        current = getattr(self.spec.actions, action)
        raised = current.model_copy(update={"count": current.count + 1, **fields})
        self.change(actions=self.spec.actions.model_copy(update={action: raised}))

    def _pods(self, tick: int) -> dict[tuple[Role, str], decision.Pods]:
        pods = {}
        for role, (rev, replicas) in self.deployments.items():
            if rev in self.never_ready:
                pods[(role, rev)] = decision.Pods(0, 0)
            elif rev in self.crash_looping:
                pods[(role, rev)] = decision.Pods(tick % 2, replicas)  # Ready, crash, Ready...
            else:
                pods[(role, rev)] = decision.Pods(replicas, 0, tuple(self.ready_since[role]))
        return pods

    def _apply(self, action: decision.Apply) -> None:
        if self.deployments.get(action.role, ("", 0))[0] != action.revision:
            self.ready_since[action.role] = []  # a new revision: new pods
        times = self.ready_since.setdefault(action.role, [])
        del times[action.replicas :]
        times += [self.now + READY_AFTER] * (action.replicas - len(times))
        self.deployments[action.role] = (action.revision, action.replicas)

    def step(self, seconds: float = 1.0) -> decision.Decision:
        self.now += datetime.timedelta(seconds=seconds)
        measurement = None
        check = plan.measurement_due(self.spec, self.status, self.now)
        if check is not None:
            measurement = analysis.judge(check, self.query(), analysis.iso(self.now), "refused")
        world = decision.World(self.now, self._pods(len(self.ticks)), measurement)
        decided = machine.decide(self.spec, self.status, world)
        for action in decided.actions:
            if isinstance(action, decision.Apply):
                self._apply(action)
            elif isinstance(action, decision.SetWeight):
                self.weight = action.weight
            elif isinstance(action, decision.RemoveCanary):
                self.deployments.pop("canary", None)
        self.status = decided.status
        self.ticks.append(Tick(self.now, world, decided))
        return decided

    def run(self, seconds: float, every: float = 1.0) -> None:
        for _ in range(int(seconds / every)):
            self.step(every)

    def until(self, phase: str, limit: int = 2000, every: float = 1.0) -> None:
        for _ in range(limit):
            self.step(every)
            if self.status.phase == phase:
                return
        raise AssertionError(f"never {phase}: {self.status.phase} ({self.status.message})")

    def actions(self, kind: type) -> list[Any]:
        return [a for t in self.ticks for a in t.decision.actions if isinstance(a, kind)]

    def reasons(self) -> list[str]:
        return [a.reason for a in self.actions(decision.Announce)]
