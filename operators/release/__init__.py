"""The ServiceRelease operator's interface; it only accepts and watches until its issue adds a reconcile."""

from meridian.core.api.v1alpha1.servicerelease import KIND
from meridian.operators.machinery import operator, wiring
from meridian.operators.release import settings

OPERATOR = operator.Operator(
    name="release",
    kind=KIND,
    register=wiring.accepting(KIND),
    settings=settings.ServiceReleaseSettings,
)
