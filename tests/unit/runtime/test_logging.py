"""JSON logs: one object per line, kopf's object context reduced to kind and name."""

from __future__ import annotations

import json
import logging

import kopf
import pytest

from meridian.core.runtime import logging as meridian_logging


def test_kopf_object_records_become_compact_json(capsys: pytest.CaptureFixture[str]) -> None:
    meridian_logging.configure("INFO", json=True)
    logging.getLogger("kopf.objects").info(
        "Handler 'reconcile-create' succeeded.",
        extra={
            "settings": kopf.OperatorSettings(),
            "k8s_skip": True,  # kopf's own Event poster leaves this record alone
            "k8s_ref": {"kind": "Tenant", "name": "acme", "namespace": None, "uid": "u"},
            "condition": "Ready",
        },
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "Handler 'reconcile-create' succeeded."
    assert line["level"] == "info"
    assert line["logger"] == "kopf.objects"
    assert line["kind"] == "Tenant"
    assert line["object"] == "acme"
    assert line["condition"] == "Ready"
    assert "settings" not in line
    assert "k8s_ref" not in line
    assert "k8s_skip" not in line
    assert "timestamp" in line
