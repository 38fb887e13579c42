"""An operator under its own least-privilege ServiceAccount still reconciles, and can do no more."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.machinery import rbac
from tests import edge_nodes, kubeconfigs

NAMESPACE = "meridian-system"


@pytest.fixture
def service_account(local_platform: platform.PlatformState) -> Iterator[str]:
    name = f"op-{uuid.uuid4().hex[:6]}"
    platform.kubectl(
        local_platform,
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n",
    )
    documents = rbac.manifests(["edge"], namespace=NAMESPACE, service_account=name)
    manifest = yaml.safe_dump_all(documents)
    platform.kubectl(local_platform, "apply", "-f", "-", stdin=manifest)
    yield name
    platform.kubectl(local_platform, "delete", "-f", "-", "--ignore-not-found", stdin=manifest)


def _can(state: platform.PlatformState, service_account: str, verb: str, resource: str) -> bool:
    user = f"system:serviceaccount:{NAMESPACE}:{service_account}"
    result = subprocess.run(  # kubectl exits 1 for "no"
        [
            str(Path(state.bin_dir) / "kubectl"),
            f"--kubeconfig={state.kubeconfig}",
            "auth",
            "can-i",
            verb,
            resource,
            f"--as={user}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "yes"


def test_edge_operator_role_grants_its_kind_and_the_nodes_identities_only(
    local_platform: platform.PlatformState, service_account: str
) -> None:
    assert _can(local_platform, service_account, "patch", "edgenodes.meridian.io")
    assert _can(local_platform, service_account, "patch", "edgenodes.meridian.io/status")
    assert not _can(local_platform, service_account, "delete", "edgenodes.meridian.io")
    assert not _can(local_platform, service_account, "patch", "tenants.meridian.io")
    # It reads its nodes' bootstrap Secrets by name; it can never enumerate Secrets.
    assert not _can(local_platform, service_account, "list", "secrets")
    assert not _can(local_platform, service_account, "watch", "secrets")
    # It creates meridian-edge if missing, and may change no other namespace.
    assert not _can(local_platform, service_account, "delete", "namespaces")
    assert not _can(local_platform, service_account, "patch", "namespaces/default")


def test_operator_reconciles_with_only_its_rbac(
    local_platform: platform.PlatformState, service_account: str, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "sa.kubeconfig"
    kubeconfigs.token_kubeconfig(local_platform, NAMESPACE, service_account, str(kubeconfig))
    supervisor = Supervisor(tmp_path / "run")
    node = f"edge-rbac-{uuid.uuid4().hex[:6]}"
    try:
        platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="operator",
            only="edge",
            env={"KUBECONFIG": str(kubeconfig), "MERIDIAN_OPERATOR_PEERING_NAME": service_account},
        )
        edge_nodes.apply_and_wait_observed(local_platform, node)
        described = platform.kubectl(local_platform, "describe", "edgenode", node)
        assert "CredentialIssued" in described.split("Events:")[1]
        # Deleting while the operator runs lets it release kopf's finalizer.
        platform.kubectl(local_platform, "delete", "edgenode", node, "--timeout=60s")
        log = supervisor.log_tail("operator", lines=10_000)
        assert "Forbidden" not in log
        assert '"status": 403' not in log
    finally:
        supervisor.stop_all()
        platform.kubectl(
            local_platform,
            "delete",
            "clusterkopfpeering",
            f"{service_account}-edge",
            "--ignore-not-found",
        )
