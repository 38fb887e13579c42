"""What the ServiceRelease operator may do beyond its own kind (declared beside the code)."""

from __future__ import annotations

from meridian.operators.machinery import rbac

RULES: tuple[rbac.Rule, ...] = (
    rbac.rule("apps", ["deployments"], rbac.OWN),
    rbac.rule("apps", ["replicasets"], ["get", "list", "watch"]),
    rbac.rule("", ["pods"], ["get", "list", "watch"]),
    rbac.rule("", ["services"], rbac.OWN),
    rbac.rule("policy", ["poddisruptionbudgets"], rbac.OWN),
    rbac.rule("autoscaling", ["horizontalpodautoscalers"], rbac.OWN),
    rbac.rule("gateway.networking.k8s.io", ["httproutes"], rbac.OWN),
)
