"""Ready summarises the four steps: True only when every step is, and it says which are not."""

from __future__ import annotations

from meridian.operators.machinery import reconciler
from meridian.operators.tenant import reasons, reconcile

NAMESPACE = reconciler.ConditionUpdate(reasons.NAMESPACE_READY, "True", reasons.PROVISIONED, "ns")
DATABASE = reconciler.ConditionUpdate(reasons.DATABASE_READY, "True", reasons.PROVISIONED, "db")
STRIPE_DOWN = reconciler.ConditionUpdate(
    reasons.BILLING_READY, "False", reasons.STRIPE_UNAVAILABLE, "Stripe API unreachable"
)
BLOCKED = reconciler.ConditionUpdate(
    reasons.GATEWAY_CONFIGURED, "Unknown", reasons.BLOCKED, "waiting for DatabaseReady"
)


def test_every_step_true_is_ready() -> None:
    """All steps provisioned: Ready=True, phase Ready."""
    ready, phase = reconcile.summarise([NAMESPACE, DATABASE], suspended=False)
    assert (ready.type, ready.status, ready.reason, phase) == (
        reconciler.READY,
        "True",
        reasons.PROVISIONED,
        "Ready",
    )


def test_a_suspended_tenant_is_ready_but_phase_suspended() -> None:
    """Suspension is a provisioned state: Ready=True with reason and phase Suspended."""
    ready, phase = reconcile.summarise([NAMESPACE, DATABASE], suspended=True)
    assert (ready.status, ready.reason, phase) == ("True", reasons.SUSPENDED, "Suspended")


def test_a_failing_step_makes_ready_false_and_names_its_cause() -> None:
    """`kubectl describe` shows which step failed and why, in Ready's message."""
    ready, phase = reconcile.summarise([NAMESPACE, STRIPE_DOWN], suspended=False)
    assert (ready.status, ready.reason, phase) == ("False", reasons.RECONCILING, "Provisioning")
    assert "BillingReady is False (StripeUnavailable): Stripe API unreachable" in ready.message


def test_a_blocked_step_is_not_ready() -> None:
    """Unknown (waiting for another step) counts as not done."""
    ready, _ = reconcile.summarise([NAMESPACE, BLOCKED], suspended=False)
    assert ready.status == "False"
    assert reasons.GATEWAY_CONFIGURED in ready.message
    assert reasons.NAMESPACE_READY not in ready.message
