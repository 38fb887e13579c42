"""The product index's settings and mappings, versioned in code.

Strict: a field not named here is refused (`dynamic: strict`), never mapped on the fly, so the
mapping cannot explode; a tenant's free-form attributes all go into one `flattened` field (core in
8.x), bounded to one level, 256-character values and the product contract's 50 keys. Only core
features of the integ-test distribution are used: the standard analyzer, the built-in lowercase
normalizer, `completion`; no scaled_float (the price is a double of the decimal amount).
Changing anything here means bumping `VERSION`: a new index per tenant, filled by a reindex, and
the alias swapped (`indices`), never an in-place mapping update.

Here in core, not in the search service, because the Tenant operator creates the same index when
it provisions a tenant; the document an event becomes is the service's (`search.documents`).
"""

from __future__ import annotations

from typing import Any

VERSION = 1

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    "max_result_window": 10_000,
    "mapping": {"total_fields": {"limit": 100}, "depth": {"limit": 3}},
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"mapping_version": VERSION},
    "properties": {
        "sku": {"type": "keyword"},
        "name": {
            "type": "text",
            "fields": {"sort": {"type": "keyword", "normalizer": "lowercase", "ignore_above": 256}},
        },
        "description": {"type": "text"},
        "brand": {"type": "keyword", "fields": {"text": {"type": "text"}}},
        "category": {"type": "keyword"},
        "category_path": {"type": "keyword"},
        "price": {"type": "double"},
        "price_amount": {"type": "keyword", "index": False},
        "currency": {"type": "keyword"},
        "attributes": {"type": "flattened", "depth_limit": 1, "ignore_above": 256},
        "image_keys": {"type": "keyword", "index": False, "doc_values": False},
        "active": {"type": "boolean"},
        "deleted": {"type": "boolean"},
        "visible": {"type": "boolean"},
        "version": {"type": "long"},
        "updated_at": {"type": "date"},
        "suggest": {"type": "completion", "max_input_length": 100},
    },
}
