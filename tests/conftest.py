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


_FROZEN_IN: list[Path | None] = [None]
"""The test file whose objects `gc.freeze` keeps out of the collections (none yet)."""


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Finalizers of objects a test leaked (an unclosed connection, a never-awaited coroutine)
    run here, so pytest reports them against that test. Left to chance, they run inside some later
    allocation: once inside pytest's assertion rewriter, whose traceback formatting re-entered
    `ast.parse` and failed an unrelated test with "AST constructor recursion depth mismatch".

    What survives a test's collection is frozen (`gc.freeze`): the next test's collection looks
    only at objects made since, not again at the whole heap (every module, fixture and cache of
    the session: 0.2 s a test on 2 busy cores, most of the unit tests' run time). The first test
    of each file thaws everything first: the garbage of the previous file's module fixtures, torn
    down just before, is found there, as it was before freezing. Only an object that outlived the
    test that made it and became cyclic garbage in a later test of the same file is reported late,
    at the first test of the next file.
    """
    if request.node.path != _FROZEN_IN[0]:
        gc.unfreeze()
        _FROZEN_IN[0] = request.node.path
    yield
    gc.collect()
    gc.freeze()


def pytest_sessionfinish() -> None:
    """Everything collectable again for the interpreter's exit."""
    gc.unfreeze()


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
