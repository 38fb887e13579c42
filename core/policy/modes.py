"""Reading and flipping a policy's live mode: the one place a mode changes, for every caller.

`kubectl meridian policy enforce|audit`, the local platform and (later) the audit controller all
go through here. A flip writes the policy's entry in the `meridian-policy-modes` ConfigMap (a merge
patch: other policies' entries stay) and, for a policy the apiserver enforces itself, re-applies
its ValidatingAdmissionPolicyBinding at once, so the new mode holds even before any controller
reacts to the ConfigMap. The webhook's policies read the ConfigMap themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import ValidatingAdmissionPolicyBinding
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from meridian.core.policy import catalogue, validating
from meridian.core.policy.catalogue import Engine, Mode

FIELD_MANAGER = "meridian-policy"


async def read(client: AsyncClient) -> dict[str, Mode]:
    """Every policy's live mode (the catalogue's default where the ConfigMap says nothing)."""
    try:
        configmap = await client.get(
            ConfigMap, catalogue.MODES_CONFIGMAP, namespace=catalogue.MODES_NAMESPACE
        )
    except ApiError as error:
        if error.status.code != 404:
            raise
        return catalogue.live_modes(None)
    return catalogue.live_modes(configmap.data)


async def _put_binding(client: AsyncClient, binding: dict[str, Any]) -> None:
    """Write `binding` whole. A merge patch, not a server-side apply: `validationActions` is a
    set, and an apply would keep actions another manager wrote (Deny beside Warn is refused)."""
    try:
        await client.patch(
            ValidatingAdmissionPolicyBinding,
            binding["metadata"]["name"],
            {"metadata": {"labels": binding["metadata"]["labels"]}, "spec": binding["spec"]},
            patch_type=PatchType.MERGE,
            field_manager=FIELD_MANAGER,
        )
    except ApiError as error:
        if error.status.code != 404:
            raise
        created: ValidatingAdmissionPolicyBinding = codecs.from_dict(binding)  # type: ignore[assignment]
        await client.create(created, field_manager=FIELD_MANAGER)


async def apply_bindings(client: AsyncClient, modes: Mapping[str, Mode]) -> list[str]:
    """Write every APISERVER policy's binding in its mode; returns the bindings' names."""
    written = []
    for binding in validating.bindings(modes):
        await _put_binding(client, binding)
        written.append(binding["metadata"]["name"])
    return written


async def _write(client: AsyncClient, name: str, mode: Mode) -> None:
    patch = {"data": {name: str(mode)}}
    try:
        await client.patch(
            ConfigMap,
            catalogue.MODES_CONFIGMAP,
            patch,
            namespace=catalogue.MODES_NAMESPACE,
            patch_type=PatchType.MERGE,
            field_manager=FIELD_MANAGER,
        )
    except ApiError as error:
        if error.status.code != 404:
            raise
        configmap = ConfigMap(
            metadata=ObjectMeta(
                name=catalogue.MODES_CONFIGMAP,
                namespace=catalogue.MODES_NAMESPACE,
                labels=validating.LABELS,
            ),
            data=patch["data"],
        )
        await client.create(configmap, field_manager=FIELD_MANAGER)


async def set_mode(client: AsyncClient, name: str, mode: Mode) -> list[str]:
    """Flip policy `name` to `mode`; returns what was written (KeyError for an unknown policy)."""
    policy = catalogue.get(name)
    await _write(client, policy.name, mode)
    written = [f"configmap/{catalogue.MODES_CONFIGMAP} {policy.name}={mode}"]
    if policy.engine is Engine.APISERVER:
        binding = validating.binding(policy, mode)
        await _put_binding(client, binding)
        written.append(
            f"validatingadmissionpolicybinding/{policy.name} {binding['spec']['validationActions']}"
        )
    return written
