"""The product search index contract, shared by its two writers: the search service (indexes
products, creates a tenant's index lazily) and the Tenant operator (provisions it at onboarding,
deletes it at offboarding). Naming, settings and mappings, and the small Elasticsearch client."""
