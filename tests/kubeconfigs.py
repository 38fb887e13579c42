"""Kubeconfigs that authenticate as a ServiceAccount, so a test runs a process under exactly its RBAC."""

from __future__ import annotations

from pathlib import Path

import yaml

from meridian.localplatform import platform


def token_kubeconfig(
    state: platform.PlatformState, namespace: str, account: str, path: str
) -> None:
    """A kubeconfig that authenticates as the ServiceAccount, as its pod would in-cluster."""
    admin = yaml.safe_load(Path(state.kubeconfig).read_text())
    token = platform.kubectl(
        state, "create", "token", account, "-n", namespace, "--duration=2h"
    ).strip()
    cluster = admin["clusters"][0]
    Path(path).write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {"name": "sa", "context": {"cluster": cluster["name"], "user": account}}
                ],
                "current-context": "sa",
            }
        )
    )
