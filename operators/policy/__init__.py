"""The policy audit controller: every policy of the catalogue evaluated over what already exists,
written as wg-policy PolicyReports (one per namespace) and a ClusterPolicyReport, counted in
Prometheus and posted as Events. It reconciles no kind of ours (`kind=None`)."""

from meridian.operators.machinery import operator
from meridian.operators.policy import handlers, rbac, settings

OPERATOR = operator.Operator(
    name="policy",
    kind=None,
    register=handlers.register,
    settings=settings.PolicySettings,
    rbac_rules=rbac.RULES,
)
