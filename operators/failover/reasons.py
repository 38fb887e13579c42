"""Condition reasons of the FailoverPlan operator (CamelCase constants, one place)."""

from typing import Final

RECONCILING: Final = "Reconciling"
