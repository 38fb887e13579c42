"""The local control plane behaves like Kubernetes: scheduling onto kwok nodes, garbage collection, DR."""

from __future__ import annotations

import json
import shutil
import ssl
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Node, Pod

from meridian.localplatform import kubecluster, platform
from tests.waiting import eventually


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube_client: AsyncClient, namespace_name: str) -> AsyncIterator[str]:
    await kube_client.create(Namespace(metadata=ObjectMeta(name=namespace_name)))
    yield namespace_name
    await kube_client.delete(Namespace, namespace_name)


async def test_deployment_pods_are_scheduled_on_kwok_nodes_and_become_ready(
    kube_client: AsyncClient, namespace: str
) -> None:
    labels = {"app": "web"}
    await kube_client.create(
        Deployment(
            metadata=ObjectMeta(name="web", namespace=namespace),
            spec=DeploymentSpec(
                replicas=3,
                selector=LabelSelector(matchLabels=labels),
                template=PodTemplateSpec(
                    metadata=ObjectMeta(labels=labels),
                    spec=PodSpec(
                        nodeSelector={"meridian.io/node-group": "application"},
                        # Compliant with the admission policies the platform installs (Enforce).
                        containers=[
                            Container(
                                name="web",
                                image="ghcr.io/meridian/gateway:1.0.0",
                                resources=ResourceRequirements(
                                    limits={"cpu": "100m", "memory": "64Mi"}
                                ),
                            )
                        ],
                    ),
                ),
            ),
        )
    )

    async def all_ready() -> bool:
        """Deployment web reports 3 ready replicas."""
        deployment = await kube_client.get(Deployment, "web", namespace=namespace)
        return (deployment.status.readyReplicas or 0) == 3

    await eventually(all_ready)
    pods = [pod async for pod in kube_client.list(Pod, namespace=namespace)]
    assert len(pods) == 3
    for pod in pods:
        node = await kube_client.get(Node, pod.spec.nodeName)
        assert node.metadata.labels["meridian.io/node-group"] == "application"
        assert node.metadata.annotations["kwok.x-k8s.io/node"] == "fake"
        assert pod.status.phase == "Running"


async def test_deleting_an_owner_garbage_collects_its_dependents(
    kube_client: AsyncClient, namespace: str
) -> None:
    owner = await kube_client.create(
        ConfigMap(metadata=ObjectMeta(name="owner", namespace=namespace))
    )
    reference = OwnerReference(
        apiVersion="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    await kube_client.create(
        ConfigMap(
            metadata=ObjectMeta(name="dependent", namespace=namespace, ownerReferences=[reference])
        )
    )
    await kube_client.delete(ConfigMap, "owner", namespace=namespace)

    async def dependent_gone() -> bool:
        """ConfigMap dependent was collected."""
        try:
            await kube_client.get(ConfigMap, "dependent", namespace=namespace)
        except ApiError as error:
            return error.status.code == 404
        return False

    await eventually(dependent_gone)


def _version(server: str, ca: str, cert: str, key: str) -> dict[str, str]:
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    with urllib.request.urlopen(f"{server}/version", context=context, timeout=5) as response:
        result: dict[str, str] = json.load(response)
        return result


def test_dr_cluster_starts_beside_the_primary_and_both_answer(
    local_platform: platform.PlatformState,
) -> None:
    assert local_platform.external_kubeconfig is None, "the DR drill needs our own control plane"
    state = platform.up(Path(local_platform.run_dir), dr=True, datastores=False)
    primary, dr = state.clusters["primary"], state.clusters["dr"]
    assert primary["apiserver_port"] != dr["apiserver_port"]
    assert primary["etcd_port"] != dr["etcd_port"]
    for cluster in (primary, dr):
        pki = Path(cluster["kubeconfig"]).parent / "pki"
        version = _version(
            cluster["server"], str(pki / "ca.crt"), str(pki / "admin.crt"), str(pki / "admin.key")
        )
        assert version["gitVersion"].startswith("v1.36.")
    regions = platform.kubectl(
        state,
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].metadata.labels.topology\\.kubernetes\\.io/region}",
    )
    assert set(regions.split()) == {"us-east-1"}
    dr_regions = kubecluster.kubectl(
        Path(state.bin_dir),
        dr["kubeconfig"],
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].metadata.labels.topology\\.kubernetes\\.io/region}",
    )
    assert set(dr_regions.split()) == {"eu-west-1"}
    # Independent: a namespace made in one is absent from the other.
    kubecluster.kubectl(Path(state.bin_dir), dr["kubeconfig"], "create", "namespace", "dr-only")
    assert "dr-only" not in platform.kubectl(state, "get", "namespaces", "-o", "name")


def test_an_adopted_kubeconfig_is_used_instead_of_starting_a_cluster(
    local_platform: platform.PlatformState,
) -> None:
    """A cluster named by `adopt_kubeconfig` (`dev up --adopt-kubeconfig`): no control plane
    started, and a later `up` of that run directory keeps using it."""
    run_dir = Path(local_platform.run_dir).parent / f"{Path(local_platform.run_dir).name}-external"
    try:
        state = platform.up(run_dir, datastores=False, adopt_kubeconfig=local_platform.kubeconfig)
        assert state.clusters == {}
        assert state.kubeconfig == local_platform.kubeconfig
        assert platform.status(run_dir) == []
        assert "namespace/default" in platform.kubectl(state, "get", "namespaces", "-o", "name")
        assert platform.up(run_dir, datastores=False).kubeconfig == local_platform.kubeconfig
        assert platform.status(run_dir) == []
    finally:
        platform.down(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def test_up_twice_finds_everything_running_and_changes_nothing(
    local_platform: platform.PlatformState,
) -> None:
    """`make up` is idempotent: the second run adopts the live processes, ports and credentials."""
    run_dir = Path(local_platform.run_dir)
    before = platform.status(run_dir)
    saved = platform.load(run_dir)
    assert saved is not None
    again = platform.up(run_dir, pg_standby=True)
    after = platform.status(run_dir)
    assert [(row.name, row.pid) for row in after] == [(row.name, row.pid) for row in before]
    assert again.environment() == saved.environment()
