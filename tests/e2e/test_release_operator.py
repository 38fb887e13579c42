"""The ServiceRelease operator against the real apiserver, its pods on kwok's nodes (Ready there).

The operator runs as its own process under its own ServiceAccount with exactly its ClusterRole
(an RBAC denial in its log fails the module), ticking every second; each test has its own namespace. A rolling update and a canary walking timed pauses
end Healthy; an operator SIGKILLed at each untimed pause of a canary comes back at the same step
and weight, with no step announced twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pytest_asyncio
import yaml
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import ResourceQuotaSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import Event, Namespace, ResourceQuota, Service
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.types import PatchType

from meridian.core import kube
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.machinery import rbac
from meridian.operators.release import cluster, resources
from meridian.services.gateway import httproutes
from meridian.services.gateway.settings import Settings as GatewaySettings
from tests import kubeconfigs
from tests.e2e import test_rbac
from tests.waiting import eventually

ServiceRelease = kube.RESOURCES["ServiceRelease"]
OPERATOR = "release-operator"
ENV = {"MERIDIAN_OPERATOR_RELEASE_TICK_S": "1", "MERIDIAN_OPERATOR_RESYNC_S": "1"}


class Running(NamedTuple):
    supervisor: Supervisor
    env: dict[str, str]

    def start(self, state: platform.PlatformState) -> None:
        platform.start_operators(
            state, supervisor=self.supervisor, name=OPERATOR, only="release", env=self.env
        )


@pytest.fixture(scope="module")
def operator(
    local_platform: platform.PlatformState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The release operator as its own process, under exactly its ClusterRole's rules."""
    account = f"release-{uuid.uuid4().hex[:6]}"
    platform.kubectl(
        local_platform,
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {test_rbac.NAMESPACE}\n",
    )
    manifest = yaml.safe_dump_all(
        rbac.manifests(["release"], namespace=test_rbac.NAMESPACE, service_account=account)
    )
    platform.kubectl(local_platform, "apply", "-f", "-", stdin=manifest)
    kubeconfig = tmp_path_factory.mktemp("release-operator") / "sa.kubeconfig"
    kubeconfigs.token_kubeconfig(local_platform, test_rbac.NAMESPACE, account, str(kubeconfig))
    env = {**ENV, "KUBECONFIG": str(kubeconfig), "MERIDIAN_OPERATOR_PEERING_NAME": account}
    running = Running(Supervisor(Path(local_platform.run_dir) / "e2e-release"), env)
    running.start(local_platform)
    try:
        yield running
        log = running.supervisor.log_tail(OPERATOR, lines=100_000)
        # RBAC's denial, not the 403 of writing into a namespace a test is deleting.
        assert "is forbidden: User" not in log
    finally:
        running.supervisor.stop_all()
        platform.kubectl(local_platform, "delete", "-f", "-", "--ignore-not-found", stdin=manifest)
        platform.kubectl(
            local_platform,
            "delete",
            "clusterkopfpeering",
            f"{account}-release",
            "--ignore-not-found",
        )


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(
    kube_client: AsyncClient, namespace_name: str, operator: Running
) -> AsyncIterator[str]:
    await kube_client.create(Namespace(metadata=ObjectMeta(name=namespace_name)))
    yield namespace_name
    await kube_client.delete(Namespace, namespace_name)


def _release(namespace: str, strategy: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "ServiceRelease",
        "metadata": {"name": "orders", "namespace": namespace},
        "spec": {
            "service": "orders",
            "image": "ghcr.io/meridian/orders:1.0.0",
            "replicas": 3,
            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
            "disruptionBudget": {"maxUnavailable": 1},
            "progressDeadlineSeconds": 60,
            "strategy": strategy,
        },
    }


async def _status(client: AsyncClient, namespace: str) -> dict[str, Any]:
    found = await client.get(ServiceRelease, "orders", namespace=namespace)
    return dict(found.get("status") or {})


def _stable_image(status: dict[str, Any]) -> str | None:
    """The image the stable revision runs, once the release is Healthy."""
    if status.get("phase") != "Healthy":
        return None
    history = status.get("history", [])
    found = [h["template"]["image"] for h in history if h["hash"] == status.get("stableRevision")]
    return found[0] if found else None


