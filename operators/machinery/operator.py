"""The one interface an operator exports, and the list of operators found from the packages.

Each kind's package (`meridian.operators.<name>`) sets `OPERATOR = operator.Operator(...)` in its
`__init__.py`: its name, the `Kind` it reconciles, how to register its handlers, the RBAC rules it
needs beyond the framework's, and its own settings class. The runtime, `meridian operator rbac`
and the local platform build their lists from `discover()`, so adding an operator touches only its
own package (plus its API type in `core/api` and the generated CRD).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import kopf
from pydantic_settings import BaseSettings

from meridian.core.api.v1alpha1.meta import Kind
from meridian.operators.machinery.settings import OperatorSettings

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
PACKAGE = "meridian.operators"
MACHINERY = "machinery"


@dataclass(frozen=True)
class Operator(Generic[SettingsT]):
    name: str
    """Short name: `--only <name>`, ClusterRole `meridian-<name>-operator`, peering suffix."""
    kind: Kind | None
    """The kind it reconciles; None for a controller of no kind of ours (the policy audit),
    which then gets no finalizer and no rights over our kinds."""
    register: Callable[[kopf.OperatorRegistry, OperatorSettings, SettingsT], None]
    """Adds the operator's handlers to its own kopf registry (called once per process start)."""
    settings: type[SettingsT]
    """Its own settings class (`MERIDIAN_OPERATOR_<NAME>_*`), read only when it runs."""
    rbac_rules: tuple[dict[str, Any], ...] = ()
    """What it may do beyond watching its kind and writing its status (the framework's part)."""
    cluster_roles: tuple[dict[str, Any], ...] = ()
    """ClusterRoles it binds for others (installed beside the CRDs, as the chart does)."""

    def build_registry(self, process: OperatorSettings) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()
        self.register(registry, process, self.settings())
        return registry


@functools.cache
def discover() -> dict[str, Operator[Any]]:
    """Every operator package under meridian.operators, by name, in alphabetical order."""
    found: dict[str, Operator[Any]] = {}
    package = importlib.import_module(PACKAGE)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not module.ispkg or module.name == MACHINERY:
            continue
        exported = getattr(importlib.import_module(f"{PACKAGE}.{module.name}"), "OPERATOR", None)
        if not isinstance(exported, Operator):
            raise TypeError(f"{PACKAGE}.{module.name} exports no OPERATOR = Operator(...)")
        if exported.name in found:
            raise ValueError(f"two operator packages are named {exported.name!r}")
        found[exported.name] = exported
    return found


def named(names: list[str] | None = None) -> list[Operator[Any]]:
    """The operators called `names` (all when None); an unknown name stops with the choices."""
    known = discover()
    unknown = [name for name in names or [] if name not in known]
    if unknown:
        raise SystemExit(
            f"unknown operator {', '.join(map(repr, unknown))}; choose from {', '.join(known)}"
        )
    return [known[name] for name in names] if names else list(known.values())
