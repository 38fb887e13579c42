"""The five in-apiserver policies as ValidatingAdmissionPolicies and their bindings (pure renderers).

One ValidatingAdmissionPolicy per APISERVER policy of the catalogue, one binding each. The policy
holds the CEL; the binding holds the mode (`validationActions` from the catalogue's
`validation_actions`) and the namespaces it covers, so a mode flip rewrites a binding and nothing
else: `bindings(modes)` is what the platform and `kubectl meridian policy enforce|audit` apply.
Denials and warnings read `<policy> (<title>): <field> ...; fix: <fix>`, one entry per violating
container, each with its path as the user wrote it (`spec.template.spec.containers[0].image`).

The approved registries are a params object: the ConfigMap `meridian-policy-registries` in
`meridian-system` (key `approvedRegistries`, comma-separated prefixes), so adding a registry is a
ConfigMap edit, not a new policy. A missing ConfigMap denies (`parameterNotFoundAction: Deny`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meridian.core.policy import catalogue, podcel
from meridian.core.policy.catalogue import Engine, Mode, Policy

API_VERSION = "admissionregistration.k8s.io/v1"
LABELS = {"app.kubernetes.io/part-of": "meridian", "app.kubernetes.io/component": "policy"}

REGISTRIES_CONFIGMAP = "meridian-policy-registries"
REGISTRIES_KEY = "approvedRegistries"
DEFAULT_REGISTRIES = ("ghcr.io/meridian/",)

# Never kube-system: the cluster's own components are not Meridian's to judge, and a policy
# mistake must not stop the control plane from healing itself.
EXCLUDED_NAMESPACES = ("kube-system",)
NAMESPACE_SELECTOR: dict[str, Any] = {
    "matchExpressions": [
        {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": list(EXCLUDED_NAMESPACES),
        }
    ]
}

_SC = "has(c.securityContext)"
_PINNED = (
    "c.image.contains('@') || "
    "(c.image.lastIndexOf(':') > c.image.lastIndexOf('/') && !c.image.endsWith(':latest'))"
)
_LIMITED = "has(c.resources) && has(c.resources.limits) && {r} in c.resources.limits"


def _non_root() -> podcel.ContainerCheck:
    """Root refused: runAsNonRoot false or runAsUser 0 (the container's, else the pod's), and, on
    a Pod, runAsNonRoot left unset.

    A pod template may leave runAsNonRoot unset: its Pods get `true` from the
    meridian-default-non-root mutation, which runs before validation, and the kubelet then refuses
    an image whose user is root. A Pod that still has it unset when validated escaped that default
    (the mutation is `failurePolicy: Ignore`), so it is refused rather than trusted to its image.
    `predicates._non_root` is the same rule for the audit.
    """
    non_root_set = f"{_SC} && has(c.securityContext.runAsNonRoot)"
    user_set = f"{_SC} && has(c.securityContext.runAsUser)"
    root_allowed = f"({non_root_set} ? !c.securityContext.runAsNonRoot : variables.podRootAllowed)"
    root_user = f"({user_set} ? c.securityContext.runAsUser == 0 : variables.podRootUser)"
    undefaulted = f"(object.kind == 'Pod' && !({non_root_set}) && !variables.podNonRootSet)"
    user_field = (
        f"({user_set} ? {{p}} + '.securityContext.runAsUser' "
        ": variables.path + '.securityContext.runAsUser') + ' is 0'"
    )
    non_root_field = (
        f"({non_root_set} ? {{p}} + '.securityContext.runAsNonRoot' "
        ": variables.path + '.securityContext.runAsNonRoot') + ' is false'"
    )
    unset_field = "{p} + '.securityContext.runAsNonRoot is unset'"
    return podcel.ContainerCheck(
        bad=f"{root_allowed} || {root_user} || {undefaulted}",
        field=f"{root_user} ? {user_field} : {undefaulted} ? {unset_field} : {non_root_field}",
    )


CHECKS: dict[str, podcel.ContainerCheck] = {
    "meridian-non-root": _non_root(),
    "meridian-resource-limits": podcel.ContainerCheck(
        bad=f"!({_LIMITED.format(r=repr('cpu'))} && {_LIMITED.format(r=repr('memory'))})",
        field=(
            "{p} + '.resources.limits lacks ' + "
            f"['cpu', 'memory'].filter(r, !({_LIMITED.format(r='r')})).join(' and ')"
        ),
        # Ephemeral containers may not declare resources at all (the apiserver refuses them).
        ephemeral=False,
    ),
    "meridian-no-latest-tag": podcel.ContainerCheck(
        bad=f"!({_PINNED})",
        field="{p} + '.image (' + c.image + ')'",
    ),
    "meridian-approved-registry": podcel.ContainerCheck(
        bad="!variables.registries.exists(r, c.image.startsWith(r))",
        field="{p} + '.image (' + c.image + ')'",
    ),
    "meridian-no-privileged": podcel.ContainerCheck(
        bad=f"{_SC} && has(c.securityContext.privileged) && c.securityContext.privileged",
        field="{p} + '.securityContext.privileged is true'",
    ),
}

# Variables one policy needs beyond podcel.VARIABLES.
_EXTRA_VARIABLES: dict[str, list[dict[str, str]]] = {
    "meridian-non-root": [
        {
            "name": "podNonRootSet",
            "expression": "has(variables.podSpec.securityContext) && "
            "has(variables.podSpec.securityContext.runAsNonRoot)",
        },
        {
            "name": "podRootAllowed",
            "expression": "has(variables.podSpec.securityContext) && "
            "has(variables.podSpec.securityContext.runAsNonRoot) && "
            "!variables.podSpec.securityContext.runAsNonRoot",
        },
        {
            "name": "podRootUser",
            "expression": "has(variables.podSpec.securityContext) && "
            "has(variables.podSpec.securityContext.runAsUser) && "
            "variables.podSpec.securityContext.runAsUser == 0",
        },
    ],
    "meridian-approved-registry": [
        {
            "name": "registries",
            "expression": f"has(params.data) && '{REGISTRIES_KEY}' in params.data ? "
            f"params.data['{REGISTRIES_KEY}'].split(',').map(r, r.trim()).filter(r, r != '') "
            ": []",
        }
    ],
}


def apiserver_policies() -> list[Policy]:
    """The catalogue's policies the apiserver enforces itself, in catalogue order."""
    return [policy for policy in catalogue.POLICIES if policy.engine is Engine.APISERVER]


