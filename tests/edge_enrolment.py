"""Enrolling an edge node the way the contract says the operator does, owned by these tests
until the EdgeNode operator lands (then its enrolment replaces this helper).

What a node gets in `meridian-edge` (`core.api.v1alpha1.edgenode`): the ServiceAccount
`service_account_name(node)`; a Role allowing get/update on the one Lease `lease_name(node)`
(pre-created here: `create` cannot be limited by name); a ClusterRole allowing get on its own
EdgeNode and get/patch on its status (EdgeNode is cluster-scoped, so a Role cannot); the two
bindings; and a kubeconfig holding a token minted with TokenRequest (`kubectl create token`),
written to a file and to the bootstrap Secret `bootstrap_secret_name(node)` (key `kubeconfig`)
that the Ansible role installs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import platform

NS = edgenode.EDGE_NAMESPACE


def _labelled(items: list[dict[str, Any]], labels: dict[str, str] | None) -> list[dict[str, Any]]:
    for item in items:
        if labels:
            item["metadata"]["labels"] = dict(labels)
    return items


def rbac_objects(node: str, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The node's identity and Lease, as the operator's enrolment makes them."""
    sa = edgenode.service_account_name(node)
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": NS}]
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "name": sa}
    items = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": NS}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": sa, "namespace": NS},
            "rules": [
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "resourceNames": [edgenode.lease_name(node)],
                    "verbs": ["get", "update"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa, "namespace": NS},
            "subjects": subject,
            "roleRef": {**role_ref, "kind": "Role"},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"meridian-{sa}"},
            "rules": [
                {
                    "apiGroups": ["meridian.io"],
                    "resources": ["edgenodes"],
                    "resourceNames": [node],
                    "verbs": ["get"],
                },
                {
                    "apiGroups": ["meridian.io"],
                    "resources": ["edgenodes/status"],
                    "resourceNames": [node],
                    "verbs": ["get", "patch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"meridian-{sa}"},
            "subjects": subject,
            "roleRef": {**role_ref, "kind": "ClusterRole", "name": f"meridian-{sa}"},
        },
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": edgenode.lease_name(node), "namespace": NS},
            "spec": {"leaseDurationSeconds": 50},
        },
    ]
    return _labelled(items, labels)


def edge_node(
    node: str, *, site: str = "nyc1", config: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "EdgeNode",
        "metadata": {"name": node},
        "spec": {
            "site": site,
            "address": "127.0.0.1",
            "agentVersion": "0.4.1",
            "config": config or {},
        },
    }


def server(state: platform.PlatformState) -> str:
    """The API server's address, as the admin kubeconfig names it."""
    admin = yaml.safe_load(Path(state.kubeconfig).read_text())
    return str(admin["clusters"][0]["cluster"]["server"])


def kubeconfig_text(
    state: platform.PlatformState, node: str, token: str, *, server: str | None = None
) -> str:
    """A kubeconfig for the node's token, trusting the cluster's CA."""
    admin = yaml.safe_load(Path(state.kubeconfig).read_text())
    cluster = admin["clusters"][0]["cluster"]
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "meridian",
                    "cluster": {
                        "server": server or cluster["server"],
                        "certificate-authority-data": cluster["certificate-authority-data"],
                    },
                }
            ],
            "users": [{"name": node, "user": {"token": token}}],
            "contexts": [{"name": node, "context": {"cluster": "meridian", "user": node}}],
            "current-context": node,
        }
    )


def enrol(
    state: platform.PlatformState,
    node: str,
    kubeconfig: Path,
    *,
    server: str | None = None,
    site: str = "nyc1",
    config: dict[str, str] | None = None,
) -> Path:
    """Create the node's EdgeNode and identity; write its kubeconfig (pointing at `server`, the
    API server's own address by default) and return its path."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    items = [namespace, edge_node(node, site=site, config=config), *rbac_objects(node)]
    platform.kubectl(
        state,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    token = platform.kubectl(
        state, "create", "token", edgenode.service_account_name(node), "-n", NS, "--duration=2h"
    ).strip()
    kubeconfig.write_text(kubeconfig_text(state, node, token, server=server))
    kubeconfig.chmod(0o600)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": edgenode.bootstrap_secret_name(node), "namespace": NS},
        "type": "Opaque",
        "stringData": {"kubeconfig": kubeconfig.read_text()},
    }
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(secret))
    return kubeconfig
