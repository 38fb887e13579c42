"""Pod specs that violate exactly one of the five in-apiserver policies, and one that violates none.

Shared by the Python predicates' unit tests (`core/policy/predicates.py`) and, once the
ValidatingAdmissionPolicies are installed, by the e2e test that sends the same specs through the
apiserver in Enforce: both must agree on which policy each spec breaks.
"""

from __future__ import annotations

import copy
from typing import Any

COMPLIANT_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "ghcr.io/meridian/orders:1.4.2",
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "privileged": False},
    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
}


def pod_spec(**container_changes: Any) -> dict[str, Any]:
    container = copy.deepcopy(COMPLIANT_CONTAINER)
    container.update(container_changes)
    return {"containers": [container]}


COMPLIANT = pod_spec()

# policy name -> pod specs that break it and nothing else.
VIOLATING: dict[str, list[dict[str, Any]]] = {
    # A Pod with runAsNonRoot unset escaped the default (a template may leave it unset).
    "meridian-non-root": [
        pod_spec(securityContext={"runAsUser": 10001}),
        pod_spec(securityContext={"runAsNonRoot": True, "runAsUser": 0}),
        {
            "containers": [copy.deepcopy(COMPLIANT_CONTAINER)],
            "initContainers": [
                {**copy.deepcopy(COMPLIANT_CONTAINER), "name": "init", "securityContext": {}}
            ],
        },
    ],
    "meridian-resource-limits": [
        pod_spec(resources={}),
        pod_spec(resources={"limits": {"cpu": "1"}}),
    ],
    "meridian-no-latest-tag": [
        pod_spec(image="ghcr.io/meridian/orders:latest"),
        pod_spec(image="ghcr.io/meridian/orders"),
    ],
    "meridian-approved-registry": [
        pod_spec(image="docker.io/library/nginx:1.27"),
        pod_spec(image="ghcr.io/meridianx/orders:1.0"),
    ],
    "meridian-no-privileged": [
        pod_spec(securityContext={"runAsNonRoot": True, "runAsUser": 10001, "privileged": True}),
    ],
}
