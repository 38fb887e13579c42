"""Tenant (cluster-scoped): one Meridian customer, and everything the platform provisions for it."""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

from pydantic import Field
from pydantic.config import JsonDict

from meridian.core.api.v1alpha1.meta import (
    AGE_COLUMN,
    QUANTITY_PATTERN,
    READY_COLUMN,
    ApiModel,
    Kind,
    ObjectStatus,
    PrinterColumn,
    Region,
    ServiceName,
    with_validations,
)

Tier = Literal["starter", "growth", "enterprise"]
TenantPhase = Literal["Pending", "Provisioning", "Ready", "Suspended", "Deleting", "Failed"]


class TierPolicy(NamedTuple):
    """What a tier gives a tenant unless its spec overrides it, and the floor an override keeps."""

    cpu: str
    memory: str
    pods: int
    min_cpu: str
    min_memory: str
    min_pods: int
    requests_per_second: int
    burst: int


TIERS: Final[dict[str, TierPolicy]] = {
    "starter": TierPolicy(
        cpu="4",
        memory="8Gi",
        pods=20,
        min_cpu="1",
        min_memory="2Gi",
        min_pods=5,
        requests_per_second=50,
        burst=100,
    ),
    "growth": TierPolicy(
        cpu="16",
        memory="32Gi",
        pods=100,
        min_cpu="4",
        min_memory="8Gi",
        min_pods=25,
        requests_per_second=500,
        burst=1000,
    ),
    "enterprise": TierPolicy(
        cpu="64",
        memory="128Gi",
        pods=500,
        min_cpu="16",
        min_memory="32Gi",
        min_pods=100,
        requests_per_second=5000,
        burst=10000,
    ),
}


def _by_tier(attribute: str) -> str:
    """A CEL expression choosing the tier's value of `attribute` (the table above, once)."""
    expression = repr(str(getattr(TIERS["enterprise"], attribute)))
    for name in ("growth", "starter"):
        value = repr(str(getattr(TIERS[name], attribute)))
        expression = f"self.tier == '{name}' ? {value} : {expression}"
    return f"({expression})"


def _floors(attribute: str) -> str:
    return ", ".join(f"{name} {getattr(policy, attribute)}" for name, policy in TIERS.items())


def _quota_floor(field: str, attribute: str, rule: str) -> JsonDict:
    return {
        "rule": f"!has(self.quotas) || !has(self.quotas.{field}) || {rule}",
        "message": f"spec.quotas.{field} is below the tier minimum ({_floors(attribute)})",
        "fieldPath": f".quotas.{field}",
    }


class Contact(ApiModel):
    name: str = Field(description="Full name of the contact person.", min_length=1, max_length=128)
    email: str = Field(
        description="Email address the platform writes to about this tenant.",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        max_length=254,
    )
    role: Literal["admin", "billing", "technical"] = Field(
        default="admin",
        description="What this contact is reached for: admin, billing or technical.",
    )


class Quotas(ApiModel):
    """Overrides of the tier's ResourceQuota; unset fields keep the tier default."""

    cpu: str | None = Field(
        default=None,
        pattern=QUANTITY_PATTERN,
        max_length=32,
        description="Total CPU requests allowed in the tenant namespace (e.g. 8 or 8000m).",
    )
    memory: str | None = Field(
        default=None,
        pattern=QUANTITY_PATTERN,
        max_length=32,
        description="Total memory requests allowed in the tenant namespace (e.g. 16Gi).",
    )
    pods: int | None = Field(default=None, ge=1, le=5000, description="Maximum number of pods.")


class RateLimit(ApiModel):
    """Per-tenant gateway limit; unset fields keep the tier default."""

    requests_per_second: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Sustained requests per second the gateway admits.",
    )
    burst: int | None = Field(
        default=None,
        ge=1,
        le=200000,
        description="Requests admitted above the sustained rate in a burst.",
    )


class Billing(ApiModel):
    plan: str = Field(
        default="standard",
        description="Billing plan within the tier (maps to a Stripe price).",
        pattern=r"^[a-z0-9-]{1,63}$",
    )
    currency: Literal["usd", "eur"] = Field(default="usd", description="Invoice currency.")


class TenantSpec(ApiModel):
    tier: Tier = Field(
        description="Service tier: starter, growth or enterprise. Sets default quotas and limits."
    )
    region: Region = Field(description="Home region where the tenant's data lives.")
    display_name: str = Field(
        default="",
        max_length=128,
        description="Human-readable name shown in dashboards and invoices.",
    )
    contacts: list[Contact] = Field(
        min_length=1,
        max_length=16,
        description="People to contact about this tenant; at least one.",
    )
    admin_group: str = Field(
        default="",
        max_length=253,
        description="Identity-provider group bound to the tenant namespace's admin Role; empty means tenant-<name>-admins.",
    )
    quotas: Quotas = Field(
        default_factory=Quotas, description="Overrides of the tier's resource quota."
    )
    rate_limit: RateLimit = Field(
        default_factory=RateLimit, description="Override of the tier's gateway rate limit."
    )
    services: list[ServiceName] = Field(
        default_factory=list,
        max_length=10,
        description="Meridian services enabled for this tenant.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    billing: Billing = Field(default_factory=Billing, description="How the tenant is billed.")
    suspended: bool = Field(
        default=False, description="Disable the tenant's API keys while keeping all data."
    )
    deletion_policy: Literal["Retain", "Delete"] = Field(
        default="Retain",
        description="On delete: Retain exports the tenant's data to S3 before deprovisioning; Delete does not.",
    )

    model_config = with_validations(
        _quota_floor(
            "cpu",
            "min_cpu",
            f"!quantity(self.quotas.cpu).isLessThan(quantity({_by_tier('min_cpu')}))",
        ),
        _quota_floor(
            "memory",
            "min_memory",
            f"!quantity(self.quotas.memory).isLessThan(quantity({_by_tier('min_memory')}))",
        ),
        _quota_floor("pods", "min_pods", f"self.quotas.pods >= int({_by_tier('min_pods')})"),
    )

    def policy(self) -> TierPolicy:
        """The tier's defaults with this spec's overrides applied."""
        tier = TIERS[self.tier]
        return tier._replace(
            cpu=self.quotas.cpu or tier.cpu,
            memory=self.quotas.memory or tier.memory,
            pods=self.quotas.pods or tier.pods,
            requests_per_second=self.rate_limit.requests_per_second or tier.requests_per_second,
            burst=self.rate_limit.burst or tier.burst,
        )


class TenantStatus(ObjectStatus):
    phase: TenantPhase | None = Field(
        default=None, description="Short summary of the tenant's lifecycle state."
    )
    namespace: str | None = Field(
        default=None, description="The namespace provisioned for the tenant."
    )
    tenant_id: str | None = Field(
        default=None, description="The tenant's id in the platform registry (tokens carry it)."
    )


KIND = Kind(
    kind="Tenant",
    plural="tenants",
    short_name="tn",
    scope="Cluster",
    spec=TenantSpec,
    status=TenantStatus,
    description="A Meridian customer: its namespace, database records, billing and gateway limits.",
    columns=(
        PrinterColumn("Tier", ".spec.tier"),
        PrinterColumn("Region", ".spec.region"),
        PrinterColumn("Phase", ".status.phase"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
    # The namespace is tenant-<name>, a DNS-1123 label of at most 63 characters.
    name_schema={
        "type": "string",
        "maxLength": 56,
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "description": "A DNS-1123 label of at most 56 characters: it prefixes the namespace tenant-<name>.",
    },
)
