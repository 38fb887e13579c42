"""What a service image is, written once: read by the local builder (`imagebuild`) and checked
against `deploy/Dockerfile` by a unit test, so the image CI builds with Docker and the one built
here without it agree on base, user, paths, entrypoint and how the runtime wheels are chosen.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

SERVICES = ("gateway", "auth", "orders", "inventory", "fulfillment", "search")
REGISTRY = "ghcr.io/meridian"

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "deploy" / "Dockerfile"

USER = "10001:10001"
"""Numeric, so `runAsNonRoot` can check it without an /etc/passwd entry."""

DEPS = "/opt/meridian/deps"
"""The runtime wheels, installed with `pip install --target` (one layer, shared by every service)."""
APP = "/opt/meridian/app"
"""The `meridian` package: only what services import (the package root, core, services)."""
WORKDIR = APP

ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    f"PYTHONPATH={APP}:{DEPS}",
    "PYTHONDONTWRITEBYTECODE=1",
    "PYTHONUNBUFFERED=1",
)

CODE = (
    ("src/meridian/__init__.py", "meridian/__init__.py"),
    ("src/meridian/__main__.py", "meridian/__main__.py"),
    ("src/meridian/cli.py", "meridian/cli.py"),
    ("core", "meridian/core"),
    ("services", "meridian/services"),
)
"""Repository path -> path under `APP`: the code layer (Docker's `COPY`s say the same)."""

PYTHON = "3.11"
GLIBC_TAGS = ("2_36", "2_34", "2_31", "2_28", "2_24", "2_17", "2014", "2010", "1")
"""manylinux tags bookworm's glibc 2.36 runs, each named: pip 23 does not widen one to the rest."""
PIP_TARGET_ARGS = (
    "--only-binary=:all:",
    *(f"--platform=manylinux{'_' if '_' in tag else ''}{tag}_x86_64" for tag in GLIBC_TAGS),
    f"--python-version={PYTHON}",
    "--implementation=cp",
    "--abi=cp311",
    "--no-compile",
)
"""Wheels for Debian bookworm's python3 (CPython 3.11, glibc 2.36), whichever Python runs pip."""


def entrypoint(service: str) -> list[str]:
    return ["python3", "-m", f"meridian.services.{service}"]


def runtime_requirements() -> list[str]:
    """`[project] dependencies` of pyproject.toml: never the dev extras."""
    with (REPO / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


TARGET_ONLY_REQUIREMENTS = ("async-timeout>=4.0.3",)
"""What the image's Python needs that pip, run by another Python, leaves out: `--python-version`
does not reach the environment markers, which pip evaluates against the Python running it (the
venv's 3.11.7), and redis needs async-timeout below 3.11.3 (bookworm's python3 is 3.11.2).
Without it every service importing `redis.asyncio` dies at start in its pod. The Dockerfile's
pip runs on bookworm's python3 and evaluates the marker right."""


def image_requirements() -> list[str]:
    """What the wheels layer installs: the runtime requirements, for the image's Python."""
    return [*runtime_requirements(), *TARGET_ONLY_REQUIREMENTS]


def version() -> str:
    with (REPO / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])
