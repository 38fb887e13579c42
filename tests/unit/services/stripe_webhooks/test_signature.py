"""Stripe-Signature verification: what passes, and the reason each refusal is counted under."""

from __future__ import annotations

import pytest

from meridian.services.stripe_webhooks import signature

BODY = b'{"id": "evt_1", "object": "event"}'
NOW = 1_800_000_000
CURRENT, PREVIOUS = "whsec_current", "whsec_previous"


def _verify(value: str | None, secrets: list[str], now: float = NOW) -> int:
    return signature.verify(BODY, value, secrets, now=now, tolerance_s=300)


def test_a_body_signed_with_the_current_secret_is_accepted() -> None:
    assert _verify(signature.header(BODY, [CURRENT], NOW), [CURRENT, PREVIOUS]) == NOW


def test_a_body_signed_with_the_previous_secret_is_accepted_during_the_overlap() -> None:
    assert _verify(signature.header(BODY, [PREVIOUS], NOW), [CURRENT, PREVIOUS]) == NOW


def test_one_matching_v1_among_several_is_enough() -> None:
    """Stripe signs with every active secret while an endpoint's secret is rolled."""
    assert _verify(signature.header(BODY, ["whsec_other", CURRENT], NOW), [CURRENT]) == NOW


def test_the_previous_secret_is_refused_once_it_is_dropped() -> None:
    with pytest.raises(signature.Refused) as refused:
        _verify(signature.header(BODY, [PREVIOUS], NOW), [CURRENT])
    assert refused.value.reason == "signature_mismatch"


def test_a_changed_body_is_a_mismatch() -> None:
    value = signature.header(BODY, [CURRENT], NOW)
    with pytest.raises(signature.Refused) as refused:
        signature.verify(BODY + b" ", value, [CURRENT], now=NOW, tolerance_s=300)
    assert refused.value.reason == "signature_mismatch"


@pytest.mark.parametrize("skew", [301, -301])
def test_a_timestamp_beyond_the_tolerance_either_way_is_expired(skew: int) -> None:
    value = signature.header(BODY, [CURRENT], NOW - skew)
    with pytest.raises(signature.Refused) as refused:
        _verify(value, [CURRENT])
    assert refused.value.reason == "timestamp_expired"


def test_a_timestamp_at_the_tolerance_is_accepted() -> None:
    assert _verify(signature.header(BODY, [CURRENT], NOW - 300), [CURRENT]) == NOW - 300


def test_a_forged_signature_with_an_old_timestamp_is_a_mismatch_not_expired() -> None:
    """The signature is checked first: a forger learns nothing about the clock."""
    with pytest.raises(signature.Refused) as refused:
        _verify(f"t={NOW - 9999},v1={'0' * 64}", [CURRENT])
    assert refused.value.reason == "signature_mismatch"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("garbage", "malformed_signature"),
        (f"t=abc,v1={'0' * 64}", "malformed_signature"),
        ("t=1800000000", "malformed_signature"),
        (f"v1={'0' * 64}", "malformed_signature"),
        (f"t={NOW},v0={'0' * 64}", "malformed_signature"),
    ],
)
def test_a_missing_or_malformed_header_is_refused_with_its_reason(
    value: str | None, reason: str
) -> None:
    with pytest.raises(signature.Refused) as refused:
        _verify(value, [CURRENT])
    assert refused.value.reason == reason
