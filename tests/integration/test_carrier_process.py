"""The carrier fake as the local platform runs it: its own process, a sticky port, Bearer auth."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from meridian.localplatform import carrier
from meridian.localplatform.processes import Supervisor


def test_start_serves_the_carrier_until_stopped(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    try:
        url = carrier.start(supervisor, tmp_path / "carrier")
        assert carrier.start(supervisor, tmp_path / "carrier") == url  # idempotent, same port
        request = urllib.request.Request(f"{url}/_stats")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["shipments"] == 0
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/v1/labels/shp_x.pdf", timeout=5)
        assert refused.value.code == 401
        refused.value.close()
    finally:
        assert supervisor.stop_all(timeout=5.0) == ["carrier"]
