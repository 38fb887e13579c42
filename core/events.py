"""Kubernetes Events about our objects, posted so that `kubectl describe` shows them.

kopf's own poster files events for cluster-scoped objects with involvedObject.namespace=default,
which `kubectl describe tenant/x` never finds; here the involved object carries the object's real
(empty) namespace and the Event itself lives in `default`, as the kubelet does for Nodes.
"""

from __future__ import annotations

import datetime
import socket
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from lightkube import AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

EventType = Literal["Normal", "Warning"]


def build(
    body: Mapping[str, Any], *, type: EventType, reason: str, message: str, component: str
) -> Event:
    meta = body.get("metadata", {})
    namespace = meta.get("namespace")
    now = datetime.datetime.now(datetime.UTC)
    return Event(
        metadata=ObjectMeta(
            name=f"{meta.get('name')}.{uuid.uuid4().hex[:16]}", namespace=namespace or "default"
        ),
        involvedObject=ObjectReference(
            apiVersion=body.get("apiVersion"),
            kind=body.get("kind"),
            name=meta.get("name"),
            namespace=namespace,
            uid=meta.get("uid"),
        ),
        type=type,
        reason=reason,
        message=message[:1024],
        source=EventSource(component=component),
        reportingComponent=component,
        reportingInstance=socket.gethostname()[:128],
        firstTimestamp=now,
        lastTimestamp=now,
        count=1,
    )


async def post(
    client: AsyncClient,
    body: Mapping[str, Any],
    *,
    type: EventType,
    reason: str,
    message: str,
    component: str = "meridian-operator",
) -> None:
    await client.create(build(body, type=type, reason=reason, message=message, component=component))
