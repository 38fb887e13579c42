"""The one list of Meridian's admission policies.

Everything that enforces or reports a policy is generated from here, as the CRDs are from the API
models: the ValidatingAdmissionPolicies and their bindings (the five rules CEL can express inside
the apiserver), the admission webhook's rules (the two that need other objects), the audit
controller's PolicyReports, the `kubectl meridian policy` commands and the README table.

A policy's `mode` here is its default on a fresh cluster. The live mode is changed in one place,
the MODES ConfigMap, and everything that enforces or reports follows it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Mode(enum.StrEnum):
    AUDIT = "Audit"  # admitted with a warning, counted and reported
    ENFORCE = "Enforce"  # denied


class Engine(enum.StrEnum):
    APISERVER = "apiserver"  # a ValidatingAdmissionPolicy: CEL in the apiserver, nothing to go down
    WEBHOOK = "webhook"  # needs other objects: the admission webhook in webhooks/


@dataclass(frozen=True)
class Policy:
    name: str  # the VAP's name, the PolicyReport's `policy`, the CLI's argument
    title: str
    description: str
    fix: str  # what the denial or warning tells the user to do
    engine: Engine
    mode: Mode


# The live modes: data maps a policy's name to "Audit" or "Enforce"; a missing entry is the default.
MODES_NAMESPACE = "meridian-system"
MODES_CONFIGMAP = "meridian-policy-modes"

# The seed's seven policies. They are enforced in production today, so they start in Enforce; a
# policy added later starts in Audit for the seed's 7 days.
POLICIES: tuple[Policy, ...] = (
    Policy(
        name="meridian-non-root",
        title="Containers run as non-root",
        description="Every container (init and ephemeral included) must run as a non-root user.",
        fix="set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser",
        engine=Engine.APISERVER,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-resource-limits",
        title="Containers declare resource limits",
        description="Every container must set CPU and memory limits.",
        fix="set resources.limits.cpu and resources.limits.memory on every container",
        engine=Engine.APISERVER,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-no-latest-tag",
        title="Images are pinned",
        description="No image may use the `latest` tag or no tag at all.",
        fix="pin the image to a version tag or a digest (image:1.2.3 or image@sha256:...)",
        engine=Engine.APISERVER,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-approved-registry",
        title="Images come from the approved registry",
        description="Images must come from an approved registry prefix (ghcr.io/meridian/ by default).",
        fix="use an image under an approved prefix (ghcr.io/meridian/...)",
        engine=Engine.APISERVER,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-no-privileged",
        title="No privileged containers",
        description="No container may run privileged.",
        fix="remove securityContext.privileged (or set it to false)",
        engine=Engine.APISERVER,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-network-policy",
        title="Namespaces have a NetworkPolicy",
        description="A workload may be created only in a namespace that has a NetworkPolicy.",
        fix="create a NetworkPolicy in the namespace first (e.g. default-deny)",
        engine=Engine.WEBHOOK,
        mode=Mode.ENFORCE,
    ),
    Policy(
        name="meridian-pdb-required",
        title="Replicated Deployments have a PodDisruptionBudget",
        description="A Deployment with more than one replica needs a PodDisruptionBudget selecting its pods.",
        fix="create a PodDisruptionBudget whose selector matches the Deployment's pod labels",
        engine=Engine.WEBHOOK,
        mode=Mode.ENFORCE,
    ),
)

_BY_NAME = {policy.name: policy for policy in POLICIES}


def get(name: str) -> Policy:
    """The policy called `name`; KeyError names the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no policy {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def live_modes(configmap_data: dict[str, str] | None) -> dict[str, Mode]:
    """Each policy's mode from the MODES ConfigMap's data; unknown values keep the default."""
    data = configmap_data or {}
    modes: dict[str, Mode] = {}
    for policy in POLICIES:
        value = data.get(policy.name)
        modes[policy.name] = Mode(value) if value in (Mode.AUDIT, Mode.ENFORCE) else policy.mode
    return modes


def validation_actions(mode: Mode) -> list[str]:
    """A ValidatingAdmissionPolicyBinding's validationActions for a mode."""
    return ["Deny"] if mode is Mode.ENFORCE else ["Audit", "Warn"]
