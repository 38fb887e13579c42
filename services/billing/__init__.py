"""Billing: usage metered exactly, invoices from it, payment state from Stripe's events.

Usage: the gateway counts each tenant's billable requests by product and hands them over as
batches on the Redis stream `meridian:billing:usage` (`kit.contracts.UsageBatch`); `usage`
commits each batch id once into `meridian_billing` (per tenant, period and product, row-level
security) and only then acknowledges it, so a batch resent after a Redis crash is not counted
twice and one Redis lost is resent by the gateway. `GET /v1/billing/usage` answers the caller's
tenant's current period.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""The schema of billing's own database (`meridian_billing`), applied by `kit.database.contexts`."""
