"""Condition reasons of the Tenant operator (CamelCase constants, one place)."""

from typing import Final

RECONCILING: Final = "Reconciling"
