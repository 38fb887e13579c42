"""What a Tenant owns, rendered from its spec: the objects, their labels, owners and rules."""

from __future__ import annotations

from typing import Any

from meridian.core.api.v1alpha1 import tenant
from meridian.operators.tenant import rbac, resources
from tests.unit.operators.tenant.conftest import OWNER, PEERS, SpecFactory


def test_a_tenant_lives_in_namespace_tenant_dash_name() -> None:
    """The namespace name is derived in one place."""
    assert resources.namespace_of("acme") == "tenant-acme"


def test_the_namespace_is_rendered_first_and_labelled_with_the_tier(
    make_spec: SpecFactory,
) -> None:
    """Everything else lives in the namespace, so it is applied first."""
    first = resources.render("acme", make_spec(tier="starter"), OWNER, PEERS)[0]
    assert (first["kind"], first["metadata"]["name"]) == ("Namespace", "tenant-acme")
    assert first["metadata"]["labels"][resources.TIER_LABEL] == "starter"


def test_every_object_but_the_namespace_lives_in_the_tenant_namespace(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """No object of a tenant lands in another namespace."""
    namespaced = [m for key, m in rendered.items() if not key.startswith("Namespace/")]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"tenant-acme"}


def test_every_object_is_labelled_and_owned_by_its_tenant(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """Labels make it traceable (and indexed); the ownerReference garbage-collects it."""
    for manifest in rendered.values():
        meta = manifest["metadata"]
        assert meta["labels"][resources.TENANT_LABEL] == "acme"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == resources.MANAGED_BY
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Tenant", "acme", OWNER["uid"])


def test_the_quota_is_the_tiers_unless_the_spec_overrides_it(make_spec: SpecFactory) -> None:
    """Unset quota fields keep the tier default; set ones replace it."""
    spec = make_spec(tier="starter", quotas={"cpu": "2"})
    quota = next(
        m for m in resources.render("acme", spec, OWNER, PEERS) if m["kind"] == "ResourceQuota"
    )
    starter = tenant.TIERS["starter"]
    assert quota["spec"]["hard"] == {
        "requests.cpu": "2",
        "requests.memory": starter.memory,
        "pods": str(starter.pods),
    }


def test_ingress_is_denied_by_default_to_every_pod(rendered: dict[str, dict[str, Any]]) -> None:
    """An empty podSelector with no ingress rule denies all ingress in the namespace."""
    deny = rendered["NetworkPolicy/default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_the_gateway_is_admitted_from_the_configured_namespace(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """The gateway's namespace is a setting (`Peers`), not a constant."""
    (rule,) = rendered["NetworkPolicy/allow-from-gateway"]["spec"]["ingress"]
    (source,) = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "gw-ns"}
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "gateway"}
    assert [p["port"] for p in rule["ports"]] == [resources.HTTP_PORT, resources.GRPC_PORT]


def test_prometheus_may_scrape_only_the_http_port_from_the_configured_namespace(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """Monitoring reaches 8080 and nothing else."""
    (rule,) = rendered["NetworkPolicy/allow-prometheus-scrape"]["spec"]["ingress"]
    (source,) = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "mon-ns"}
    assert rule["ports"] == [{"protocol": "TCP", "port": resources.HTTP_PORT}]


def test_admins_default_to_the_group_named_after_the_namespace(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """Without spec.adminGroup the group is tenant-<name>-admins."""
    binding = rendered["RoleBinding/tenant-admins"]
    assert binding["subjects"][0]["name"] == "tenant-acme-admins"
    assert binding["roleRef"]["name"] == rbac.TENANT_ADMIN_CLUSTER_ROLE


def test_the_spec_admin_group_is_the_one_bound(make_spec: SpecFactory) -> None:
    """spec.adminGroup replaces the default group in both bindings."""
    manifests = resources.render("acme", make_spec(adminGroup="acme-ops"), OWNER, PEERS)
    bindings = [m for m in manifests if m["kind"] == "RoleBinding"]
    assert {s["name"] for b in bindings for s in b["subjects"]} == {"acme-ops"}


def test_admins_may_read_only_the_credentials_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """The reader Role names one Secret and one verb."""
    (rule,) = rendered["Role/tenant-credentials-reader"]["rules"]
    assert rule["resources"] == ["secrets"]
    assert rule["resourceNames"] == [resources.CREDENTIALS_SECRET]
    assert rule["verbs"] == ["get"]


def test_live_objects_with_server_added_fields_still_contain_the_rendering() -> None:
    """Defaults and metadata the apiserver adds are not drift."""
    desired = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "20"}}}
    live = {
        "metadata": {"name": "q", "uid": "u", "resourceVersion": "9"},
        "spec": {"hard": {"pods": "20"}, "scopes": []},
        "status": {"used": {"pods": "1"}},
    }
    assert resources.contains(live, desired)


def test_a_changed_value_is_not_contained() -> None:
    """A field edited by hand is drift."""
    assert not resources.contains(
        {"spec": {"hard": {"pods": "99"}}}, {"spec": {"hard": {"pods": "20"}}}
    )


def test_a_list_with_an_extra_item_is_not_contained() -> None:
    """Lists compare item by item and must be as long as desired (an added ingress rule is drift)."""
    assert not resources.contains({"ports": [1, 2, 3]}, {"ports": [1, 2]})
