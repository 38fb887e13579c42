"""Loopback ports and readiness probes for the platform's servers."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports, held open together so none is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def sticky_ports(path: Path, count: int) -> list[int]:
    """Ports chosen once per run directory and kept in `path`, so a restart keeps its URLs; when
    more are asked for than were kept (a service was added), the new ones are appended."""
    kept = [int(port) for port in path.read_text().split()] if path.exists() else []
    if len(kept) < count:
        added = [port for port in free_ports(count + len(kept)) if port not in kept]
        kept += added[: count - len(kept)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(" ".join(str(port) for port in kept))
    return kept[:count]


def tcp_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(
    url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None
) -> bool:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


class NotReady(RuntimeError):
    """A server did not become ready in time; the message carries its log tail."""


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    died: Callable[[], bool] = lambda: False,
    diagnostics: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if died():
            raise NotReady(f"{what} exited during start-up:\n{diagnostics()}")
        time.sleep(0.2)
    raise NotReady(f"{what} not ready after {timeout:.0f} s:\n{diagnostics()}")
