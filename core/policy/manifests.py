"""The admission policies as committed YAML (`make crds` writes `policies/`; a test fails when stale).

`policies/` sits beside `crds/`: both are apiserver objects rendered from Python, installed by the
same step of the local platform and shipped by the chart. Not under `webhooks/`: these run inside
the apiserver with no webhook at all, which is their point, and `webhooks/` is the admission
server's package. The bindings here carry each policy's default mode; a live cluster's bindings
follow the modes ConfigMap instead (`validating.bindings(modes)`, re-applied on every flip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meridian.core.policy import mutating, validating

HEADER = "# Generated from core/policy by `make crds` (meridian policies generate); do not edit.\n"


def documents() -> dict[str, list[dict[str, Any]]]:
    """File name -> the objects it holds, in the order they must be applied."""
    return {
        "params.yaml": [validating.registries_configmap()],
        "validating-policies.yaml": validating.policies(),
        "validating-bindings.yaml": validating.bindings(),
        "mutating-policies.yaml": [*mutating.policies(), *mutating.bindings()],
    }


class _Dumper(yaml.SafeDumper):
    """No `&id001` anchors for lists the renderers share: each object reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered_files() -> dict[str, str]:
    return {
        name: HEADER + yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, width=100)
        for name, objects in documents().items()
    }


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_files().items():
        path = out / name
        path.write_text(text)
        written.append(path)
    return written
