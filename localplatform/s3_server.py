"""The S3-compatible store: moto's server mode (PyPI), with the platform's buckets created.

moto keeps objects in memory, which is what a dev platform wants: fast, and gone with `down`.
The same server answers Route53 for the DR drill. Buckets are the ones ARCHITECTURE.md names.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from meridian.localplatform import net
from meridian.localplatform.processes import ProcessSpec, Supervisor

BUCKETS = ("meridian-media", "meridian-reports", "meridian-backups", "meridian-fulfillment")
ACCESS_KEY = "meridian-local"
SECRET_KEY = "meridian-local-secret"
REGION = "us-east-1"


def _create_bucket(endpoint: str, bucket: str) -> None:
    # moto does not check signatures; a plain PUT creates the bucket (idempotent in us-east-1).
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    with urllib.request.urlopen(request, timeout=10):
        pass


def start(supervisor: Supervisor, run_dir: Path) -> str:
    (port,) = net.sticky_ports(run_dir / "port", 1)
    supervisor.start(
        ProcessSpec(
            name="s3",
            argv=[sys.executable, "-m", "moto.server", "-H", net.LOOPBACK, "-p", str(port)],
            cwd=run_dir,
        )
    )
    endpoint = f"http://{net.LOOPBACK}:{port}"
    supervisor.wait_ready("s3", lambda: net.http_ok(f"{endpoint}/moto-api/"), timeout=60)
    for bucket in BUCKETS:
        _create_bucket(endpoint, bucket)
    return endpoint
