"""Ready summarises the steps: True only when every step is, and it says which are not."""

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


SEARCH = reconciler.ConditionUpdate(reasons.SEARCH_READY, "True", reasons.PROVISIONED, "alias")
SEARCH_DOWN = reconciler.ConditionUpdate(
    reasons.SEARCH_READY,
    "False",
    reasons.ELASTICSEARCH_UNAVAILABLE,
    "Elasticsearch unreachable: ClientConnectorError",
)


def test_elasticsearch_down_holds_up_ready_and_says_so() -> None:
    """Every other step provisioned, Elasticsearch down: not Ready, and Ready says why."""
    ready, phase = reconcile.summarise([NAMESPACE, DATABASE, SEARCH_DOWN], suspended=False)
    assert (ready.status, phase) == ("False", "Provisioning")
    assert "SearchReady is False (ElasticsearchUnavailable): Elasticsearch unreachable" in (
        ready.message
    )
    assert reasons.DATABASE_READY not in ready.message


def test_ready_names_the_search_index_only_where_there_is_one() -> None:
    """With Elasticsearch, Ready's message lists the index; without it, the step is absent."""
    with_search, _ = reconcile.summarise([NAMESPACE, DATABASE, SEARCH], suspended=False)
    without, _ = reconcile.summarise([NAMESPACE, DATABASE], suspended=False)
    assert with_search.status == without.status == "True"
    assert "search index" in with_search.message
    assert "search" not in without.message
