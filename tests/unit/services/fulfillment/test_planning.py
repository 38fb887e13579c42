"""Which parcels an order becomes, and the ids that make every retry land on the same shipment."""

from __future__ import annotations

import datetime
import uuid

import pytest

from meridian.services.fulfillment import labels, shipping
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings
from meridian.services.kit import contracts
from meridian.services.kit.events import consumer


def confirmed(*allocations: tuple[str, str, int]) -> contracts.OrderEvent:
    return contracts.OrderEvent(
        type="order.confirmed",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        state="confirmed",
        lines=[contracts.Line(sku=sku, quantity=q) for sku, _, q in allocations],
        allocations=[
            contracts.Allocation(sku=s, warehouse=w, quantity=q) for s, w, q in allocations
        ],
    )


def test_one_parcel_per_warehouse_in_a_stable_order() -> None:
    event = confirmed(("a", "wh-2", 1), ("b", "wh-1", 2), ("c", "wh-2", 3))
    parcels = shipping.plan(event)
    assert [p.warehouse for p in parcels] == ["wh-1", "wh-2"]
    assert [[a.sku for a in p.allocations] for p in parcels] == [["b"], ["a", "c"]]
    assert [p.units for p in parcels] == [2, 4]


def test_shipment_ids_and_carrier_keys_depend_on_tenant_order_and_warehouse_only() -> None:
    tenant, order = uuid.uuid4(), uuid.uuid4()
    first = shipping.shipment_id(tenant, order, "wh-1")
    assert first == shipping.shipment_id(tenant, order, "wh-1")
    assert first != shipping.shipment_id(tenant, order, "wh-2")
    assert first != shipping.shipment_id(uuid.uuid4(), order, "wh-1")
    assert shipping.idempotency_key(first) == f"meridian-fulfillment-{first}"
    assert labels.key(tenant, order, first) == f"labels/{tenant}/{order}/{first}.pdf"


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"type": "order.confirmed"}', b"[]", b"\xff\xfe"]
)
def test_an_event_that_does_not_parse_is_permanent(body: bytes) -> None:
    with pytest.raises(consumer.Permanent, match="Invalid order event"):
        shipping.parse(body)


def test_origin_is_configured_per_warehouse_or_named_after_it() -> None:
    dock = contracts.Address(
        name="East Dock", street1="9 Pier", city="Newark", postal_code="07114", country="US"
    )
    settings = FulfillmentSettings(warehouse_origins={"wh-east": dock})
    fulfiller = shipping.Fulfiller(
        pool=None,  # type: ignore[arg-type]  # origin() touches neither pool nor clients
        carrier_client=None,  # type: ignore[arg-type]
        label_store=None,  # type: ignore[arg-type]
        settings=settings,
    )
    assert fulfiller.origin("wh-east") == dock
    assert fulfiller.origin("wh-9").name == "Meridian Fulfillment wh-9"
    assert fulfiller.origin("wh-9").street1 == settings.origin.street1
