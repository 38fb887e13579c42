"""Stripe webhook handler: every event Stripe sends is verified, stored, then relayed once.

`POST /v1/stripe/webhooks` checks `Stripe-Signature` (HMAC-SHA256 over `t.payload`, within
`tolerance_s`, against the current or, during a rotation, the previous signing secret), then
stores the event by its id in its own database (`meridian_stripe_webhooks`) before answering 200,
so Stripe stops retrying only once the event is durable. A repeat of a stored id answers 200 and
does nothing. A refusal is a 400 problem+json, counted by reason and logged with the event id
when readable: never a silent drop.

Processing is apart from receiving (`processing`): stored events not yet processed are relayed
to billing as `stripe.event` messages on `stripe.events` through the outbox, the outbox row and
the event's processed marker in one transaction, so an event is processed exactly once however
the process dies. The handler keeps no billing state of its own: billing consumes the events.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""The schema of the handler's own database (`meridian_stripe_webhooks`), applied at start."""
