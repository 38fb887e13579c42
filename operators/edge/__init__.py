"""The EdgeNode operator: its interface to the runtime, the CLI and the local platform.

Foundation stage: it watches its kind and says so in status (`wiring.accepting`); the EdgeNode
operator issue adds `reconcile.py`, `handlers.py` and `reasons.py` as the Tenant operator has.
"""

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import settings
from meridian.operators.machinery import operator, wiring

OPERATOR = operator.Operator(
    name="edge",
    kind=edgenode.KIND,
    register=wiring.accepting(edgenode.KIND),
    settings=settings.EdgeNodeSettings,
)
