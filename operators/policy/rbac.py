"""What the audit controller may do: read every workload and the objects its rules look up, read
the one modes ConfigMap, write the reports. No write to any object it audits."""

from __future__ import annotations

from meridian.core.policy import catalogue
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
    rule("", ["configmaps"], ["get"], resourceNames=[catalogue.MODES_CONFIGMAP]),
    rule("wgpolicyk8s.io", ["policyreports", "clusterpolicyreports"], REPORT),
)
