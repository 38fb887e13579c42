"""`python -m meridian.services.fulfillment` runs from its environment and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestServer

from meridian.localplatform import carrier, net, platform, s3_server
from tests import issuer

DOCK_7 = {
    "name": "Meridian Dock 7",
    "street1": "7 Pier Road",
    "city": "Newark",
    "postal_code": "07114",
    "country": "US",
}


def test_service_process_becomes_ready_and_stops_cleanly(
    local_platform: platform.PlatformState,
    fulfillment_dsn: str,
    carrier_server: TestServer,
    tmp_path: Path,
) -> None:
    (port,) = net.free_ports(1)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MERIDIAN_FULFILLMENT_PORT": str(port),
        "MERIDIAN_FULFILLMENT_PG_DSN": fulfillment_dsn,
        "MERIDIAN_FULFILLMENT_AMQP_URL": local_platform.rabbitmq_info.amqp_url,
        "MERIDIAN_FULFILLMENT_CARRIER_URL": str(carrier_server.make_url("/")).rstrip("/"),
        "MERIDIAN_FULFILLMENT_CARRIER_API_KEY": carrier.API_KEY,
        "MERIDIAN_FULFILLMENT_S3_ENDPOINT": str(local_platform.s3_endpoint),
        "MERIDIAN_FULFILLMENT_S3_ACCESS_KEY_ID": s3_server.ACCESS_KEY,
        "MERIDIAN_FULFILLMENT_S3_SECRET_ACCESS_KEY": s3_server.SECRET_KEY,
        "MERIDIAN_FULFILLMENT_WAREHOUSE_ORIGINS": json.dumps({"wh-7": DOCK_7}),
        "MERIDIAN_FULFILLMENT_IDENTITY_ISSUERS": json.dumps(issuer.issuers(issuer.TESTS)),
    }
    log = tmp_path / "fulfillment.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "meridian.services.fulfillment"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        net.wait_until(
            lambda: net.http_ok(f"http://{net.LOOPBACK}:{port}/readyz"),
            what="fulfillment",
            timeout=60,
            died=lambda: process.poll() is not None,
            diagnostics=lambda: log.read_text(errors="replace")[-3000:],
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert process.returncode == 0, output[-3000:]
    assert "Service stopped" in output
