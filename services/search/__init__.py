"""Search: the tenant's product catalogue, searchable, on Elasticsearch 8.

A consumer of `inventory.events` (`consumers`) writes `product.upserted` / `product.deleted` into
the tenant's index in bulk (`indexer`), each document versioned externally with the event's
version, so a redelivered or late, older event never overwrites a newer document; a delivery is
acked only once its document is searchable. `routes` serve `GET /v1/search/products` (full text,
filters, facets, sorting, bounded pages) and `GET /v1/search/suggest` (completion), the tenant
taken from the caller's verified identity. Callers never see Elasticsearch's query DSL
(`query` builds it from typed parameters). The index layout, mappings and client are in
`meridian.core.search` (the Tenant operator provisions the same index); `documents` turns an event
into a document. No database of its own: the index is derived from inventory's catalogue.
"""
