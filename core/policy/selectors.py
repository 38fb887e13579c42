"""Kubernetes label selectors (`matchLabels` + `matchExpressions`), as the apiserver reads them.

Used to decide whether a PodDisruptionBudget selects a Deployment's pods. An empty selector
selects everything; a missing one selects nothing (policy/v1's semantics for PDBs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _expression(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key")
    if not isinstance(key, str):
        return False
    operator = expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an operator the apiserver would have refused: select nothing


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    match_labels = selector.get("matchLabels") or {}
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [])
