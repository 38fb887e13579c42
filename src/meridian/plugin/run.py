"""How a plugin command talks to the cluster: one lightkube client per invocation, closed after.

Handlers are `async def handler(client, args) -> int`; `kube_command` turns one into the sync
`args.handler` argparse calls, so every group opens and closes its client the same way and a
missing kubeconfig is one clear line on stderr rather than a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError, ConfigError

from meridian.core import kube

AsyncHandler = Callable[[AsyncClient, argparse.Namespace], Awaitable[int]]


def kube_command(handler: AsyncHandler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            client = kube.client(args.kubeconfig)
        except ConfigError as error:
            print(f"error: no usable kubeconfig: {error}", file=sys.stderr)
            return 2
        return asyncio.run(_run(handler, client, args))

    return run


async def _run(handler: AsyncHandler, client: AsyncClient, args: argparse.Namespace) -> int:
    try:
        return await handler(client, args)
    except ApiError as error:
        print(f"error: {error.status.message}", file=sys.stderr)
        return 1
    finally:
        await client.close()
