"""Condition reasons of the EdgeNode operator (CamelCase constants, one place)."""

from typing import Final

RECONCILING: Final = "Reconciling"
