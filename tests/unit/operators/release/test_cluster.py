"""What counts as drift: the live object must still hold every rendered field."""

from __future__ import annotations

import datetime

from lightkube.models.core_v1 import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateWaiting,
    ContainerStatus,
    PodCondition,
    PodStatus,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from meridian.operators.release import cluster, resources
from tests.unit.operators.release.conftest import spec_of


def _service() -> resources.Manifest:
    release = resources.Release(name="orders", namespace="ns", uid="u-1", spec=spec_of())
    return resources.service(release, "stable")


def _as_the_apiserver_returns(manifest: resources.Manifest) -> resources.Manifest:
    live = {**manifest, "status": {"loadBalancer": {}}}
    live["metadata"] = {**manifest["metadata"], "uid": "x", "resourceVersion": "7"}
    spec = manifest["spec"]
    live["spec"] = {**spec, "clusterIP": "10.0.0.9", "type": "ClusterIP"}
    return live


def test_defaults_the_apiserver_adds_are_not_drift() -> None:
    wanted = _service()
    assert cluster.covers(_as_the_apiserver_returns(wanted), wanted)


def test_an_empty_rendered_field_matches_one_the_apiserver_left_out() -> None:
    assert cluster.covers({"spec": {}}, {"spec": {"nodeSelector": {}, "tolerations": []}})


def test_a_missing_object_or_an_edited_field_is_drift() -> None:
    wanted = _service()
    assert not cluster.covers(None, wanted)
    edited = _as_the_apiserver_returns(wanted)
    edited["spec"] = {**edited["spec"], "selector": {"app": "other"}}
    assert not cluster.covers(edited, wanted)
    relabelled = _as_the_apiserver_returns(wanted)
    relabelled["metadata"] = {**relabelled["metadata"], "labels": {}}
    assert not cluster.covers(relabelled, wanted)


def test_a_list_item_removed_is_drift_one_added_by_another_hand_is_not() -> None:
    wanted = _service()
    extra = _as_the_apiserver_returns(wanted)
    port = {"name": "debug", "port": 9000, "targetPort": 9000, "protocol": "TCP"}
    extra["spec"] = {**extra["spec"], "ports": [port, *wanted["spec"]["ports"]]}
    assert cluster.covers(extra, wanted)
    extra["spec"] = {**extra["spec"], "ports": [port]}
    assert not cluster.covers(extra, wanted)


def _pod(restarts: int, ready: bool, state: ContainerState) -> Pod:
    status = ContainerStatus(
        name="orders",
        image="ghcr.io/meridian/orders:1",
        imageID="",
        ready=ready,
        restartCount=restarts,
        state=state,
    )
    return Pod(status=PodStatus(containerStatuses=[status]))


def test_a_pod_restarted_and_not_ready_is_crash_looping_even_between_back_offs() -> None:
    running = ContainerState(running=ContainerStateRunning())
    backing_off = ContainerState(waiting=ContainerStateWaiting(reason="CrashLoopBackOff"))
    assert cluster.crash_looping(_pod(0, False, backing_off))
    assert cluster.crash_looping(_pod(1, False, running))  # its second run, not Ready yet
    assert not cluster.crash_looping(_pod(1, True, running))  # restarted once, serving again
    assert not cluster.crash_looping(_pod(0, False, running))  # starting: not Ready yet


def test_a_pods_ready_time_is_its_ready_transition_while_it_is_ready_and_staying() -> None:
    became = datetime.datetime(2026, 12, 7, 18, 0, 5, tzinfo=datetime.UTC)
    conditions = [
        PodCondition(
            type="PodScheduled", status="True", lastTransitionTime=became.replace(second=1)
        ),
        PodCondition(type="Ready", status="True", lastTransitionTime=became),
    ]
    ready = Pod(metadata=ObjectMeta(name="a"), status=PodStatus(conditions=conditions))
    assert cluster.ready_since(ready) == became
    not_ready = [PodCondition(type="Ready", status="False", lastTransitionTime=became)]
    assert cluster.ready_since(Pod(status=PodStatus(conditions=not_ready))) is None
    leaving = Pod(metadata=ObjectMeta(name="a", deletionTimestamp=became), status=ready.status)
    assert cluster.ready_since(leaving) is None
