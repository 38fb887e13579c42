"""What the services say to one another: identity headers, events on the exchanges, and the
inventory reservation API. One module, so a producer and its consumers cannot drift apart.

Identity: the gateway validates the caller's JWT (or API key via auth) and forwards the request
with `X-Meridian-Tenant-Id`, `X-Meridian-Subject` and `X-Meridian-Scopes` (space-separated, as
OAuth 2 scope strings) set, after stripping any
such header the client sent. Services trust these headers only from the gateway and their peers
(NetworkPolicies; mTLS in production) and scope every query by the tenant through row-level
security (`db.tenant_connection`).

Access tokens: auth signs `AccessClaims` (RS256, keys published at `JWKS_PATH`); a revoked token's
`jti` sits under `revoked_token_key(jti)` in Redis until the token would have expired anyway.

Events: JSON bodies (pydantic, camelCase off: snake_case on the wire), `message_id` is the outbox
row's id (idempotent consumers dedupe on it), `tenant_id` on every event, routing key = `type`.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from meridian.services.kit.events import messaging

TENANT_HEADER = "X-Meridian-Tenant-Id"
SUBJECT_HEADER = "X-Meridian-Subject"
SCOPES_HEADER = "X-Meridian-Scopes"
IDENTITY_HEADERS = (TENANT_HEADER, SUBJECT_HEADER, SCOPES_HEADER)

# Scopes, as auth puts them in tokens and each handler requires them (`identity.of(..., needs=)`).
ORDERS_READ = "orders:read"  # orders and their shipments
ORDERS_WRITE = "orders:write"  # place and cancel orders (and, on the caller's behalf, reserve)
INVENTORY_READ = "inventory:read"
INVENTORY_WRITE = "inventory:write"  # set stock levels: a tenant admin's or a machine's job
BILLING_READ = "billing:read"  # the tenant's usage, invoices and payment state
BILLING_ADMIN = "billing:admin"  # generate an invoice on demand (a tenant admin's job)
SEARCH_READ = "search:read"  # search the catalogue (a storefront's key, or any user)
SEARCH_ADMIN = "search:admin"  # reindex the tenant's catalogue, see its progress (a tenant admin)

ORDERS_EXCHANGE = "orders.events"
INVENTORY_EXCHANGE = "inventory.events"
FULFILLMENT_EXCHANGE = "fulfillment.events"
STRIPE_EXCHANGE = "stripe.events"

Sku = str
OrderState = Literal["pending", "confirmed", "fulfilled", "canceled"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- access tokens (auth issues, the gateway validates) ------------------------------------------

JWKS_PATH = "/.well-known/jwks.json"
TOKEN_ALGORITHM = "RS256"


class AccessClaims(Contract):
    """The claims of an access token (a JWT signed RS256 by auth, `kid` in its header).

    `sub` is a user id, or `apikey:<prefix>` for a machine client's token."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    iss: str
    sub: str
    tenant_id: uuid.UUID
    scopes: list[str]
    iat: int
    exp: int
    jti: str


def revoked_token_key(jti: str) -> str:
    """Redis key present while a revoked access token would otherwise still be valid."""
    return f"meridian:auth:revoked:{jti}"


CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""SKUs and warehouse codes: what tenants type, safe in URLs, keys and logs."""


class Line(Contract):
    sku: Sku = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    quantity: int = Field(gt=0, le=10_000)


class Allocation(Contract):
    """Where reserved stock comes from: one warehouse per line (inventory chooses)."""

    sku: Sku
    warehouse: str
    quantity: int = Field(gt=0)


class Address(Contract):
    """A postal address, as carriers take it (country: ISO 3166-1 alpha-2)."""

    name: str = Field(min_length=1, max_length=100)
    street1: str = Field(min_length=1, max_length=100)
    street2: str = Field(default="", max_length=100)
    city: str = Field(min_length=1, max_length=60)
    state: str = Field(default="", max_length=30)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$")


# --- inventory's reservation API (called by orders through its circuit breaker) ---------------


class ReservationRequest(Contract):
    """POST /v1/inventory/reservations: all lines or nothing, under row locks (no oversell).

    201 with `Reservation`; 409 problem+json `insufficient-stock` naming the SKU; idempotent per
    order_id (a repeat returns the existing reservation)."""

    order_id: uuid.UUID
    lines: list[Line] = Field(min_length=1, max_length=100)


class Reservation(Contract):
    order_id: uuid.UUID
    allocations: list[Allocation]


INSUFFICIENT_STOCK = "https://meridian.io/problems/insufficient-stock"
"""Problem type of a 409 from POST /v1/inventory/reservations; extensions `sku`, `requested`,
`available` (the most one warehouse can give)."""
UNKNOWN_SKU = "https://meridian.io/problems/unknown-sku"
"""Problem type of a 422 naming `/lines/<i>/sku` when the tenant has no stock row for that SKU."""
RESERVATION_RELEASED = "https://meridian.io/problems/reservation-released"
"""Problem type of a 409 when the order's reservation was already released (order canceled)."""


# --- events ----------------------------------------------------------------------------------


