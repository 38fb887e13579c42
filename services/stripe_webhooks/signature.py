"""Stripe's webhook signature scheme, verified against one or more endpoint secrets.

`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`: each `v1` is
HMAC-SHA256(secret, "<t>.<raw body>"). Stripe sends one `v1` per active secret while an endpoint's
secret is rolled, and we accept a match of any `v1` with any of our secrets (current and previous),
so a rotation has an overlap on both sides. The timestamp must be within `tolerance_s` of now, in
either direction, or a captured request could be replayed later. Pure functions, so the unit tests
cover every refusal without a server; `Refused.reason` is the metric's label.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HEADER = "Stripe-Signature"
SCHEME = "v1"


class Refused(Exception):
    """The request is not a genuine, fresh Stripe event; `reason` says which check failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` signature of `payload` at `timestamp` (what Stripe computes)."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """A `Stripe-Signature` value signed with each of `secrets` (as Stripe sends during a roll)."""
    signatures = ",".join(f"{SCHEME}={compute(payload, s, timestamp)}" for s in secrets)
    return f"t={timestamp},{signatures}"


def _parse(value: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, part = item.strip().partition("=")
        if not sep:
            raise Refused("malformed_signature", f"{HEADER} item {item.strip()!r} is not key=value")
        if key == "t":
            if not part.isdigit():
                raise Refused("malformed_signature", f"{HEADER} t= is not a unix timestamp")
            timestamp = int(part)
        elif key == SCHEME:
            signatures.append(part)
    if timestamp is None:
        raise Refused("malformed_signature", f"{HEADER} has no t= timestamp")
    if not signatures:
        raise Refused("malformed_signature", f"{HEADER} has no {SCHEME}= signature")
    return timestamp, signatures


def verify(
    payload: bytes,
    value: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: int,
) -> int:
    """The signed timestamp when one `v1` matches one of `secrets` and `t` is fresh; else
    `Refused`. The signature is checked before the time, so a forged request is never told
    whether its timestamp would have passed."""
    if not value:
        raise Refused("missing_signature", f"No {HEADER} header")
    timestamp, signatures = _parse(value)
    expected = [compute(payload, secret, timestamp) for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise Refused(
            "signature_mismatch", f"No {SCHEME} signature matches the endpoint's signing secret"
        )
    if abs(now - timestamp) > tolerance_s:
        raise Refused(
            "timestamp_expired",
            f"The signature's timestamp is {abs(now - timestamp):.0f} s from now, over the "
            f"{tolerance_s} s tolerance",
        )
    return timestamp
