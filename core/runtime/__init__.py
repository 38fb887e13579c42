"""What every Meridian process runs on, whatever it is: operator, service, admission server or agent.

Settings from the environment, structured logs, the aiohttp app skeleton with probes, `/metrics`
and problem+json errors, tracing, the outgoing HTTP client, periodic work, retries and circuit
breakers, and the PostgreSQL and Redis pool helpers. Business plumbing (outbox, consumers,
idempotency, identity, contracts) stays with the services in `meridian.services.kit`; nothing here
knows about tenants' orders or Kubernetes objects, so each layer above can reuse all of it.
Import modules, not names: `from meridian.core.runtime import db` then `db.create_pool(...)`.
"""
