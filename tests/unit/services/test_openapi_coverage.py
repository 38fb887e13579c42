"""Each service's OpenAPI description covers exactly the routes its app serves, every operation
that takes the gateway's identity names the scope its handler requires, and schemas resolve."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from meridian.services.auth import app as auth_app
from meridian.services.auth import openapi as auth_openapi
from meridian.services.auth.settings import Settings as AuthSettings
from meridian.services.billing import app as billing_app
from meridian.services.billing import openapi as billing_openapi
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.fulfillment import app as fulfillment_app
from meridian.services.fulfillment import openapi as fulfillment_openapi
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings
from meridian.services.inventory import app as inventory_app
from meridian.services.inventory import openapi as inventory_openapi
from meridian.services.inventory.settings import Settings as InventorySettings
from meridian.services.kit import contracts
from meridian.services.orders import app as orders_app
from meridian.services.orders import openapi as orders_openapi
from meridian.services.orders.settings import Settings as OrdersSettings
from meridian.services.stripe_webhooks import app as stripe_webhooks_app
from meridian.services.stripe_webhooks import openapi as stripe_webhooks_openapi
from meridian.services.stripe_webhooks.settings import Settings as StripeWebhooksSettings
from tests import issuer

KIT_ROUTES = {"/healthz", "/readyz", "/metrics", "/openapi.json", contracts.JWKS_PATH}
PEERS = {
    "amqp_url": "amqp://x@127.0.0.1/",
    "pg_dsn": "postgresql://x@127.0.0.1/db",
    "identity_issuers": issuer.issuers(issuer.TESTS),
    "identity_signing_key_file": issuer.key_file(issuer.ORDERS),
}

SERVICES: dict[str, tuple[Callable[[], web.Application], Callable[[], dict[str, Any]]]] = {
    "auth": (lambda: auth_app.create_app(AuthSettings(**PEERS)), auth_openapi.description),
    "billing": (
        lambda: billing_app.create_app(
            BillingSettings(
                **PEERS,
                redis_url="redis://127.0.0.1:1/0",
                platform_dsn="postgresql://x@127.0.0.1/platform",
                stripe_api_key="sk_test_x",
            )
        ),
        billing_openapi.description,
    ),
    "fulfillment": (
        lambda: fulfillment_app.create_app(
            FulfillmentSettings(**PEERS, carrier_url="http://127.0.0.1:1", carrier_api_key="k")
        ),
        fulfillment_openapi.description,
    ),
    "inventory": (
        lambda: inventory_app.create_app(InventorySettings(**PEERS)),
        inventory_openapi.description,
    ),
    "orders": (
        lambda: orders_app.create_app(OrdersSettings(**PEERS)),
        orders_openapi.description,
    ),
    "stripe_webhooks": (
        lambda: stripe_webhooks_app.create_app(
            StripeWebhooksSettings(**PEERS, signing_secret_file="/run/secrets/whsec")
        ),
        stripe_webhooks_openapi.description,
    ),
}
# Services whose callers are not the gateway's users: auth (logins), Stripe (signed webhooks).
WITHOUT_IDENTITY = {"auth", "stripe_webhooks"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_description_covers_exactly_the_served_routes(service: str) -> None:
    create_app, describe = SERVICES[service]
    served = {
        (route.method.lower(), re.sub(r"\{(\w+)[^}]*\}", r"{\1}", route.resource.canonical))
        for route in create_app().router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    document = describe()
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served == described
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_operation_names_its_scope_and_its_schemas_resolve(service: str) -> None:
    document = SERVICES[service][1]()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            takes_identity = any(
                parameter["name"] == contracts.TENANT_HEADER
                for parameter in operation.get("parameters", [])
            )
            assert takes_identity == (path not in KIT_ROUTES and service not in WITHOUT_IDENTITY), (
                path
            )
            if takes_identity:
                assert operation.get("x-meridian-scope"), f"{method} {path}"
                assert "403" in operation["responses"]
    schemas = document["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(document).replace("'", '"')))
    assert refs <= set(schemas), refs - set(schemas)
