"""A minimal upstream for the gateway benchmark: `python -m tests.bench.upstream_echo PORT`."""

from __future__ import annotations

import sys

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True, "tenant": request.headers.get("X-Meridian-Tenant-Id")})


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", echo)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
