"""The catalogue as inventory stores it (PostgreSQL, the source of truth), read page by page.

A reindex reads products through inventory's own API (`GET /v1/inventory/products`, keyset pages
by SKU), not from inventory's database: the table, its row-level security and its schema stay
inventory's to change, as with every other service's data here, and search needs no database role
or DSN. The call is a peer call like orders' reservations: search signs an internal token for
inventory (`identity.forward`) for the tenant being reindexed, with only `inventory:read`, as
`search-reindex/<who asked>`.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pydantic

from meridian.services.kit import contracts
from meridian.services.kit.trust import identity, signing

AUDIENCE = "inventory"
PAGE_MAX = 500  # inventory's bound on `limit`


class StoredProduct(contracts.ProductData):
    """A row of inventory's list: the product, its version and when it last changed."""

    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)

    version: int = pydantic.Field(ge=1)
    updated_at: datetime.datetime


class Page(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")

    items: list[StoredProduct]
    next_after: str | None


class Unreadable(Exception):
    """Inventory did not give a page (down, refused): the run fails and may be asked again."""


class Catalogue:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, signer: signing.Signer
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.signer = signer

    async def pages(
        self, tenant_id: uuid.UUID, *, after: str, requested_by: str, size: int = PAGE_MAX
    ) -> AsyncIterator[list[StoredProduct]]:
        """The tenant's live products in SKU order, from just after `after`."""
        reader = identity.Identity(
            tenant_id=tenant_id,
            subject=f"search-reindex/{requested_by}",
            scopes=frozenset({contracts.INVENTORY_READ}),
        )
        while True:
            headers = identity.forward(self.signer, reader, audience=AUDIENCE)
            params = {"after": after, "limit": str(min(size, PAGE_MAX))}
            url = f"{self.base_url}/v1/inventory/products"
            try:
                async with self.session.get(url, params=params, headers=headers) as response:
                    text = await response.text()
                    if response.status != 200:
                        raise Unreadable(f"Inventory answered {response.status}: {text[:300]}")
            except (aiohttp.ClientError, TimeoutError) as error:
                raise Unreadable(f"Inventory unreachable: {error!r}") from error
            page = Page.model_validate_json(text)
            if page.items:
                yield page.items
            if page.next_after is None or not page.items:
                return
            after = page.next_after


def upserted(tenant_id: uuid.UUID, product: StoredProduct) -> contracts.ProductUpsertedEvent:
    """The event that would have carried this version: the indexer's document is built from it
    (`mapping.upserted`), so a copied document equals the one its event writes."""
    return contracts.ProductUpsertedEvent(
        type="product.upserted",
        message_id=uuid.uuid4(),
        occurred_at=product.updated_at,
        tenant_id=tenant_id,
        version=product.version,
        product=contracts.ProductData.model_validate(
            product.model_dump(exclude={"version", "updated_at"})
        ),
    )
