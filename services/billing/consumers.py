"""Stripe's events, relayed by the webhook handler: `stripe.events`, queue `stripe_queue`.

The work (the account's payment state, deduped per message) is `payments.stripe_handler`.
"""

from __future__ import annotations

from meridian.services.billing import payments

stripe_topology = payments.stripe_topology
stripe_handler = payments.stripe_handler
