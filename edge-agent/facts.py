"""What the agent reports about its machine: facts (rarely change) and metrics (always do).

Facts are part of the status change check, so a kernel upgrade or a memory swap is reported at
once; metrics are refreshed with every status write but never cause one, or a load average
would mean a write every sync.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any


def _os_name(os_release: Path) -> str:
    try:
        text = os_release.read_text()
    except OSError:
        return platform.system()
    values = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    return values.get("PRETTY_NAME", platform.system()).strip().strip('"')


def facts(os_release: Path = Path("/etc/os-release")) -> dict[str, Any]:
    """EdgeNode status.facts, camelCase as the API stores them."""
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
    return {
        "hostname": socket.gethostname(),
        "os": _os_name(os_release),
        "kernel": platform.release(),
        "cpus": os.cpu_count() or 0,
        "memoryBytes": pages * page_size,
    }


def disk_free_bytes(path: Path) -> int | None:
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def load1() -> float:
    return os.getloadavg()[0]
