"""The FailoverPlan operator's interface; it only accepts and watches until its issue adds a reconcile."""

from meridian.core.api.v1alpha1.failoverplan import KIND
from meridian.operators.failover import settings
from meridian.operators.machinery import operator, wiring

OPERATOR = operator.Operator(
    name="failover",
    kind=KIND,
    register=wiring.accepting(KIND),
    settings=settings.FailoverPlanSettings,
)
