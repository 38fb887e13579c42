"""The one way Meridian code writes to Kubernetes: a lightkube AsyncClient and our resource types.

kopf watches; everything else (operators' writes, the edge agent, tests) goes through here. The
client comes from KUBECONFIG when set, else from the in-cluster service account, so one code path
serves a laptop, CI and a pod.
"""

from __future__ import annotations

import os

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import (
    GenericGlobalResource,
    GenericNamespacedResource,
    create_global_resource,
    create_namespaced_resource,
)

from meridian.core.api.v1alpha1 import GROUP, KINDS, VERSION, Kind

FIELD_MANAGER = "meridian"

ResourceType = type[GenericGlobalResource] | type[GenericNamespacedResource]


def resource_type(kind: Kind) -> ResourceType:
    """The lightkube resource class of one of our kinds (cached by lightkube per signature)."""
    if kind.scope == "Cluster":
        return create_global_resource(GROUP, VERSION, kind.kind, kind.plural)
    return create_namespaced_resource(GROUP, VERSION, kind.kind, kind.plural)


RESOURCES: dict[str, ResourceType] = {kind.kind: resource_type(kind) for kind in KINDS}

ClusterKopfPeering = create_global_resource(
    "kopf.dev", "v1", "ClusterKopfPeering", "clusterkopfpeerings"
)


def client(
    kubeconfig: str | None = None,
    *,
    field_manager: str = FIELD_MANAGER,
    timeout_s: float | None = None,
) -> AsyncClient:
    """`timeout_s` bounds each request (lightkube's default is 10 s); watches are unbounded."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    config = KubeConfig.from_file(path) if path else KubeConfig.from_service_account()
    timeout = httpx2.Timeout(timeout_s) if timeout_s is not None else None
    return AsyncClient(config, field_manager=field_manager, timeout=timeout)