class OrderEvent(Contract):
    """On `orders.events`, routing keys `order.created|order.confirmed|order.canceled|order.fulfilled`."""

    type: Literal["order.created", "order.confirmed", "order.canceled", "order.fulfilled"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    tenant_id: uuid.UUID
    order_id: uuid.UUID
    state: OrderState
    lines: list[Line]
    allocations: list[Allocation] = Field(default_factory=list)
    """Set from `order.confirmed` on: what inventory reserved, so fulfillment picks from it."""
    ship_to: Address | None = None
    """Where the order goes; fulfillment falls back to its configured default when absent."""


class StockChangedEvent(Contract):
    """On `inventory.events`, routing key `stock.changed`: one SKU in one warehouse changed."""

    type: Literal["stock.changed"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    tenant_id: uuid.UUID
    sku: Sku
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    reason: Literal["set", "reserved", "released", "shipped"]


class ProductPrice(Contract):
    """A price as tenants write it: a decimal string amount (never a float) and ISO 4217 code."""

    amount: decimal.Decimal = Field(ge=0, le=decimal.Decimal("9999999999.99"), decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


AttributeKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
AttributeValue = (
    StrictBool | StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=256)]
)
ImageKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ProductData(Contract):
    """A product of the tenant's catalogue (inventory owns it; search indexes it)."""

    sku: Sku = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    brand: str = Field(default="", max_length=100)
    category: str = Field(
        default="",
        max_length=200,
        pattern=r"^$|^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*){0,4}$",
        description='A path of up to five lowercase segments, "shelter/tarps"',
    )
    price: ProductPrice
    attributes: dict[AttributeKey, AttributeValue] = Field(default_factory=dict, max_length=50)
    """Free-form facts ("colour": "green"): at most 50, lowercase keys, values up to 256
    characters; search keeps them in one bounded field, never as new mappings."""
    image_keys: list[ImageKey] = Field(default_factory=list, max_length=20)
    """Object keys in bucket `meridian-media`."""
    active: bool = True


class ProductUpsertedEvent(Contract):
    """On `inventory.events`, routing key `product.upserted`: the product as of `version`.

    `version` grows by one with every change of the SKU (deletion included), so a consumer keeps
    the highest it saw and drops older ones arriving late."""

    type: Literal["product.upserted"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    tenant_id: uuid.UUID
    version: int = Field(ge=1)
    product: ProductData


class ProductDeletedEvent(Contract):
    """On `inventory.events`, routing key `product.deleted`: the SKU left the catalogue at
    `version` (a later upsert brings it back with a higher one)."""

    type: Literal["product.deleted"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    tenant_id: uuid.UUID
    version: int = Field(ge=1)
    sku: Sku


class ShipmentEvent(Contract):
    """On `fulfillment.events`, routing key `shipment.created`: the order left a warehouse."""

    type: Literal["shipment.created"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    tenant_id: uuid.UUID
    order_id: uuid.UUID
    shipment_id: uuid.UUID
    carrier: str
    tracking_number: str
    label_key: str
    """Object key of the label PDF in bucket `meridian-fulfillment`."""
    allocations: list[Allocation]


def shipments_topology(queue: str, *, retry_delay_s: float) -> messaging.Topology:
    """A service's queue of `shipment.created` (orders and inventory each keep one)."""
    return messaging.Topology(
        exchange=FULFILLMENT_EXCHANGE,
        queue=queue,
        routing_keys=("shipment.created",),
        retry_delay_s=retry_delay_s,
    )


# --- Stripe's events, as the webhook handler relays them to billing ---------------------------

STRIPE_EVENT_TYPES = (
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
)
"""The Stripe event types billing acts on; the webhook handler stores every verified event but
relays only these (routing key = the Stripe type)."""


class StripeEvent(Contract):
    """On `stripe.events`, routing key = `stripe_type`: one verified Stripe event, relayed once.

    There is no `tenant_id` yet: Stripe names its customer, and billing maps the customer to the
    tenant (the registry holds `stripe_customer_id`). `message_id` is derived from the Stripe
    event id (uuid5), so the same Stripe event is the same message however often it arrives."""

    type: Literal["stripe.event"]
    message_id: uuid.UUID
    occurred_at: datetime.datetime
    stripe_event_id: str
    stripe_type: str
    customer: str | None
    object_id: str | None
    object: dict[str, object]
    """`data.object` of the Stripe event as Stripe sent it (invoice, subscription or charge)."""


# --- usage metering (the gateway counts, billing stores) --------------------------------------

Product = Literal["api_calls", "orders_placed", "searches"]
PRODUCTS: tuple[Product, ...] = ("api_calls", "orders_placed", "searches")

USAGE_STREAM = "meridian:billing:usage"
"""Redis stream of `UsageBatch`es (field `batch`): the gateway adds, billing's group reads."""


def usage_ack_key(batch_id: uuid.UUID) -> str:
    """Redis key billing sets once a batch is committed to its database; until the gateway sees
    it, the gateway keeps the batch and sends it again (Redis may have lost the stream)."""
    return f"meridian:billing:usage:acked:{batch_id}"


class UsageCount(Contract):
    tenant_id: uuid.UUID
    product: Product
    quantity: int = Field(gt=0)


class UsageBatch(Contract):
    """What one gateway replica counted between two flushes. `batch_id` is the flush's
    idempotency key: billing applies a batch id once, however often it is delivered."""

    batch_id: uuid.UUID
    source: str
    sealed_at: datetime.datetime
    counts: list[UsageCount]
