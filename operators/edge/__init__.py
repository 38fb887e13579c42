"""The EdgeNode operator: enrolment, Ready from the Lease, ConfigApplied and upgrade waves."""

from meridian.core.api.v1alpha1.edgenode import KIND
from meridian.operators.edge import handlers, rbac, settings
from meridian.operators.machinery import operator

OPERATOR = operator.Operator(
    name="edge",
    kind=KIND,
    register=handlers.register,
    settings=settings.EdgeNodeSettings,
    rbac_rules=rbac.RULES,
)
