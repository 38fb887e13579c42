"""EdgeNodes made by tests: the smallest valid object of a cluster-scoped kind we own."""

from __future__ import annotations

from typing import Any

import yaml

from meridian.localplatform import platform


def manifest(name: str, *, labels: dict[str, str] | None = None, host: int = 99) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "EdgeNode",
        "metadata": metadata,
        "spec": {
            "site": "nyc1",
            "address": f"10.41.{host // 250}.{host % 250}",
            "agentVersion": "0.4.1",
        },
    }


def apply_and_wait_observed(state: platform.PlatformState, name: str) -> None:
    """Create the EdgeNode and wait until an operator has observed its first generation."""
    platform.kubectl(state, "apply", "-f", "-", stdin=yaml.safe_dump(manifest(name)))
    platform.kubectl(
        state,
        "wait",
        f"edgenode/{name}",
        "--for=jsonpath={.status.observedGeneration}=1",
        "--timeout=60s",
    )


def site_manifest(name: str, site: str, *, version: str = "1.0.0", host: int = 1) -> dict[str, Any]:
    """An EdgeNode of `site` without maintenance windows (always eligible for a wave)."""
    body = manifest(name, host=host)
    body["spec"].update({"site": site, "agentVersion": version})
    return body
