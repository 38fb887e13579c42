"""meridian.io/v1alpha1: Tenant, ServiceRelease, FailoverPlan, EdgeNode."""

from meridian.core.api.v1alpha1 import edgenode, failoverplan, servicerelease, tenant
from meridian.core.api.v1alpha1.meta import GROUP, VERSION, Kind

KINDS: tuple[Kind, ...] = (tenant.KIND, servicerelease.KIND, failoverplan.KIND, edgenode.KIND)

__all__ = [
    "GROUP",
    "KINDS",
    "VERSION",
    "Kind",
    "edgenode",
    "failoverplan",
    "servicerelease",
    "tenant",
]
