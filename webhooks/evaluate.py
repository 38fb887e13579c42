"""Which checks an admission request gets, run against the world: the request's violations.

Dispatch is by (API group, kind) and operation. A check whose lookup fails yields a violation
saying it could not be checked, under its own policy, so the policy's mode decides (Enforce
denies: fail closed; Audit warns). An object of the wrong shape is reported the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from meridian.core.api.v1alpha1 import GROUP
from meridian.core.policy import integrity, kinds, workloads
from meridian.core.policy.catalogue import Policy
from meridian.core.policy.violations import Violation
from meridian.webhooks.review import Request
from meridian.webhooks.settings import Settings
from meridian.webhooks.world import LookupFailed, World

CREATE, UPDATE = "CREATE", "UPDATE"


async def _guarded(
    policy: Policy, check: Callable[[], Awaitable[list[Violation]]]
) -> list[Violation]:
    try:
        return await check()
    except (LookupFailed, workloads.BadObject) as error:
        return [Violation(policy, "(lookup)", f"could not be checked: {error}")]


async def violations(request: Request, world: World, settings: Settings) -> list[Violation]:
    key = (request.group, request.kind)
    found: list[Violation] = []
    if not request.spec_changed:
        return found
    obj, namespace = request.object, request.namespace

    if key in workloads.WORKLOADS and request.operation == CREATE and namespace:

        async def network_policy() -> list[Violation]:
            has = await world.has_network_policy(namespace)
            if not has:  # a cached "none" is checked again before it denies
                has = await world.has_network_policy(namespace, fresh=True)
            violation = workloads.network_policy_violation(namespace, has)
            return [violation] if violation else []

        found += await _guarded(workloads.NETWORK_POLICY, network_policy)

    if key == ("apps", "Deployment") and request.operation in (CREATE, UPDATE):

        async def pdb() -> list[Violation]:
            if not workloads.needs_pdb(obj):
                return []
            violation = workloads.pdb_violation(obj, namespace, await world.pdbs(namespace))
            if violation:  # a cached list is fetched again before it denies
                fresh = await world.pdbs(namespace, fresh=True)
                violation = workloads.pdb_violation(obj, namespace, fresh)
            return [violation] if violation else []

        found += await _guarded(workloads.PDB_REQUIRED, pdb)

    if (request.resource, request.sub_resource) == ("deployments", "scale"):
        found += await _guarded(workloads.PDB_REQUIRED, lambda: _scaled(request, world))

    if request.group == GROUP and request.operation in (CREATE, UPDATE):
        found += await _our_kind(request, world, settings)
    return found


async def _scaled(request: Request, world: World) -> list[Violation]:
    """`kubectl scale` (the scale subresource): the PDB rule on the Deployment at its new size."""
    spec = request.object.get("spec")
    replicas = spec.get("replicas", 1) if isinstance(spec, dict) else 1
    if not isinstance(replicas, int) or replicas <= 1:
        return []
    deployment = await world.deployment(request.namespace, request.name)
    scaled = {**deployment, "spec": {**deployment.get("spec", {}), "replicas": replicas}}
    violation = workloads.pdb_violation(
        scaled, request.namespace, await world.pdbs(request.namespace)
    )
    if violation:
        fresh = await world.pdbs(request.namespace, fresh=True)
        violation = workloads.pdb_violation(scaled, request.namespace, fresh)
    return [violation] if violation else []


async def _our_kind(request: Request, world: World, settings: Settings) -> list[Violation]:
    obj = request.object
    if request.kind == "ServiceRelease":
        return kinds.service_release(obj, settings.services)
    if request.kind == "EdgeNode":
        return kinds.edge_site(obj, settings.edge_sites)
    if request.kind == "FailoverPlan":

        async def secrets() -> list[Violation]:
            named = kinds.failover_secrets(obj)
            missing = {
                field: name
                for field, name in named.items()
                if not await world.secret_exists(request.namespace, name)
            }
            return kinds.missing_secrets(request.namespace, missing)

        return await _guarded(integrity.FAILOVER_SECRETS_EXIST, secrets)
    if request.kind == "Tenant" and request.operation == CREATE:
        metadata = obj.get("metadata")
        name = request.name or (str(metadata.get("name", "")) if isinstance(metadata, dict) else "")

        async def tenant() -> list[Violation]:
            return kinds.tenant_name(name, await world.tenant_registered(name))

        return await _guarded(integrity.TENANT_NAME_FREE, tenant)
    return []
