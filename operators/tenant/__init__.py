"""The Tenant operator: its interface to the runtime, the CLI and the local platform."""

from meridian.core.api.v1alpha1 import tenant
from meridian.operators.machinery import operator
from meridian.operators.tenant import handlers, rbac, settings

OPERATOR = operator.Operator(
    name="tenant",
    kind=tenant.KIND,
    register=handlers.register,
    settings=settings.TenantSettings,
    rbac_rules=rbac.RULES,
    cluster_roles=(rbac.tenant_admin_cluster_role(),),
)
