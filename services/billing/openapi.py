"""Billing's OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services import billing
from meridian.services.billing import models, periods
from meridian.services.kit import contracts, openapi

OPERATIONS = (
    openapi.Operation(
        "GET",
        "/v1/billing/account",
        "getAccount",
        "The tenant's payment state (active, past_due, suspended, canceled)",
        scope=contracts.BILLING_READ,
        responses={200: ("The payment state", models.Account)},
    ),
    openapi.Operation(
        "GET",
        "/v1/billing/usage",
        "getUsage",
        "The tenant's metered usage of a period (default: the current one), by product",
        scope=contracts.BILLING_READ,
        parameters=[
            {
                "name": "period",
                "in": "query",
                "schema": {"type": "string", "pattern": periods.PATTERN},
            }
        ],
        responses={
            200: ("The usage", models.UsageReport),
            422: ("A query parameter is invalid", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/billing/invoices",
        "listInvoices",
        "The tenant's invoices, newest period first, with their lines",
        scope=contracts.BILLING_READ,
        parameters=[
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            }
        ],
        responses={
            200: ("The invoices", models.InvoiceList),
            422: ("A query parameter is invalid", None),
        },
    ),
    openapi.Operation(
        "POST",
        "/v1/billing/invoices",
        "createInvoice",
        "The tenant's invoice of a period, generated now (once: a repeat returns it)",
        request=models.InvoiceRequest,
        request_required=False,
        scope=contracts.BILLING_ADMIN,
        responses={
            201: ("Generated, queued for Stripe", models.Invoice),
            200: ("The period's invoice existed already", models.Invoice),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/billing/invoices/{id}",
        "getInvoice",
        "One invoice of the tenant with its lines and their reconciliation with usage",
        scope=contracts.BILLING_READ,
        parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        responses={
            200: ("The invoice", models.Invoice),
            404: ("No such invoice (for this tenant)", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian billing",
        version="1.0.0",
        operations=OPERATIONS,
        description=(billing.__doc__ or "").strip(),
    )
