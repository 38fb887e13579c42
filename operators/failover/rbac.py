"""What the FailoverPlan operator may do beyond its own kind (declared next to the code).

In the cluster it runs in: read the plans' Secrets, read other plans (the shared-database
guard), scale Deployments and write the services' database Secret when a side is this cluster.
In another cluster it acts with the kubeconfig the plan's Secret holds.
"""

from __future__ import annotations

from meridian.operators.machinery import rbac

RULES: tuple[rbac.Rule, ...] = (
    rbac.rule("", ["secrets"], ["get", "list", "watch", "create", "patch"]),
    rbac.rule("apps", ["deployments"], ["get", "list", "watch", "patch"]),
    rbac.rule("apps", ["deployments/scale"], ["get", "patch", "update"]),
)
