"""What the audit controller may do: read every workload and the objects its rules look up, read
the one modes ConfigMap, write the reports and re-point the five in-apiserver policies' bindings
at their live modes. No write to any object it audits."""

from __future__ import annotations

from meridian.core.policy import catalogue, validating
from meridian.operators.machinery.rbac import Rule, rule

READ = ("get", "list")
REPORT = ("get", "list", "create", "patch")

RULES: tuple[Rule, ...] = (
    rule("", ["pods"], READ),
    rule("apps", ["deployments", "statefulsets", "daemonsets", "replicasets"], READ),
    rule("batch", ["jobs", "cronjobs"], READ),
    rule("policy", ["poddisruptionbudgets"], READ),
    rule("networking.k8s.io", ["networkpolicies"], READ),
    rule("meridian.io", ["edgenodes"], READ),
    # The modes; and the registries, because writing a binding whose paramRef names a params
    # object needs `get` on that object (the apiserver's escalation check on bindings).
    rule(
        "",
        ["configmaps"],
        ["get"],
        resourceNames=[catalogue.MODES_CONFIGMAP, validating.REGISTRIES_CONFIGMAP],
    ),
    rule("wgpolicyk8s.io", ["policyreports", "clusterpolicyreports"], REPORT),
    # A hand-edited modes ConfigMap reaches the apiserver: patch of the existing bindings only.
    rule(
        "admissionregistration.k8s.io",
        ["validatingadmissionpolicybindings"],
        ["get", "patch"],
        resourceNames=[
            p.name for p in catalogue.POLICIES if p.engine is catalogue.Engine.APISERVER
        ],
    ),
)
