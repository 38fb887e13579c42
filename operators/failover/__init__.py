"""The FailoverPlan operator: readiness while standing by, a journaled, resumable run when asked."""

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import handlers, rbac, settings
from meridian.operators.machinery import operator

OPERATOR = operator.Operator(
    name="failover",
    kind=failoverplan.KIND,
    register=handlers.register,
    settings=settings.FailoverPlanSettings,
    rbac_rules=rbac.RULES,
)
