"""The cross-resource checks on Meridian's own kinds, beside the seven policies of the catalogue.

They are not policies on users' workloads but integrity checks an object cannot pass without
(a ServiceRelease of a service the platform does not run, a FailoverPlan whose credentials do not
exist, a Tenant reusing a registered name, an EdgeNode at an unknown site: none could ever be
reconciled). So they are always enforced: no Audit mode, no entry in the modes ConfigMap. The
admission webhook evaluates them; they share `catalogue.Policy` so denials read alike.
"""

from __future__ import annotations

from meridian.core.policy.catalogue import Engine, Mode, Policy

SERVICE_IN_CATALOGUE = Policy(
    name="meridian-release-service-known",
    title="A ServiceRelease runs a service of the platform",
    description="spec.service must name a service in the platform's service catalogue.",
    fix="use one of the catalogue's services (meridian.core.servicecatalogue.SERVICES)",
    engine=Engine.WEBHOOK,
    mode=Mode.ENFORCE,
)
FAILOVER_SECRETS_EXIST = Policy(
    name="meridian-failover-secrets-exist",
    title="A FailoverPlan's Secrets exist",
    description="Every Secret a FailoverPlan names (kubeconfigs, database credentials) must exist in its namespace.",
    fix="create the Secret in the FailoverPlan's namespace first, or correct its name",
    engine=Engine.WEBHOOK,
    mode=Mode.ENFORCE,
)
TENANT_NAME_FREE = Policy(
    name="meridian-tenant-name-free",
    title="A new Tenant's name is free",
    description="A Tenant may not be created under a name the platform registry already holds.",
    fix="choose another name (the registry keeps a retained tenant's name until it is purged)",
    engine=Engine.WEBHOOK,
    mode=Mode.ENFORCE,
)
EDGE_SITE_KNOWN = Policy(
    name="meridian-edge-site-known",
    title="An EdgeNode is at a configured site",
    description="spec.site must be one of the platform's configured edge sites.",
    fix="use a configured site (MERIDIAN_WEBHOOKS_EDGE_SITES), or add the site there first",
    engine=Engine.WEBHOOK,
    mode=Mode.ENFORCE,
)

CHECKS: tuple[Policy, ...] = (
    SERVICE_IN_CATALOGUE,
    FAILOVER_SECRETS_EXIST,
    TENANT_NAME_FREE,
    EDGE_SITE_KNOWN,
)
