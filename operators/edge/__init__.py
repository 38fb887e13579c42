"""The EdgeNode operator's interface; it only accepts and watches until its issue adds a reconcile."""

from meridian.core.api.v1alpha1.edgenode import KIND
from meridian.operators.edge import settings
from meridian.operators.machinery import operator, wiring

OPERATOR = operator.Operator(
    name="edge", kind=KIND, register=wiring.accepting(KIND), settings=settings.EdgeNodeSettings
)
