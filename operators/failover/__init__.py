"""The FailoverPlan operator: its interface to the runtime, the CLI and the local platform.

Foundation stage: it watches its kind and says so in status (`wiring.accepting`); the FailoverPlan
operator issue adds `reconcile.py`, `handlers.py` and `reasons.py` as the Tenant operator has.
"""

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import settings
from meridian.operators.machinery import operator, wiring

OPERATOR = operator.Operator(
    name="failover",
    kind=failoverplan.KIND,
    register=wiring.accepting(failoverplan.KIND),
    settings=settings.FailoverPlanSettings,
)
