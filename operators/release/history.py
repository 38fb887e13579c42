"""The bounded revision history in a release's status: add, look up, close.

Every template a release ran is an entry numbered in order (what `actions.rollback.revision`
names); beyond the spec's `revisionHistoryLimit` the oldest entries go, but never one in use
(the stable, the canary, a rollback's target, the one being added).
"""

from __future__ import annotations

from collections.abc import Set

from meridian.core.api.v1alpha1.servicerelease_status import (
    Outcome,
    RevisionRecord,
    ServiceReleaseStatus,
    Template,
)
from meridian.operators.release import revision


def record(
    status: ServiceReleaseStatus,
    template: Template,
    limit: int,
    in_use: Set[str | None],
    now: str,
) -> RevisionRecord:
    """The history entry of `template`, added with the next revision number if new."""
    digest = revision.hash_of(template)
    for entry in status.history:
        if entry.hash == digest:
            return entry
    status.latest_revision += 1
    entry = RevisionRecord(revision=status.latest_revision, hash=digest, template=template, at=now)
    status.history.append(entry)
    keep = {*in_use, digest}
    while len(status.history) > limit:
        oldest = next((e for e in status.history if e.hash not in keep), None)
        if oldest is None:
            break
        status.history.remove(oldest)
    return entry


def template(status: ServiceReleaseStatus, digest: str | None) -> Template:
    entry = next((e for e in status.history if e.hash == digest), None)
    if entry is None:
        raise LookupError(f"revision {digest} is not in status.history")
    return entry.template


def close(status: ServiceReleaseStatus, digest: str | None, outcome: Outcome) -> None:
    for entry in status.history:
        if entry.hash == digest:
            entry.outcome = outcome
