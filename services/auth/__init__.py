"""The auth service: tenants' users log in, machines exchange API keys, both get RS256 JWTs.

Users and refresh tokens live in the platform registry (`meridian_platform`, schema `platform`,
beside the tenants and API keys the Tenant operator writes); signing keys live in auth's own
database (`meridian_auth`). The gateway validates the tokens against `/.well-known/jwks.json` and
checks revocations in Redis. Start: `python -m meridian.services.auth` (see `__main__`).
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""Auth's own database schema (meridian_auth: signing keys)."""
