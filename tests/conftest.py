"""Fixtures shared by every test folder: the repository root and the generated CRD files."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# The platform fixtures are session-wide: integration and e2e tests share one platform.
pytest_plugins = ["tests.platform_fixtures"]


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Finalizers of objects a test leaked (an unclosed connection, a never-awaited coroutine)
    run here, so pytest reports them against that test. Left to chance, they run inside some later
    allocation: once inside pytest's assertion rewriter, whose traceback formatting re-entered
    `ast.parse` and failed an unrelated test with "AST constructor recursion depth mismatch".
    """
    yield
    gc.collect()


_OWNED_BY_A_SERVER = frozenset({"RequestHandler.start"})
"""Tasks an aiohttp server runs per connection: the server (a longer-lived fixture) owns and ends
them; one that answered 413 lingers up to 10 s reading the unread body, after the test is over."""


def _pending_tasks() -> set[asyncio.Task[object]]:
    """Unfinished tasks of every event loop, running or not (asyncio has no public API for that:
    `asyncio.all_tasks()` needs a running loop, and between tests the session loop is idle)."""
    if sys.version_info >= (3, 12):
        every = set(asyncio.tasks._scheduled_tasks) | set(asyncio.tasks._eager_tasks)
    else:
        every = set(asyncio.tasks._all_tasks)
    return {
        task
        for task in every
        if not task.done()
        and getattr(task.get_coro(), "__qualname__", None) not in _OWNED_BY_A_SERVER
    }


def _settle(tasks: set[asyncio.Task[object]]) -> None:
    """Let idle loops run their ready callbacks, so a task cancelled or finishing on the test's
    last line is not counted (kopf does the same for pytest-asyncio's own wrappers)."""
    for loop in {task.get_loop() for task in tasks}:
        if not loop.is_running() and not loop.is_closed():
            for _ in range(3):
                loop.run_until_complete(asyncio.sleep(0))


@pytest.fixture(autouse=True)
def _no_asyncio_pending_tasks() -> Iterator[None]:
    """Fail a test that leaves asyncio tasks behind (an un-awaited `create_task`, a background loop
    never stopped): with one event loop per session they would keep running into later tests.

    Tasks that session- or module-scoped fixtures start are set up before this fixture and are
    not counted; function-scoped fixtures are torn down before the check (pytest orders them so).
    """
    before = _pending_tasks()
    yield
    left = _pending_tasks() - before
    if left:
        _settle(left)
        left = _pending_tasks() - before
    if left:
        pytest.fail(f"asyncio tasks left pending by this test: {sorted(map(repr, left))}")
