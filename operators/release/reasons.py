"""Condition reasons of the ServiceRelease operator (CamelCase constants, one place)."""

from typing import Final

RECONCILING: Final = "Reconciling"
