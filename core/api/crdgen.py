"""Renders CustomResourceDefinitions from the typed API models (`make crds`).

pydantic emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3 schema: no $ref, no anyOf
for optional fields, no titles. This module does that translation and nothing else, so the models
stay the one source of truth and a test can compare the committed YAML with a fresh render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meridian.core.api.v1alpha1 import GROUP, KINDS, VERSION, Kind

_DROP = {"title", "discriminator"}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline $ref and collapse `anyOf: [X, null]`, keeping the outer description and default."""
    outer = {key: value for key, value in schema.items() if key not in ("$ref", "anyOf", "allOf")}
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[1]]
        return {**_resolve(target, defs), **outer}
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return {**_resolve(schema["allOf"][0], defs), **outer}
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {schema['anyOf']} structurally")
        return {**_resolve(options[0], defs), **outer}
    return schema


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema, defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROP or (key == "default" and value is None):
            continue
        if key == "properties":
            out[key] = {name: structural(prop, defs) for name, prop in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = structural(value, defs)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def _model_schema(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return structural(raw, defs)


def render(kind: Kind) -> dict[str, Any]:
    spec = _model_schema(kind.spec)
    spec["description"] = spec.get("description") or f"Desired state of the {kind.kind}."
    status = _model_schema(kind.status)
    status["description"] = f"Observed state of the {kind.kind}, written by its operator."
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion of this object: meridian.io/v1alpha1.",
            },
            "kind": {"type": "string", "description": f"Kind of this object: {kind.kind}."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if kind.name_schema:
        root["properties"]["metadata"]["properties"] = {"name": kind.name_schema}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {
                "app.kubernetes.io/part-of": "meridian",
                "app.kubernetes.io/managed-by": "meridian-crdgen",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": [kind.short_name],
                "categories": ["meridian"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.render() for column in kind.columns],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def kopf_peering_crd() -> dict[str, Any]:
    """kopf's own peering CRD: replicas of the operator elect one active instance through it."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusterkopfpeerings.kopf.dev"},
        "spec": {
            "group": "kopf.dev",
            "scope": "Cluster",
            "names": {
                "kind": "ClusterKopfPeering",
                "plural": "clusterkopfpeerings",
                "singular": "clusterkopfpeering",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `make crds` from meridian.core.api; do not edit by hand.\n"


def rendered_files() -> dict[str, str]:
    """File name -> YAML text for every CRD we ship."""
    files = {
        f"{GROUP}_{kind.plural}.yaml": HEADER
        + yaml.safe_dump(render(kind), sort_keys=False, width=120)
        for kind in KINDS
    }
    files["kopf.dev_clusterkopfpeerings.yaml"] = HEADER + yaml.safe_dump(
        kopf_peering_crd(), sort_keys=False, width=120
    )
    return files


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_files().items():
        path = out / name
        path.write_text(text)
        written.append(path)
    return written
