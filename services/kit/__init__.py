"""The services' business plumbing, on top of the runtime every process shares (`core.runtime`).

What only business services need: the outbox and its relay, consumers with retries and dead
letters, idempotency keys, the caller's identity, the cross-service contracts, the broker
topology, OpenAPI documents and the plumbing metrics. Every Meridian service (gateway, auth,
orders, inventory, fulfillment) builds on these modules, so tenancy, retries and dead letters
behave the same everywhere. Split by domain: `events/`, `trust/`, `storage/`, and at the top what
every service shares (contracts, settings mixins, OpenAPI, metrics).
Import modules, not names: `from meridian.services.kit.events import outbox`.
"""
