"""The kit's table revisions are frozen: migrations include them by reference."""

from __future__ import annotations

import hashlib

import pytest

from meridian.services.kit.storage import schema

# A mismatch means a released revision was edited. Revert it, and put the change in a new
# revision (OUTBOX_V2 = ALTER ...) plus a new migration in each service that includes the table.
RELEASED = {
    "OUTBOX_V1": "32fbab7ae1ff2b620617a8be8bdd614d7d4ddfd20be17ddfc8ee52fdfe861a9a",
    "OUTBOX_V2": "ee6d65249dc0169431a7e1ebafad3c2cb5156f5be8d369ed3e0fcfd413e413f8",
    "IDEMPOTENCY_V1": "5ae0356f882ccf87380cee0248ce72dc043596431350806651aca0e9181e3d3d",
    "IDEMPOTENCY_V2": "d0f8d4a809ac3e07d74487415203c79e20f56cd6a0d5cab1cf86212b4a049907",
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_a_released_revision_is_never_edited(name: str) -> None:
    statements: tuple[str, ...] = getattr(schema, name)
    digest = hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()
    assert digest == RELEASED[name], f"schema.{name} changed after release"


def test_each_string_is_one_statement() -> None:
    """asyncpg prepares one statement per execute; a hidden second one would fail a migration."""
    for name in RELEASED:
        for statement in getattr(schema, name):
            assert ";" not in statement, f"schema.{name}: {statement[:40]}..."


def test_every_revision_is_pinned() -> None:
    """A new revision is released with its digest here, or it could change unnoticed."""
    assert {name for name in vars(schema) if name.isupper()} == set(RELEASED)
