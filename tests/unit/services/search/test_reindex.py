"""The reindex's pure pieces: names, the copied document, how a stopped run shows."""

from __future__ import annotations

import datetime
import uuid

from meridian.core.search import indices, mapping
from meridian.services.kit import contracts
from meridian.services.search import catalogue, documents, generations, jobs, reindex

TENANT = uuid.UUID("7f0c1c52-52e3-4a5e-9d8e-2b2f1b3c4d5e")


def stored(**fields: object) -> catalogue.StoredProduct:
    values: dict[str, object] = {
        "sku": "tarp-1",
        "name": "Silnylon Tarp",
        "brand": "Acme",
        "category": "shelter/tarps",
        "price": {"amount": "89.00", "currency": "USD"},
        "attributes": {"colour": "green"},
        "version": 4,
        "updated_at": datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC),
        **fields,
    }
    return catalogue.StoredProduct.model_validate(values)


def test_the_next_generation_follows_the_current_indexs_name() -> None:
    current = indices.concrete("products", TENANT, 7)
    assert generations.generation_of(current) == 7
    assert generations.building(indices.alias("products", TENANT)).endswith("-building")


def test_a_copied_document_equals_the_one_its_event_writes_with_its_version() -> None:
    product = stored()
    meta, document = reindex._line(TENANT, "target", product)
    assert meta == {
        "index": {"_index": "target", "_id": "tarp-1", "version": 4, "version_type": "external"}
    }
    event = contracts.ProductUpsertedEvent(
        type="product.upserted",
        message_id=uuid.uuid4(),
        occurred_at=product.updated_at,
        tenant_id=TENANT,
        version=4,
        product=contracts.ProductData.model_validate(
            product.model_dump(exclude={"version", "updated_at"})
        ),
    )
    assert document == documents.upserted(event)
    assert document["visible"] is True
    assert "suggest" in document


def test_an_inactive_product_is_copied_invisible() -> None:
    _, document = reindex._line(TENANT, "target", stored(active=False))
    assert document["visible"] is False
    assert "suggest" not in document


def progress(state: jobs.State, beat_s_ago: float) -> jobs.Progress:
    now = jobs.now()
    return jobs.Progress(
        run_id=uuid.uuid4(),
        state=state,
        requested_by="admin",
        mapping_version=mapping.VERSION,
        source_index="a",
        target_index="b",
        started_at=now,
        heartbeat_at=now - datetime.timedelta(seconds=beat_s_ago),
    )


def test_a_running_state_whose_heartbeat_stopped_shows_as_abandoned() -> None:
    assert jobs.shown(progress("building", 60), stale_s=15).state == "abandoned"
    assert jobs.shown(progress("swapping", 60), stale_s=15).state == "abandoned"
    assert jobs.shown(progress("building", 1), stale_s=15).state == "building"
    assert jobs.shown(progress("done", 600), stale_s=15).state == "done"
