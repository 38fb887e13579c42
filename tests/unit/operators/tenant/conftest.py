"""Specs and owners for the Tenant operator's pure parts: no cluster, no datastores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from meridian.core.api.v1alpha1 import tenant
from meridian.operators.tenant import resources

OWNER: dict[str, Any] = {"name": "acme", "uid": "0f9e2d4c-uid"}
PEERS = resources.Peers(gateway_namespace="gw-ns", monitoring_namespace="mon-ns")

SpecFactory = Callable[..., tenant.TenantSpec]


@pytest.fixture
def make_spec() -> SpecFactory:
    """A valid TenantSpec in the CRD's own spelling (camelCase), with fields replaced."""

    def make(**fields: Any) -> tenant.TenantSpec:
        spec: dict[str, Any] = {
            "tier": "growth",
            "region": "us-east-1",
            "contacts": [{"name": "Dana", "email": "dana@acme.example"}],
        }
        spec.update(fields)
        return tenant.TenantSpec.model_validate(spec)

    return make


@pytest.fixture
def rendered(make_spec: SpecFactory) -> dict[str, dict[str, Any]]:
    """The default growth tenant's objects by `Kind/name`."""
    manifests = resources.render("acme", make_spec(), OWNER, PEERS)
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests}
