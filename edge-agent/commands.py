"""Running the configured validate, reload and upgrade commands: argument lists, never a shell.

KubeEdge pasted spec fields into a shell command line (CVE-2026-62371, CVE-2026-62182); here a
command is `argv` exec'd directly, and anything that came from the API is one argument of it, so
`; touch /tmp/pwned` or `$(...)` reaches the program verbatim as data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import NamedTuple

# Enough of a failing command's output to say why in status, not a log dump.
OUTPUT_TAIL = 512


class Result(NamedTuple):
    ok: bool
    detail: str


async def run(argv: Sequence[str], *, timeout_s: float) -> Result:
    """Run `argv` (stdin closed, stdout+stderr captured); not ok on a non-zero exit, a timeout
    (the process is killed) or a program that cannot be started."""
    if not argv:
        return Result(True, "no command configured")
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        return Result(False, f"{argv[0]}: cannot start: {error.strerror or error}")
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return Result(False, f"{argv[0]}: no result within {timeout_s:g}s, killed")
    text = output.decode(errors="replace").strip()[-OUTPUT_TAIL:]
    if process.returncode != 0:
        return Result(False, f"{argv[0]} exited {process.returncode}: {text}".rstrip(": "))
    return Result(True, text)
