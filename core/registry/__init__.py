"""The platform registry: tenants, their API keys and limits, in the `meridian_platform` database.

One schema (`platform`), one forward-only migration history (alembic, `migrations/`), owned here
so that the writers (the Tenant operator) and the readers (auth, gateway) import the same code.
Every tenant-owned table has row-level security keyed by `meridian.tenant_id`; the operator's
role bypasses it, the services' role `meridian_app` does not.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
