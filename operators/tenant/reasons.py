"""Condition types and reasons of the Tenant operator (CamelCase constants, one place)."""

from typing import Final

# Condition types, one per provisioning step; Ready summarises them.
NAMESPACE_READY: Final = "NamespaceReady"
DATABASE_READY: Final = "DatabaseReady"
BILLING_READY: Final = "BillingReady"
GATEWAY_CONFIGURED: Final = "GatewayConfigured"
SEARCH_READY: Final = "SearchReady"
OFFBOARDED: Final = "Offboarded"

# Reasons.
RECONCILING: Final = "Reconciling"
PROVISIONED: Final = "Provisioned"
SUSPENDED: Final = "Suspended"
BLOCKED: Final = "Blocked"
"""A step waits for the one it depends on (message names it)."""
APPLY_FAILED: Final = "ApplyFailed"
NAMESPACE_TERMINATING: Final = "NamespaceTerminating"
DATABASE_UNAVAILABLE: Final = "DatabaseUnavailable"
CREDENTIALS_CONFLICT: Final = "CredentialsConflict"
STRIPE_UNAVAILABLE: Final = "StripeUnavailable"
STRIPE_REJECTED: Final = "StripeRejected"
PRICE_NOT_FOUND: Final = "PriceNotFound"
REDIS_UNAVAILABLE: Final = "RedisUnavailable"
ELASTICSEARCH_UNAVAILABLE: Final = "ElasticsearchUnavailable"
"""Elasticsearch unreachable, answering 5xx or 429 (red, overloaded): retried with backoff."""
SEARCH_INDEX_REFUSED: Final = "SearchIndexRefused"
"""Elasticsearch answered and refused the index (bad mapping, name taken): a person must look."""
EXPORT_FAILED: Final = "ExportFailed"
WAITING_FOR_NAMESPACE: Final = "WaitingForNamespaceDeletion"
OFFBOARDING: Final = "Offboarding"

# Event-only reasons (no condition carries them).
DRIFT_REPAIRED: Final = "DriftRepaired"
CREDENTIALS_ISSUED: Final = "CredentialsIssued"
EXPORTED: Final = "Exported"
SEARCH_INDICES_REMOVED: Final = "SearchIndicesRemoved"
