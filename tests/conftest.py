"""Fixtures shared by every test folder: the repository root and the generated CRD files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# The platform fixtures are session-wide: integration and e2e tests share one platform.
pytest_plugins = ["tests.platform_fixtures"]
