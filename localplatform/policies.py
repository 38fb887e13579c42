"""The admission policies on the local platform, installed with the CRDs (`platform.install_crds`).

What the chart will install: the `meridian-system` namespace, the approved registries (params)
and the modes ConfigMap, created only when missing so an on-call edit survives `make up`; the
ValidatingAdmissionPolicies and the defaults (MutatingAdmissionPolicies) as rendered now; the
bindings in each policy's live mode, read from the modes ConfigMap, never the committed defaults.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from meridian.core import kube
from meridian.core.policy import catalogue, modes, mutating, validating
from meridian.localplatform import kubecluster, policyprobe

FIELD_MANAGER = "meridian-platform"


def _apply(bins: Path, kubeconfig: str, objects: list[dict[str, Any]], manager: str) -> None:
    kubecluster.kubectl(
        bins,
        kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={manager}",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )


def _create_missing(bins: Path, kubeconfig: str, configmap: dict[str, Any]) -> None:
    meta = configmap["metadata"]
    found = kubecluster.kubectl(
        bins,
        kubeconfig,
        "get",
        "configmap",
        meta["name"],
        "-n",
        meta["namespace"],
        "--ignore-not-found",
        "-o",
        "name",
    )
    if not found.strip():
        kubecluster.kubectl(bins, kubeconfig, "create", "-f", "-", stdin=json.dumps(configmap))


def _remove_retired_defaults(bins: Path, kubeconfig: str) -> None:
    """Defaults that are no longer rendered (the four per-default policies that became
    `meridian-defaults`): left installed, they would go on costing every Pod create."""
    selector = ",".join(f"{key}={value}" for key, value in validating.LABELS.items())
    kubecluster.kubectl(
        bins,
        kubeconfig,
        "delete",
        "mutatingadmissionpolicybindings,mutatingadmissionpolicies",
        "-l",
        selector,
        f"--field-selector=metadata.name!={mutating.NAME}",
        "--ignore-not-found",
    )


async def _bindings_in_live_modes(kubeconfig: str) -> dict[str, catalogue.Mode]:
    """The same code path as `kubectl meridian policy enforce|audit`."""
    client = kube.client(kubeconfig, field_manager=modes.FIELD_MANAGER)
    try:
        live = await modes.read(client)
        await modes.apply_bindings(client, live)
        return live
    finally:
        await client.close()


def modes_configmap() -> dict[str, Any]:
    """Empty: every policy in its catalogue default until someone flips it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": catalogue.MODES_CONFIGMAP,
            "namespace": catalogue.MODES_NAMESPACE,
            "labels": validating.LABELS,
        },
    }


def install(bins: Path, kubeconfig: str) -> dict[str, catalogue.Mode]:
    """Install or refresh every admission policy; returns the live modes the bindings got."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": catalogue.MODES_NAMESPACE},
    }
    _apply(bins, kubeconfig, [namespace], FIELD_MANAGER)
    _create_missing(bins, kubeconfig, validating.registries_configmap())
    _create_missing(bins, kubeconfig, modes_configmap())
    policies = [*validating.policies(), *mutating.policies(), *mutating.bindings()]
    _apply(bins, kubeconfig, policies, FIELD_MANAGER)
    _remove_retired_defaults(bins, kubeconfig)
    live = asyncio.run(_bindings_in_live_modes(kubeconfig))
    policyprobe.wait(bins, kubeconfig)
    return live
