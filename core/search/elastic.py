"""A small Elasticsearch client over the runtime's aiohttp session (no extra dependency).

We use six endpoints (`_bulk`, `_search`, index create/delete, `_aliases`, `_count`); the
official client would add elastic-transport and its own retry and connection policy beside the
runtime's session, which already carries our timeouts, trace context and request ids. What
matters to callers is one distinction: `Unavailable` (unreachable, 5xx, 429: wait and retry, answer
503) versus an answer (`Response`, any other status: the caller decides).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import aiohttp


class Unavailable(Exception):
    """Elasticsearch cannot answer now (down, red, overloaded); the same call may succeed later."""


class Response(NamedTuple):
    status: int
    body: dict[str, Any]


class Elastic:
    def __init__(self, session: aiohttp.ClientSession, url: str, *, timeout_s: float) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 2.0))

    async def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        data = None if body is None else json.dumps(body)
        return await self._send(method, path, data, "application/json", params)

    async def bulk(
        self, lines: Sequence[Mapping[str, Any]], *, params: Mapping[str, str] | None = None
    ) -> Response:
        data = "".join(json.dumps(line) + "\n" for line in lines)
        return await self._send("POST", "/_bulk", data, "application/x-ndjson", params)

    async def _send(
        self,
        method: str,
        path: str,
        data: str | None,
        content_type: str,
        params: Mapping[str, str] | None,
    ) -> Response:
        headers = {"Content-Type": content_type} if data is not None else {}
        # A file-like body is written in chunks: aiohttp warns (and the tests' warnings-as-errors
        # fail the call) on raw bodies over 1 MiB, which a `_bulk` of 1,000 products passes.
        body = None if data is None else io.BytesIO(data.encode())
        try:
            async with self.session.request(
                method,
                self.url + path,
                data=body,
                params=params,
                headers=headers,
                timeout=self.timeout,
            ) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Unavailable(
                f"Elasticsearch unreachable: {type(error).__name__}: {error}"
            ) from error
        if status >= 500 or status == 429:
            raise Unavailable(f"Elasticsearch answered {status}: {text[:300]}")
        parsed = json.loads(text) if text else {}
        return Response(status, parsed if isinstance(parsed, dict) else {"value": parsed})
