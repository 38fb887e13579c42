"""The tenant admin's handle on reindexing (`search:admin`): start one, and watch its progress.

`POST /v1/search/reindex` starts a reindex of the caller's tenant (or resumes an abandoned one)
and answers 202 with its progress; asked again while one runs, on any replica, it answers the
same run (a repeated request starts nothing new). `GET /v1/search/reindex` shows the last run:
state, documents copied, started, finished. The tenant is the caller's, as for every search
route; `kubectl meridian search reindex|status` calls these through the gateway.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import problems
from meridian.core.search import elastic
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity
from meridian.services.search import jobs, reindex
from meridian.services.search.settings import SETTINGS

REINDEXER = web.AppKey("reindexer", reindex.Reindexer)


def _json(progress: jobs.Progress, status: int = 200) -> web.Response:
    return web.json_response(text=progress.model_dump_json(), status=status)


def _unavailable(request: web.Request, error: Exception) -> problems.ServiceUnavailable:
    return problems.ServiceUnavailable(
        f"Reindex is unavailable for now: {error}",
        retry_after=request.app[SETTINGS].unavailable_retry_after_s,
    )


async def start_reindex(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.SEARCH_ADMIN)
    try:
        progress = await request.app[REINDEXER].start(caller.tenant_id, caller.subject)
    except (elastic.Unavailable, reindex.NotConfigured) as error:
        raise _unavailable(request, error) from error
    return _json(progress, status=202)


async def reindex_status(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.SEARCH_ADMIN)
    try:
        progress = await request.app[REINDEXER].status(caller.tenant_id)
    except elastic.Unavailable as error:
        raise _unavailable(request, error) from error
    if progress is None:
        raise problems.NotFound("This tenant's catalogue has never been reindexed")
    return _json(progress)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/search/reindex", start_reindex)
    app.router.add_get("/v1/search/reindex", reindex_status)
