"""Fixtures shared by every test folder: the repository root and the generated CRD files."""

from __future__ import annotations

import gc
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