async def _healthy_at(client: AsyncClient, namespace: str, image: str) -> dict[str, Any]:
    async def healthy() -> dict[str, Any] | None:
        status = await _status(client, namespace)
        history = status.get("history", [])
        stable = [
            h["template"]["image"] for h in history if h["hash"] == status.get("stableRevision")
        ]
        return status if status.get("phase") == "Healthy" and stable == [image] else None

    healthy.__doc__ = f"release Healthy at {image}"
    return await eventually(healthy, within=120)


async def _patch(client: AsyncClient, namespace: str, spec: dict[str, Any]) -> None:
    await client.patch(
        ServiceRelease, "orders", {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE
    )


async def _observed(client: AsyncClient, namespace: str) -> None:
    """Wait until the operator has reconciled the release's newest generation."""

    async def observed() -> bool:
        found = await client.get(ServiceRelease, "orders", namespace=namespace)
        status = found.get("status") or {}
        return bool(status.get("observedGeneration") == found["metadata"]["generation"])

    await eventually(observed, within=30)


async def _events(client: AsyncClient, namespace: str, reason: str) -> list[str]:
    return [
        event.message or ""
        async for event in client.list(Event, namespace=namespace)
        if event.reason == reason and event.involvedObject.kind == "ServiceRelease"
    ]


async def test_a_release_renders_its_objects_and_rolls_an_update(
    kube_client: AsyncClient, namespace: str
) -> None:
    await kube_client.create(ServiceRelease(_release(namespace, {"type": "RollingUpdate"})))
    first = await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    conditions = {c["type"]: c["status"] for c in first["conditions"]}
    assert conditions == {"Available": "True", "Progressing": "False", "Ready": "True"}
    deployment = await kube_client.get(Deployment, "orders", namespace=namespace)
    assert deployment.metadata.labels["app.kubernetes.io/managed-by"] == resources.MANAGED_BY
    assert deployment.spec.template.spec.securityContext.runAsNonRoot is True
    await kube_client.get(Service, "orders", namespace=namespace)
    await kube_client.get(PodDisruptionBudget, "orders", namespace=namespace)

    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:1.1.0"})
    second = await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.1.0")
    assert second["stableRevision"] != first["stableRevision"]
    assert [h["outcome"] for h in second["history"]] == ["Superseded", "Promoted"]
    deployment = await kube_client.get(Deployment, "orders", namespace=namespace)
    assert deployment.spec.template.spec.containers[0].image == "ghcr.io/meridian/orders:1.1.0"
    assert deployment.status.availableReplicas == 3


async def test_a_canary_walks_its_steps_with_timed_pauses_and_promotes(
    kube_client: AsyncClient, namespace: str
) -> None:
    steps = [
        {"setWeight": 20},
        {"pause": {"duration": "3s"}},
        {"setWeight": 60},
        {"pause": {"duration": "3s"}},
    ]
    body = _release(namespace, {"type": "Canary", "canarySteps": steps})
    body["spec"]["route"] = "/v1/orders"
    await kube_client.create(ServiceRelease(body))
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:2.0.0"})

    seen: list[tuple[int, int]] = []
    routed: list[tuple[int, int]] = []

    async def walked() -> bool:
        status = await _status(kube_client, namespace)
        point = (status.get("currentStep"), status.get("canaryWeight"))
        if point[0] is not None and (not seen or seen[-1] != point):
            seen.append(point)  # type: ignore[arg-type]
        route = await kube_client.get(cluster.HTTPRoute, "orders", namespace=namespace)
        split = tuple(b["weight"] for b in route["spec"]["rules"][0]["backendRefs"])
        if not routed or routed[-1] != split:
            routed.append(split)  # type: ignore[arg-type]
        return _stable_image(status) == "ghcr.io/meridian/orders:2.0.0"

    walked.__doc__ = "the canary walked every step and was promoted"

    await eventually(walked, within=120, interval=0.2)
    assert (1, 20) in seen
    assert (3, 60) in seen
    assert sorted(seen) == seen  # never a step back
    # The Gateway API route carried the exact weights, and all traffic is on the stable at the end.
    assert routed == [(100, 0), (80, 20), (40, 60), (100, 0)]
    weights = await _events(kube_client, namespace, "WeightSet")
    assert len(weights) == 2
    canary = [d async for d in kube_client.list(Deployment, namespace=namespace)]
    assert [d.metadata.name for d in canary] == ["orders"]


async def test_an_operator_killed_at_each_step_resumes_there_without_repeating_one(
    kube_client: AsyncClient,
    namespace: str,
    operator: Running,
    local_platform: platform.PlatformState,
) -> None:
    steps = [
        {"setWeight": 25},
        {"pause": {}},
        {"setWeight": 50},
        {"pause": {}},
        {"setWeight": 75},
        {"pause": {}},
    ]
    await kube_client.create(
        ServiceRelease(_release(namespace, {"type": "Canary", "canarySteps": steps}))
    )
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:3.0.0"})
    for resumes, (step, weight) in enumerate([(1, 25), (3, 50), (5, 75)]):

        async def paused_at(step: int = step) -> dict[str, Any] | None:
            status = await _status(kube_client, namespace)
            return (
                status
                if (status.get("phase"), status.get("currentStep")) == ("Paused", step)
                else None
            )

        status = await eventually(paused_at, within=60)
        assert status["canaryWeight"] == weight
        operator.supervisor.kill(OPERATOR)
        operator.start(local_platform)
        # A spec change that is no new revision: once the new process has observed it, it has
        # decided on the persisted status at least once.
        await _patch(kube_client, namespace, {"revisionHistoryLimit": 10 + resumes + 1})
        await _observed(kube_client, namespace)
        after = await _status(kube_client, namespace)
        assert (after["phase"], after["currentStep"], after["canaryWeight"]) == (
            "Paused",
            step,
            weight,
        )
        await _patch(kube_client, namespace, {"actions": {"resume": {"count": resumes + 1}}})
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:3.0.0")
    weights = await _events(kube_client, namespace, "WeightSet")
    assert len(weights) == 3, weights


def _kubectl_meridian(state: platform.PlatformState, *args: str) -> str:
    """`kubectl meridian ...` as on-call types it: kubectl finds the plugin on PATH."""
    env = {
        **os.environ,
        "KUBECONFIG": state.kubeconfig,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    done = subprocess.run(
        [str(Path(state.bin_dir) / "kubectl"), "meridian", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _at(client: AsyncClient, namespace: str, phase: str, step: int | None) -> dict[str, Any]:
    async def there() -> dict[str, Any] | None:
        status = await _status(client, namespace)
        return status if (status.get("phase"), status.get("currentStep")) == (phase, step) else None

    there.__doc__ = f"release {phase} at step {step}"
    return await eventually(there, within=60)


async def test_on_call_commands_promote_abort_retry_and_roll_back(
    kube_client: AsyncClient, namespace: str, local_platform: platform.PlatformState
) -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    await kube_client.create(
        ServiceRelease(_release(namespace, {"type": "Canary", "canarySteps": steps}))
    )
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:4.0.0"})
    await _at(kube_client, namespace, "Paused", 1)
    release = ["orders", "-n", namespace]

    _kubectl_meridian(local_platform, "release", "promote", *release)
    await _at(kube_client, namespace, "Paused", 3)
    shown = _kubectl_meridian(local_platform, "release", "status", *release)
    assert "Weight: 50%" in shown
    assert [line.split()[-2] for line in shown.splitlines() if line[:1].isdigit()][:4] == [
        "done",
        "done",
        "done",
        "current",
    ]

    _kubectl_meridian(local_platform, "release", "abort", *release)
    aborted = await _at(kube_client, namespace, "Aborted", None)
    assert aborted["abort"]["reason"] == "AbortRequested"
    assert aborted["abort"]["stableReadyAt"] <= aborted["abort"]["weightRestoredAt"]

    _kubectl_meridian(local_platform, "release", "retry", *release)
    await _at(kube_client, namespace, "Paused", 1)
    _kubectl_meridian(local_platform, "release", "promote", "--full", *release)
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:4.0.0")

    _kubectl_meridian(local_platform, "release", "rollback", "--to-revision", "1", *release)
    rolled = await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    assert rolled["history"][0]["outcome"] == "RolledBack"


async def _paused_canary(client: AsyncClient, namespace: str, image: str) -> None:
    """A release Healthy at 1.0.0, then `image` as a canary paused at 20 % (step 1 of 4)."""
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    await client.create(
        ServiceRelease(_release(namespace, {"type": "Canary", "canarySteps": steps}))
    )
    await _healthy_at(client, namespace, "ghcr.io/meridian/orders:1.0.0")
    await _patch(client, namespace, {"image": image})
    paused = await _at(client, namespace, "Paused", 1)
    assert paused["canaryWeight"] == 20


async def test_an_abort_wins_over_a_full_promote_still_pending(
    kube_client: AsyncClient, namespace: str
) -> None:
    """Argo Rollouts #4461: once a full promote was asked, an abort was ignored. Here the promote
    stays pending for real: a ResourceQuota leaves room for the 3 stable and 1 canary pods only,
    so the promoted revision's first surge pod is refused; the abort, asked then, wins."""
    await _paused_canary(kube_client, namespace, "ghcr.io/meridian/orders:6.0.0")
    quota = ResourceQuota(
        metadata=ObjectMeta(name="pods", namespace=namespace),
        spec=ResourceQuotaSpec(hard={"pods": "4"}),
    )
    await kube_client.create(quota)

    async def counted() -> bool:
        """the quota counts the namespace's 4 pods (admission enforces it from then on)"""
        found = await kube_client.get(ResourceQuota, "pods", namespace=namespace)
        return bool(found.status and (found.status.used or {}).get("pods") == "4")

    await eventually(counted, within=30)
    await _patch(kube_client, namespace, {"actions": {"promote": {"count": 1, "full": True}}})

    async def promoting() -> dict[str, Any] | None:
        """the full promote pending: Promoting, its new stable pods refused"""
        status = await _status(kube_client, namespace)
        return status if status.get("phase") == "Promoting" and status.get("promoteFull") else None

    await eventually(promoting, within=30)
    await _patch(kube_client, namespace, {"actions": {"abort": {"count": 1}}})
    aborted = await _at(kube_client, namespace, "Aborted", None)
    assert aborted["abort"]["reason"] == "AbortRequested"
    assert not aborted.get("promoteFull")
    assert aborted.get("canaryWeight", 0) == 0
    stable = [h for h in aborted["history"] if h["hash"] == aborted["stableRevision"]]
    assert [h["template"]["image"] for h in stable] == ["ghcr.io/meridian/orders:1.0.0"]
    assert [h["outcome"] for h in aborted["history"]][-1] == "Aborted"
    deployment = await kube_client.get(Deployment, "orders", namespace=namespace)
    assert deployment.spec.template.spec.containers[0].image == "ghcr.io/meridian/orders:1.0.0"


async def test_the_revision_after_an_abort_rolls_out_normally(
    kube_client: AsyncClient, namespace: str
) -> None:
    """Argo Rollouts #3082 / #2048: the revision after an aborted one was aborted at once, or
    stuck. It starts from step 0 with nothing of the abort carried over, and walks to Healthy."""
    await _paused_canary(kube_client, namespace, "ghcr.io/meridian/orders:7.0.0")
    await _patch(kube_client, namespace, {"actions": {"abort": {"count": 1}}})
    await _at(kube_client, namespace, "Aborted", None)
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:7.0.1"})
    paused = await _at(kube_client, namespace, "Paused", 1)
    assert paused["canaryWeight"] == 20
    assert not paused.get("promoteFull")
    await _patch(kube_client, namespace, {"actions": {"resume": {"count": 1}}})
    await _at(kube_client, namespace, "Paused", 3)
    await _patch(kube_client, namespace, {"actions": {"resume": {"count": 2}}})
    healthy = await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:7.0.1")
    outcomes = {h["template"]["image"]: h["outcome"] for h in healthy["history"]}
    assert outcomes["ghcr.io/meridian/orders:7.0.0"] == "Aborted"
    assert outcomes["ghcr.io/meridian/orders:7.0.1"] == "Promoted"


async def test_the_gateway_splits_a_canary_route_by_the_weight_the_operator_wrote(
    kube_client: AsyncClient, namespace: str
) -> None:
    """1,000 requests routed by the gateway's HTTPRoute table: exactly 300 land on the canary."""
    body = _release(
        namespace, {"type": "Canary", "canarySteps": [{"setWeight": 30}, {"pause": {}}]}
    )
    body["spec"]["route"] = "/v1/orders"
    await kube_client.create(ServiceRelease(body))
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:5.0.0"})
    await _at(kube_client, namespace, "Paused", 1)

    settings = GatewaySettings.model_validate({"gateway_name": "meridian"})
    table = httproutes.Table(settings)
    await httproutes.refresh(kube_client, table, settings)
    seen = Counter(table.match("/v1/orders/1").base for _ in range(1000))  # type: ignore[union-attr]
    canary = f"http://orders-canary.{namespace}.svc.cluster.local:8080"
    assert seen[canary] == 300, seen


async def test_services_budget_and_autoscaler_edited_or_deleted_by_hand_are_repaired(
    kube_client: AsyncClient, namespace: str
) -> None:
    """Drift with no spec change: the operator re-applies what no longer matches, within ticks."""
    body = _release(namespace, {"type": "RollingUpdate"})
    body["spec"]["autoscaling"] = {"enabled": True, "minReplicas": 3, "maxReplicas": 6}
    await kube_client.create(ServiceRelease(body))
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")

    await kube_client.delete(Service, "orders-canary", namespace=namespace)
    budget = {"spec": {"maxUnavailable": 3}}
    await kube_client.patch(
        PodDisruptionBudget, "orders", budget, namespace=namespace, patch_type=PatchType.MERGE
    )
    await kube_client.patch(
        HorizontalPodAutoscaler,
        "orders",
        {"spec": {"maxReplicas": 50}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )

    async def repaired() -> bool:
        try:
            service = await kube_client.get(Service, "orders-canary", namespace=namespace)
        except ApiError:  # not yet re-created
            return False
        pdb = await kube_client.get(PodDisruptionBudget, "orders", namespace=namespace)
        hpa = await kube_client.get(HorizontalPodAutoscaler, "orders", namespace=namespace)
        return bool(
            service.spec.selector and pdb.spec.maxUnavailable == 1 and hpa.spec.maxReplicas == 6
        )

    repaired.__doc__ = "the canary Service, the budget and the autoscaler as the spec renders them"
    await eventually(repaired, within=30, interval=0.5)


async def test_with_autoscaling_on_the_operator_never_lowers_the_autoscalers_count(
    kube_client: AsyncClient, namespace: str
) -> None:
    """The HPA scaled the stable to 5 (above minReplicas 3): a new revision keeps 5, not 3."""
    body = _release(namespace, {"type": "RollingUpdate"})
    body["spec"]["autoscaling"] = {"enabled": True, "minReplicas": 3, "maxReplicas": 6}
    await kube_client.create(ServiceRelease(body))
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.0.0")
    deployment = await kube_client.get(Deployment, "orders", namespace=namespace)
    assert deployment.spec.replicas == 3  # the operator raised it to minReplicas
    owners = {f.manager: f.operation for f in deployment.metadata.managedFields or []}
    # What the HPA does: a write of replicas through the scale subresource.
    await kube_client.patch(
        Deployment.Scale,
        "orders",
        {"spec": {"replicas": 5}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    await _patch(kube_client, namespace, {"image": "ghcr.io/meridian/orders:1.1.0"})
    await _healthy_at(kube_client, namespace, "ghcr.io/meridian/orders:1.1.0")
    deployment = await kube_client.get(Deployment, "orders", namespace=namespace)
    assert deployment.spec.template.spec.containers[0].image == "ghcr.io/meridian/orders:1.1.0"
    assert deployment.spec.replicas == 5, owners
