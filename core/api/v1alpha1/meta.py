"""What every kind shares: the camelCase base model, metav1.Condition, and the kind descriptor.

A `Kind` carries everything the CRD needs beyond the schema (names, scope, printer columns), so
that `crdgen` renders all four CRDs from these modules alone and nothing is written twice.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "meridian.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

ConditionStatus = Literal["True", "False", "Unknown"]

ServiceName = Literal[
    "gateway",
    "auth",
    "orders",
    "inventory",
    "fulfillment",
    "search",
    "billing",
    "stripe-webhooks",
    "notification",
    "worker",
    "report",
]
SERVICES: tuple[str, ...] = get_args(ServiceName)
Region = Literal["us-east-1", "eu-west-1"]

QUANTITY_PATTERN = r"^([0-9]+(\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields ignored (the API prunes them)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def with_validations(*rules: JsonDict) -> ConfigDict:
    """The model's config plus CEL rules (`x-kubernetes-validations`) that the apiserver enforces."""
    return ApiModel.model_config | ConfigDict(
        json_schema_extra={"x-kubernetes-validations": list(rules)}
    )


class Condition(ApiModel):
    """metav1.Condition: one aspect of the resource's state, keyed by type."""

    type: str = Field(
        description="Aspect of the resource this condition describes, in PascalCase (e.g. Ready).",
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        max_length=316,
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="Machine-readable CamelCase reason for the last transition.",
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        max_length=1024,
    )
    message: str = Field(
        default="",
        description="Human-readable detail: what is wrong and what to do.",
        max_length=32768,
    )
    last_transition_time: datetime.datetime = Field(
        description="When status last changed (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation this condition was computed from."
    )


class ObjectStatus(ApiModel):
    """Fields every kind's status starts with (Kubernetes API conventions)."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the status describes."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Current observations of the resource's state, one per type; Ready summarises.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


READY_COLUMN = PrinterColumn(
    "Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition status"
)
AGE_COLUMN = PrinterColumn("Age", ".metadata.creationTimestamp", type="date")


@dataclass(frozen=True)
class Kind:
    """A custom resource kind: its schema models plus the CRD's naming and presentation."""

    kind: str
    plural: str
    short_name: str
    scope: Literal["Namespaced", "Cluster"]
    spec: type[ApiModel]
    status: type[ApiModel]
    description: str
    columns: tuple[PrinterColumn, ...] = ()
    name_schema: dict[str, Any] = field(default_factory=dict)
    """Constraints on metadata.name (the only metadata field a CRD schema may constrain)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def finalizer(self) -> str:
        return f"{GROUP}/{self.singular}-cleanup"
