"""The ServiceRelease operator: its interface to the runtime, the CLI and the local platform."""

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.machinery import operator
from meridian.operators.release import handlers, rbac, settings

OPERATOR = operator.Operator(
    name="release",
    kind=servicerelease.KIND,
    register=handlers.register,
    settings=settings.ServiceReleaseSettings,
    rbac_rules=rbac.RULES,
)
