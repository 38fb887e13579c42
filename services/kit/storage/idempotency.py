"""Doing a thing once although it arrives twice: message dedupe and HTTP Idempotency-Key.

Both work inside the caller's transaction, so the bookkeeping commits (or rolls back) together
with the effect it guards. A consumer calls `first_time(...)` before its effect: a redelivered
message finds its id and is acknowledged without effect; a handler that fails rolls the id back
and the retry runs the effect again. For HTTP, `claim` a key with the response (known up front:
the id of what the work creates) in the work's transaction: a concurrent duplicate blocks on the
key's row until the first commits, then replays the stored response. Keys live 24 hours; the
same key with a different request (by fingerprint) is refused with 422, as the IETF
Idempotency-Key draft says. Tables: include
`schema.IDEMPOTENCY_V1` and `schema.IDEMPOTENCY_V2` in the service's migrations; `housekeeping`
deletes expired keys and old dedupe rows.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import NamedTuple

from meridian.core.runtime import db, problems

KEY_TTL = datetime.timedelta(hours=24)
MAX_KEY_LENGTH = 255


async def first_time(connection: db.Connection, consumer: str, message_id: str) -> bool:
    """True the first time `consumer` sees `message_id` (call inside the handler's transaction)."""
    status = await connection.execute(
        "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        consumer,
        message_id,
    )
    return status == "INSERT 0 1"


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same request" for one key: method, path and exact body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class StoredResponse(NamedTuple):
    status: int
    content_type: str
    body: bytes


async def claim(
    connection: db.Connection,
    *,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: str,
    ttl: datetime.timedelta = KEY_TTL,
    response: StoredResponse | None = None,
) -> StoredResponse | None:
    """None: the key is ours, do the work. Else the response to replay.

    `response`: the answer, stored with the claim, so the transaction that does the work commits
    the key and its answer together, or neither. Without it the key stays "in progress" (409 to a
    duplicate) until it expires.
    """
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise problems.BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    # One statement: a new key is inserted, an expired one is taken over, a live one is left
    # alone (and its row locked, so a twin still working on it is waited for).
    answer: tuple[int | None, str | None, bytes | None] = response or (None, None, None)
    claimed = await connection.fetchval(
        "INSERT INTO idempotency_keys AS k"
        " (tenant_id, key, fingerprint, expires_at, status, content_type, body, created_at)"
        " VALUES ($1, $2, $3, now() + $4::interval, $5, $6, $7, now())"
        " ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
        " expires_at = excluded.expires_at, status = excluded.status,"
        " content_type = excluded.content_type, body = excluded.body,"
        " created_at = excluded.created_at"
        " WHERE k.expires_at <= now() RETURNING true",
        tenant_id,
        key,
        fingerprint,
        ttl,
        *answer,
    )
    if claimed:
        return None
    row = await connection.fetchrow(
        "SELECT fingerprint, status, content_type, body FROM idempotency_keys"
        " WHERE tenant_id = $1 AND key = $2",
        tenant_id,
        key,
    )
    if row is None:  # purged between our statements: a retry claims it
        raise problems.Conflict("The Idempotency-Key changed state; retry the request")
    if row["fingerprint"] != fingerprint:
        raise problems.ValidationProblem(
            [problems.FieldError("", "Idempotency-Key was already used for a different request")],
            detail="Idempotency-Key reused with a different request",
        )
    if row["status"] is None:
        raise problems.Conflict("A request with this Idempotency-Key is still being processed")
    return StoredResponse(row["status"], row["content_type"], bytes(row["body"]))
