"""AdmissionReview parsing refuses what it cannot answer; answers are well-formed."""

from __future__ import annotations

from typing import Any

import pytest

from meridian.webhooks import review


def _body(**request: Any) -> dict[str, Any]:
    return {
        "apiVersion": review.API_VERSION,
        "kind": review.KIND,
        "request": {
            "uid": "u-1",
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            **request,
        },
    }


def test_a_review_parses_into_its_request() -> None:
    parsed = review.parse(_body(operation="CREATE", namespace="ns", name="d", object={"spec": {}}))
    assert (parsed.uid, parsed.group, parsed.kind, parsed.operation) == (
        "u-1",
        "apps",
        "Deployment",
        "CREATE",
    )
    assert parsed.object == {"spec": {}}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        {"apiVersion": "v1", "kind": "AdmissionReview", "request": {}},
        {"apiVersion": review.API_VERSION, "kind": review.KIND},
        {"apiVersion": review.API_VERSION, "kind": review.KIND, "request": {"uid": ""}},
        {"apiVersion": review.API_VERSION, "kind": review.KIND, "request": {"uid": 5, "kind": {}}},
        {
            "apiVersion": review.API_VERSION,
            "kind": review.KIND,
            "request": {"uid": "u", "kind": []},
        },
        _body(object=[1]),
        _body(oldObject="x"),
        _body(namespace=7),
    ],
)
def test_what_is_not_an_admission_review_is_refused(body: Any) -> None:
    with pytest.raises(review.BadReview):
        review.parse(body)


def test_an_update_that_leaves_spec_alone_is_not_a_spec_change() -> None:
    unchanged = review.parse(
        _body(
            operation="UPDATE",
            object={"spec": {"a": 1}, "metadata": {"finalizers": ["x"]}},
            oldObject={"spec": {"a": 1}},
        )
    )
    changed = review.parse(
        _body(operation="UPDATE", object={"spec": {"a": 2}}, oldObject={"spec": {"a": 1}})
    )
    assert not unchanged.spec_changed
    assert changed.spec_changed


def test_a_denial_is_403_with_every_message_and_warnings_ride_along() -> None:
    answer = review.answer("u-1", denials=["a", "b"], warnings=["w"])
    assert answer["response"] == {
        "uid": "u-1",
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": "a; b"},
        "warnings": ["w"],
    }
    assert review.answer("u-2", denials=[], warnings=[])["response"] == {
        "uid": "u-2",
        "allowed": True,
    }
