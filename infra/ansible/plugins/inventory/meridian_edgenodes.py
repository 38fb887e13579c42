"""Ansible inventory from the cluster's EdgeNodes, replacing the seed's CMDB.

Every EdgeNode becomes a host (its name) with `ansible_host` = spec.address, under `edge`, in a
group per site (`site_<site>`) and per role (`role_<role>`); its site, role, versions and Ready
condition are host variables, so `--limit site_nyc1` or `when: edge_ready` read as expected.
The Kubernetes API is read with lightkube (the control plane's own client) and the kubeconfig
named in the source file, else KUBECONFIG, else the in-cluster service account.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: meridian_edgenodes
short_description: Meridian EdgeNodes, grouped by site, from the Kubernetes API
description:
  - One host per EdgeNode (meridian.io/v1alpha1), ansible_host from spec.address.
  - Groups C(edge), C(site_<site>) and C(role_<role>).
options:
  plugin:
    description: Marks the file as this plugin's.
    required: true
    choices: [meridian_edgenodes]
  kubeconfig:
    description: Path of the kubeconfig to read the API with; KUBECONFIG when unset.
    type: path
"""

EXAMPLES = r"""
# inventory/edgenodes.meridian_edgenodes.yml
plugin: meridian_edgenodes
kubeconfig: ~/.kube/meridian-production
"""


def _group(prefix: str, value: str) -> str:
    """An Ansible-safe group name: letters, digits and underscores only."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', value)}"


def _ready(status: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def hosts(items: list[dict[str, Any]]) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(host, groups, variables) of each EdgeNode object, sorted by name."""
    found = []
    for item in sorted(items, key=lambda i: i["metadata"]["name"]):
        spec, status = item.get("spec") or {}, item.get("status") or {}
        groups = ["edge", _group("site", spec.get("site", "unknown"))]
        if spec.get("role"):
            groups.append(_group("role", spec["role"]))
        variables = {
            "ansible_host": spec.get("address"),
            "edge_site": spec.get("site"),
            "edge_role": spec.get("role"),
            "edge_desired_agent_version": spec.get("agentVersion"),
            "edge_agent_reported_version": status.get("agentVersion"),
            "edge_ready": _ready(status),
            "edge_drain": bool(spec.get("drain", False)),
        }
        found.append((item["metadata"]["name"], groups, variables))
    return found


def _list_edgenodes(kubeconfig: str | None) -> list[dict[str, Any]]:
    try:
        from lightkube import Client, KubeConfig
        from lightkube.generic_resource import create_global_resource
    except ImportError as error:  # pragma: no cover - depends on the controller's Python
        raise AnsibleError(f"meridian_edgenodes needs lightkube: {error}") from error
    config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
    edge_node = create_global_resource("meridian.io", "v1alpha1", "EdgeNode", "edgenodes")
    client = Client(config)
    try:
        return [item.to_dict() for item in client.list(edge_node)]
    finally:
        client.close()


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "meridian_edgenodes"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(
            ("meridian_edgenodes.yml", "meridian_edgenodes.yaml")
        )

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        items = _list_edgenodes(self.get_option("kubeconfig"))
        for host, groups, variables in hosts(items):
            for group in groups:
                self.inventory.add_group(group)
                if group != "edge":
                    self.inventory.add_child("edge", group)
            self.inventory.add_host(host)
            for group in groups[1:]:
                self.inventory.add_host(host, group=group)
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
