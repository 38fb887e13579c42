"""The EdgeNode operator: its interface to the runtime, the CLI and the local platform."""

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import handlers, settings
from meridian.operators.machinery import operator

OPERATOR = operator.Operator(
    name="edge",
    kind=edgenode.KIND,
    register=handlers.register,
    settings=settings.EdgeNodeSettings,
)
