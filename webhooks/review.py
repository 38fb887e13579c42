"""AdmissionReview in and out (`admission.k8s.io/v1`): the only wire format the webhook speaks.

`parse` accepts exactly what the apiserver sends and raises `BadReview` (answered 400) for anything
it cannot answer: a body that is not an AdmissionReview, without a request uid, or whose parts
have the wrong types. Whatever parses gets a response built by `answer`, always well-formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
# Kubernetes truncates longer warnings; keep ours whole.
MAX_WARNING = 1024
MAX_UID = 256


class BadReview(Exception):
    """The body is not an AdmissionReview this webhook can answer."""


@dataclass(frozen=True)
class Request:
    uid: str
    group: str
    kind: str
    operation: str
    namespace: str
    name: str
    object: dict[str, Any] = field(default_factory=dict)
    old_object: dict[str, Any] = field(default_factory=dict)
    resource: str = ""  # the plural addressed, e.g. deployments
    sub_resource: str = ""  # e.g. scale (then `object` is a Scale, not the Deployment)

    @property
    def spec_changed(self) -> bool:
        """False for an UPDATE that leaves spec alone (finalizers, annotations, labels): such
        writes are not re-judged, so an operator can always remove its finalizer."""
        return self.operation != "UPDATE" or self.object.get("spec") != self.old_object.get("spec")


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadReview(f"{what} must be a string")
    return value


def parse(body: Any) -> Request:
    if not isinstance(body, dict):
        raise BadReview("the body must be a JSON object (an AdmissionReview)")
    if body.get("apiVersion") != API_VERSION or body.get("kind") != KIND:
        raise BadReview(f"expected apiVersion {API_VERSION} and kind {KIND}")
    request = body.get("request")
    if not isinstance(request, dict):
        raise BadReview("request must be an object")
    uid = _text(request.get("uid"), "request.uid")
    if not uid or len(uid) > MAX_UID:
        raise BadReview(f"request.uid must be a non-empty string of at most {MAX_UID} characters")
    kind = request.get("kind")
    if not isinstance(kind, dict):
        raise BadReview("request.kind must be an object")
    resource = request.get("resource") or {}
    if not isinstance(resource, dict):
        raise BadReview("request.resource must be an object")
    obj, old = request.get("object"), request.get("oldObject")
    if obj is not None and not isinstance(obj, dict):
        raise BadReview("request.object must be an object")
    if old is not None and not isinstance(old, dict):
        raise BadReview("request.oldObject must be an object")
    return Request(
        uid=uid,
        group=_text(kind.get("group"), "request.kind.group"),
        kind=_text(kind.get("kind"), "request.kind.kind"),
        operation=_text(request.get("operation"), "request.operation"),
        namespace=_text(request.get("namespace"), "request.namespace"),
        name=_text(request.get("name"), "request.name"),
        object=obj or {},
        old_object=old or {},
        resource=_text(resource.get("resource"), "request.resource.resource"),
        sub_resource=_text(request.get("subResource"), "request.subResource"),
    )


def answer(uid: str, *, denials: list[str], warnings: list[str]) -> dict[str, Any]:
    """The response: denied (403, every denial in the message) when any, else allowed."""
    response: dict[str, Any] = {"uid": uid, "allowed": not denials}
    if denials:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": "; ".join(denials)}
    if warnings:
        response["warnings"] = [warning[:MAX_WARNING] for warning in warnings]
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}
