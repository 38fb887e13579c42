"""Who is calling: the identity the gateway forwards in `contracts.IDENTITY_HEADERS`.

Handlers call `of(request, needs=<scope>)` once and scope everything by its `tenant_id` (through
`db.tenant_connection`); a request without a well-formed tenant header is refused with 401, and
one whose token lacks the operation's scope with 403, before any query runs. Every handler names
its scope: there is no default, so a new route cannot forget to check. `forward(identity)` gives
the headers a service passes on when it calls a peer on the caller's behalf, so the peer scopes
by the same tenant (and checks the same scopes).
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from aiohttp import web

from meridian.core.runtime import problems
from meridian.services.kit import contracts


class Identity(NamedTuple):
    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]


def of(request: web.Request, *, needs: str) -> Identity:
    raw = request.headers.get(contracts.TENANT_HEADER, "")
    try:
        tenant_id = uuid.UUID(raw)
    except ValueError:
        raise problems.Unauthorized(
            f"{contracts.TENANT_HEADER} is missing or not a UUID (requests come through the gateway)"
        ) from None
    scopes = frozenset(request.headers.get(contracts.SCOPES_HEADER, "").split())
    if needs not in scopes:
        raise problems.Forbidden(f"The token lacks the scope {needs!r} this operation needs")
    return Identity(
        tenant_id=tenant_id,
        subject=request.headers.get(contracts.SUBJECT_HEADER, ""),
        scopes=scopes,
    )


def forward(identity: Identity) -> dict[str, str]:
    """The identity headers for a call to a peer service on the caller's behalf."""
    return {
        contracts.TENANT_HEADER: str(identity.tenant_id),
        contracts.SUBJECT_HEADER: identity.subject,
        contracts.SCOPES_HEADER: " ".join(sorted(identity.scopes)),
    }
