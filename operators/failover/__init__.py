"""The FailoverPlan operator: its interface to the runtime, the CLI and the local platform."""

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import handlers, settings
from meridian.operators.machinery import operator

OPERATOR = operator.Operator(
    name="failover",
    kind=failoverplan.KIND,
    register=handlers.register,
    settings=settings.FailoverPlanSettings,
)
