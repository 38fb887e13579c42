"""The local FailoverPlan's DR services as real pods (`drplan.real_deployment`): what they read
their DSN from, where they run, and that a later apply only swaps the kwok template."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from meridian.core.api.v1alpha1 import failoverplan
from meridian.localplatform import drplan, nodeconfig, podenv

IMAGE = "ghcr.io/meridian/orders:0.1.0-abcdef012345"
ENV = podenv.PodEnvironment(
    {
        "MERIDIAN_ORDERS_HOST": "0.0.0.0",
        "MERIDIAN_ORDERS_PORT": "8080",
        "MERIDIAN_ORDERS_PG_DSN": "postgresql://meridian:pw@postgres.meridian-system:5432/x",
        "MERIDIAN_ORDERS_REDIS_URL": "redis://redis.meridian-system.svc.cluster.local:6379/0",
    },
    {"orders.pem": Path("/run/identity-keys/orders.pem")},
)


def _container(body: dict[str, Any]) -> dict[str, Any]:
    (container,) = body["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_the_dsn_comes_from_the_secret_the_plan_repoints_never_from_a_value() -> None:
    variables = _container(drplan.real_deployment("orders", 2, IMAGE, ENV))["env"]
    (dsn,) = [v for v in variables if v["name"] == "MERIDIAN_ORDERS_PG_DSN"]
    spec = failoverplan.FailoverPlanSpec.model_validate(drplan.plan()["spec"])
    ref = spec.services.database_secret
    assert ref is not None
    assert dsn == {
        "name": "MERIDIAN_ORDERS_PG_DSN",
        "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
    }
    others = {v["name"]: v["value"] for v in variables if v["name"] != "MERIDIAN_ORDERS_PG_DSN"}
    assert others == {k: v for k, v in ENV.env.items() if k != "MERIDIAN_ORDERS_PG_DSN"}


def test_real_pods_run_the_image_on_the_real_node_and_are_ready_when_readyz_is() -> None:
    body = drplan.real_deployment("orders", 0, IMAGE, ENV)
    pod = body["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {nodeconfig.TAINT_KEY: "true"}
    assert pod["tolerations"] == [{**nodeconfig.TAINT, "operator": "Equal"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = _container(body)
    assert (container["image"], container["imagePullPolicy"]) == (IMAGE, "Never")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]
    assert body["spec"]["replicas"] == 0


def test_real_and_kwok_deployments_share_the_selector_so_an_apply_swaps_the_template() -> None:
    real = drplan.real_deployment("orders", 0, IMAGE, ENV)
    kwok = drplan.deployment("orders", 0)
    assert real["spec"]["selector"] == kwok["spec"]["selector"]
    assert kwok["spec"]["template"]["spec"]["nodeSelector"] == {"type": "kwok"}
    assert drplan.service("orders")["spec"]["selector"] == real["spec"]["selector"]["matchLabels"]


def test_inventory_keeps_its_own_dsn_the_plan_moves_only_orders_database() -> None:
    env = podenv.PodEnvironment(
        {"MERIDIAN_INVENTORY_PG_DSN": "postgresql://m:pw@postgres-standby.meridian-system:5432/i"},
        {},
    )
    body = drplan.real_deployment("inventory", 0, IMAGE, env)
    assert _container(body)["env"] == [{"name": k, "value": v} for k, v in env.env.items()]
    # It signs nothing: no key Secret to mount (a missing one would hold the pod in creation).
    assert "volumes" not in body["spec"]["template"]["spec"]
    assert "volumeMounts" not in _container(body)
    orders = drplan.real_deployment("orders", 0, IMAGE, ENV)
    assert _container(orders)["volumeMounts"][0]["mountPath"] == podenv.KEY_DIR


def test_each_check_is_a_services_readyz_behind_its_url_base() -> None:
    checks = drplan.checks({"orders": "http://127.0.0.1:40123", "inventory": "http://127.0.0.1:4"})
    assert [c["url"] for c in checks] == [
        "http://127.0.0.1:4/readyz",
        "http://127.0.0.1:40123/readyz",
    ]
    names = [failoverplan.VerificationCheck.model_validate(c).name for c in checks]
    assert names == ["dr-inventory-ready", "dr-orders-ready"]
    assert set(drplan.REAL) == set(drplan.SERVICES)


def test_secrets_are_applied_as_data_so_a_key_left_out_later_is_removed() -> None:
    secret = drplan._secret("s", "ns", {"dsn": "postgresql://x", "servicesDsn": "postgresql://y"})
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["servicesDsn"]).decode() == "postgresql://y"


def test_a_standby_dsn_becomes_its_own_service_in_the_pods_dsn() -> None:
    ports = {"postgres": 25432, "postgres-standby": 25433}
    dsn = "postgresql://meridian:pw@127.0.0.1:25433/meridian_orders"
    assert podenv.rewritten(dsn, ports) == (
        "postgresql://meridian:pw@postgres-standby.meridian-system.svc.cluster.local:5432/"
        "meridian_orders"
    )
