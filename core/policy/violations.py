"""One violation of one policy by one object: what the webhook denies or warns with and what the
audit controller reports, in one message shape (policy, field, what is wrong, fix)."""

from __future__ import annotations

from dataclasses import dataclass

from meridian.core.policy.catalogue import Policy


@dataclass(frozen=True)
class Violation:
    policy: Policy
    field: str  # the path the user edits, e.g. spec.replicas
    problem: str

    def text(self) -> str:
        return f"{self.policy.name}: {self.field}: {self.problem}; fix: {self.policy.fix}"
