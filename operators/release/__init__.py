"""The ServiceRelease operator: its interface to the runtime, the CLI and the local platform.

Foundation stage: it watches its kind and says so in status (`wiring.accepting`); the ServiceRelease
operator issue adds `reconcile.py`, `handlers.py` and `reasons.py` as the Tenant operator has.
"""

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.machinery import operator, wiring
from meridian.operators.release import settings

OPERATOR = operator.Operator(
    name="release",
    kind=servicerelease.KIND,
    register=wiring.accepting(servicerelease.KIND),
    settings=settings.ServiceReleaseSettings,
)
