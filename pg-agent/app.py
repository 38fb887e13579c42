"""The agent's HTTP API (runtime kit app, loopback, bearer token on everything but the probes):

- `GET /v1/state`: the server (running, in recovery, read-only, timeline, streaming, upstream)
  and the last re-seed (id, state, phase, method, message, count).
- `POST /v1/reseed` `{"id": ..., "primaryConninfo": ...}`: 202 when a re-seed starts or the
  running one of that id is joined; 200 when that id is done or the server already streams
  from that primary (nothing changes); 409 when another id's re-seed runs or the server is a
  writable primary.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import pydantic
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import payloads, problems
from meridian.pg_agent.reseed import Reseeder
from meridian.pg_agent.server import Server
from meridian.pg_agent.settings import PgAgentSettings

RESEEDER = web.AppKey("reseeder", Reseeder)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ReseedRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    id: str = pydantic.Field(min_length=1, max_length=128)
    primary_conninfo: str = pydantic.Field(alias="primaryConninfo", min_length=1, max_length=4096)


def _bearer(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise problems.Unauthorized("a valid bearer token is required")
        return await handler(request)

    return check


async def _state(request: web.Request) -> web.Response:
    reseeder = request.app[RESEEDER]
    state = await reseeder.server.state()
    return web.json_response({"server": state.to_json(), "reseed": reseeder.last()})


async def _reseed(request: web.Request) -> web.Response:
    body = await payloads.read_json(request, ReseedRequest)
    decision, record = await request.app[RESEEDER].request(body.id, body.primary_conninfo)
    if decision in ("busy", "refuse"):
        why = (
            f"re-seed {record.get('id')} is running"
            if decision == "busy"
            else "the server is a writable primary: fence it (or stop it) before re-seeding it"
        )
        raise problems.Conflict(why)
    status = 202 if decision in ("start", "join") else 200
    return web.json_response({"decision": decision, "reseed": record}, status=status)


def create(settings: PgAgentSettings) -> web.Application:
    app = runtime_app.create(settings)
    app.middlewares.append(_bearer(settings.token.get_secret_value()))
    app[RESEEDER] = Reseeder(Server(settings))
    app.router.add_get("/v1/state", _state)
    app.router.add_post("/v1/reseed", _reseed)
    return app


def main() -> None:
    settings = PgAgentSettings()  # required fields (data_dir, pg_port, token) come from the env
    runtime_app.run(create(settings), settings)
