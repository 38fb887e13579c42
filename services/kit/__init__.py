"""The services' shared platform library: one way each to serve, configure, store, cache and message.

Every Meridian service (gateway, auth, orders, inventory, fulfillment) builds on these modules, so
health probes, problem+json errors, tenancy, retries and dead letters behave the same everywhere.
Import modules, not names: `from meridian.services.kit import db` then `db.tenant_connection(...)`.
"""
