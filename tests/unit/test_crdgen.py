"""CRD YAML is generated from the models, structurally, and documented field by field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meridian.core.api import crdgen
from meridian.core.api.v1alpha1 import KINDS, Kind


def _walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", prop
        yield from _walk(prop, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def _root(kind: Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crdgen.render(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_committed_crds_match_the_models(repo_root: Path) -> None:
    """`make crds` was run after the last model change (the YAML is never edited by hand)."""
    for name, text in crdgen.rendered_files().items():
        committed = (repo_root / "crds" / name).read_text()
        assert committed == text, f"crds/{name} is stale: run `make crds`"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_every_spec_and_status_field_has_a_description(kind: Kind) -> None:
    root = _root(kind)
    for top in ("spec", "status"):
        missing = [
            path
            for path, prop in _walk(root["properties"][top], top)
            if not prop.get("description")
        ]
        assert not missing, f"{kind.kind} fields without description: {missing}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_schema_is_structural(kind: Kind) -> None:
    """No $ref, anyOf or allOf survive, and every property has a type."""
    root = _root(kind)
    for path, prop in _walk(root, kind.kind):
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title"} & prop.keys(), path
        assert "type" in prop or prop.get("x-kubernetes-preserve-unknown-fields"), path


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = _root(KINDS[0])["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_optional_fields_are_not_required_and_keep_defaults() -> None:
    spec = _root(KINDS[0])["properties"]["spec"]
    assert set(spec["required"]) == {"tier", "region", "contacts"}
    assert spec["properties"]["deletionPolicy"]["default"] == "Retain"
    assert spec["properties"]["suspended"]["default"] is False


def test_anyof_that_is_not_optional_is_refused() -> None:
    with pytest.raises(ValueError, match="structurally"):
        crdgen.structural({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {})