def _message(policy: Policy) -> str:
    """The CEL messageExpression: the policy, every violating field, the fix.

    The apiserver evaluates a messageExpression on every request, admitted or not (in its own
    activation: variables are not shared with the validation's), so on an admitted object this
    must stop at the cheap test instead of building a string per container."""
    head = podcel.literal(f"{policy.name} ({policy.title}): ")
    tail = podcel.literal(f"; fix: {policy.fix}")
    return f"variables.admitted ? '' : {head} + variables.violations.distinct().join(', ') + {tail}"


def policy(item: Policy) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy of one APISERVER policy."""
    check = CHECKS[item.name]
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": podcel.RESOURCE_RULES},
        "variables": [
            *podcel.VARIABLES,
            *_EXTRA_VARIABLES.get(item.name, []),
            {"name": "violations", "expression": podcel.violations(check)},
            {
                "name": "admitted",
                "expression": f"{podcel.UNCHANGED_SPEC} || !({podcel.violated(check)})",
            },
        ],
        "validations": [
            {
                "expression": "variables.admitted",
                "message": f"{item.name} ({item.title}): {item.description} Fix: {item.fix}",
                "messageExpression": _message(item),
            }
        ],
    }
    if item.name == "meridian-approved-registry":
        spec["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": item.name,
            "labels": LABELS,
            "annotations": {"meridian.io/description": item.description},
        },
        "spec": spec,
    }


def binding(item: Policy, mode: Mode) -> dict[str, Any]:
    """The binding of one policy in `mode`: Enforce denies, Audit admits with a warning."""
    spec: dict[str, Any] = {
        "policyName": item.name,
        "validationActions": catalogue.validation_actions(mode),
        "matchResources": {"namespaceSelector": NAMESPACE_SELECTOR},
    }
    if "paramKind" in policy(item)["spec"]:
        spec["paramRef"] = {
            "name": REGISTRIES_CONFIGMAP,
            "namespace": catalogue.MODES_NAMESPACE,
            "parameterNotFoundAction": "Deny",
        }
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": item.name, "labels": {**LABELS, "meridian.io/mode": str(mode)}},
        "spec": spec,
    }


def policies() -> list[dict[str, Any]]:
    return [policy(item) for item in apiserver_policies()]


def bindings(modes: Mapping[str, Mode] | None = None) -> list[dict[str, Any]]:
    """Every APISERVER policy's binding in its live mode (`catalogue.live_modes`); default when absent."""
    modes = modes or {}
    return [binding(item, modes.get(item.name, item.mode)) for item in apiserver_policies()]


def registries_configmap(prefixes: tuple[str, ...] = DEFAULT_REGISTRIES) -> dict[str, Any]:
    """The approved-registry policy's params: image prefixes an image must start with."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": REGISTRIES_CONFIGMAP,
            "namespace": catalogue.MODES_NAMESPACE,
            "labels": LABELS,
        },
        "data": {REGISTRIES_KEY: ",".join(prefixes)},
    }
