"""The running webhook's wire: hypothesis-generated bodies (malformed, huge, unknown kinds) always
get a well-formed AdmissionReview response or a 400, never a 5xx; and a CA rotation under a
stream of creates through the apiserver refuses none of them."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meridian.localplatform import admission, platform
from meridian.webhooks import app as webhook_app
from meridian.webhooks import registration, review
from tests import admission as adm

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def webhook(local_platform: platform.PlatformState) -> Iterator[str]:
    yield from adm.running_webhook(local_platform)


def _post(url: str, body: bytes, context: ssl.SSLContext) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{url}/validate", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _assert_answered(status: int, answer: bytes, sent: Any) -> None:
    """200 with a well-formed AdmissionReview for the request's uid, or 400; nothing else."""
    assert status in (200, 400), (status, answer[:500])
    if status == 400:
        return
    document = json.loads(answer)
    assert document["apiVersion"] == review.API_VERSION
    assert document["kind"] == review.KIND
    response = document["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["code"] == 403
        assert webhook_app.INTERNAL_ERROR not in response["status"]["message"]
    assert all(isinstance(warning, str) for warning in response.get("warnings", []))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
KINDS = st.sampled_from(
    [
        ("", "v1", "Pod"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "StatefulSet"),
        ("batch", "v1", "CronJob"),
        ("meridian.io", "v1alpha1", "Tenant"),
        ("meridian.io", "v1alpha1", "ServiceRelease"),
        ("meridian.io", "v1alpha1", "FailoverPlan"),
        ("meridian.io", "v1alpha1", "EdgeNode"),
        ("example.com", "v9", "Unknown"),
    ]
) | st.tuples(st.text(max_size=10), st.text(max_size=5), st.text(max_size=10))
# Objects shaped like the kinds' own fields, with garbage in them.
OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries({}, optional={"name": JSON, "labels": JSON}) | JSON,
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "replicas": st.integers(-5, 10) | JSON,
                "template": st.fixed_dictionaries(
                    {}, optional={"metadata": st.fixed_dictionaries({}, optional={"labels": JSON})}
                )
                | JSON,
                "service": JSON,
                "site": JSON,
                "sourceCluster": st.fixed_dictionaries({}, optional={"kubeconfigSecret": JSON}),
                "database": st.fixed_dictionaries(
                    {},
                    optional={
                        "primary": st.fixed_dictionaries({}, optional={"credentialsSecret": JSON})
                    },
                ),
            },
        )
        | JSON,
    },
)
REVIEWS = st.builds(
    lambda uid, kind, operation, namespace, name, obj, old: {
        "apiVersion": review.API_VERSION,
        "kind": review.KIND,
        "request": {
            "uid": uid,
            "kind": {"group": kind[0], "version": kind[1], "kind": kind[2]},
            "operation": operation,
            "namespace": namespace,
            "name": name,
            "object": obj,
            "oldObject": old,
        },
    },
    uid=st.uuids().map(str) | st.text(max_size=300) | JSON,
    kind=KINDS,
    operation=st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]) | st.text(max_size=8),
    namespace=st.sampled_from(["default", "kube-system", ""]) | st.text(max_size=70),
    name=st.text(max_size=70),
    obj=OBJECTS | JSON,
    old=st.none() | OBJECTS,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=REVIEWS | JSON | st.binary(max_size=300))
def test_any_body_gets_a_well_formed_review_or_400(
    local_platform: platform.PlatformState, webhook: str, body: Any
) -> None:
    context = ssl.create_default_context(
        cadata=admission.bundle(Path(local_platform.run_dir)).decode()
    )
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = _post(webhook, raw, context)
    _assert_answered(status, answer, body)


@pytest.mark.parametrize("size", [1 << 20, 7 << 20, 9 << 20])
def test_huge_reviews_are_answered_or_refused_with_400(
    local_platform: platform.PlatformState, webhook: str, size: int
) -> None:
    """Up to the 8 MiB limit answered (an unknown kind is allowed); beyond it, 400."""
    body = {
        "apiVersion": review.API_VERSION,
        "kind": review.KIND,
        "request": {
            "uid": "huge",
            "kind": {"group": "example.com", "version": "v1", "kind": "Blob"},
            "operation": "CREATE",
            "object": {"data": "x" * size},
        },
    }
    context = ssl.create_default_context(
        cadata=admission.bundle(Path(local_platform.run_dir)).decode()
    )
    status, answer = _post(webhook, json.dumps(body).encode(), context)
    _assert_answered(status, answer, body)
    assert status == (400 if size > (8 << 20) else 200)


def test_a_ca_rotation_refuses_no_create_and_ends_trusting_only_the_new_ca(
    local_platform: platform.PlatformState, webhook: str, namespace_name: str
) -> None:
    assert adm.apply(
        local_platform, adm.namespace(namespace_name), adm.network_policy(namespace_name)
    ).ok
    stop = threading.Event()
    results: list[adm.Applied] = []

    def creates() -> None:
        while not stop.is_set():
            results.append(adm.apply(local_platform, adm.pod(namespace_name), dry_run=True))

    writer = threading.Thread(target=creates)
    writer.start()
    try:
        generation = admission.rotate(local_platform)
        before = len(results)
        adm.poll(
            lambda: True if len(results) >= before + 3 else None, what="creates after the rotation"
        )
    finally:
        stop.set()
        writer.join()
        adm.kubectl(local_platform, "delete", "namespace", namespace_name, "--wait=false")
    refused = [result.stderr for result in results if not result.ok]
    assert refused == []
    assert len(results) >= 5
    assert admission.serves_cert_of(Path(local_platform.run_dir), generation / "ca.crt")
    configuration = json.loads(
        adm.kubectl(
            local_platform, "get", "validatingwebhookconfiguration", registration.NAME, "-o", "json"
        ).stdout
    )
    for hook in configuration["webhooks"]:
        assert (
            base64.b64decode(hook["clientConfig"]["caBundle"])
            == (generation / "ca.crt").read_bytes()
        )
