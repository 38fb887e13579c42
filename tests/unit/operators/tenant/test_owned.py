"""The operator's in-memory view of what it owns: what a snapshot keeps, and what it never keeps."""

from __future__ import annotations

import base64
import hashlib

import kopf

from meridian.operators.tenant import kubernetes, owned, reasons


def test_a_snapshot_keeps_no_secret_data_only_the_keys_hash() -> None:
    """The plaintext API key never sits in the operator's memory; its hash proves delivery."""
    secret = kopf.Body(
        {
            "kind": "Secret",
            "metadata": {"name": "tenant-credentials", "managedFields": [{"manager": "x"}]},
            "data": {"api-key": base64.b64encode(b"mk_live_secret").decode()},
        }
    )
    kept = owned.snapshot(secret)
    assert "data" not in kept
    assert "managedFields" not in kept["metadata"]
    assert kept[owned.KEY_DIGEST] == hashlib.sha256(b"mk_live_secret").hexdigest()


def test_a_snapshot_drops_status() -> None:
    """Status changes are not drift and would only churn the index."""
    kept = owned.snapshot(
        kopf.Body({"kind": "Namespace", "metadata": {}, "status": {"phase": "Active"}})
    )
    assert "status" not in kept


def test_changes_are_drift_only_once_the_namespace_step_succeeded() -> None:
    """Before the first NamespaceReady=True, the objects are still being created, not drifting."""
    provisioned = {"status": {"conditions": [{"type": reasons.NAMESPACE_READY, "status": "True"}]}}
    provisioning = {
        "status": {"conditions": [{"type": reasons.NAMESPACE_READY, "status": "False"}]}
    }
    assert kubernetes._provisioned(provisioned)
    assert not kubernetes._provisioned(provisioning)
    assert not kubernetes._provisioned({})
