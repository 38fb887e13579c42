"""The pod pipeline's objects: each service's pod settings, its Secrets and ServiceReleases."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from meridian.localplatform import nodenet, pipeline, podpipeline

HOST_PORTS = {"postgres": 1, "redis": 2, "rabbitmq": 3, "s3": 4, "carrier": 5}
IMAGES = {name: f"ghcr.io/meridian/{name}:0.1.0-abc" for name in podpipeline.PODS}


@pytest.fixture
def where(tmp_path: Path) -> pipeline.Where:
    """The platform's state as `pipeline.environment` reads it, datastores on host ports."""
    state = SimpleNamespace(
        postgres_info=SimpleNamespace(
            dsn=lambda database: f"postgresql://u:pw@127.0.0.1:1/{database}"
        ),
        redis_url="redis://127.0.0.1:2/0",
        rabbitmq_info=SimpleNamespace(amqp_url="amqp://u:pw@127.0.0.1:3/"),
        s3_endpoint="http://127.0.0.1:4",
        elasticsearch_url=None,
        run_dir=str(tmp_path),
    )
    return pipeline.Where(state, podpipeline.pod_urls(), carrier_url="http://127.0.0.1:5")


def test_peers_are_cluster_services_and_host_processes_meridian_system_ones(
    where: pipeline.Where,
) -> None:
    envs = podpipeline.environments(where, HOST_PORTS)
    assert set(envs) == set(podpipeline.PODS)
    for name, env in envs.items():
        assert env.env[f"MERIDIAN_{name.upper()}_HOST"] == "0.0.0.0"
        assert not any("127.0.0.1" in value for value in env.env.values()), name
    local = f"{podpipeline.NAMESPACE}.svc.cluster.local:8080"
    assert envs["orders"].env["MERIDIAN_ORDERS_INVENTORY_URL"] == f"http://inventory.{local}"
    fulfillment = envs["fulfillment"].env
    assert fulfillment["MERIDIAN_FULFILLMENT_CARRIER_URL"] == (
        "http://carrier.meridian-system.svc.cluster.local:80"
    )
    assert fulfillment["MERIDIAN_FULFILLMENT_S3_ENDPOINT"] == (
        "http://s3.meridian-system.svc.cluster.local:9000"
    )
    issuers = json.loads(envs["inventory"].env["MERIDIAN_INVENTORY_IDENTITY_ISSUERS"])
    assert issuers["meridian-gateway"] == f"http://gateway.{local}/.well-known/jwks.json"
    assert issuers["meridian-orders"] == f"http://orders.{local}/.well-known/jwks.json"


def test_the_gateway_routes_to_the_released_services_only(where: pipeline.Where) -> None:
    gateway = podpipeline.environments(where, HOST_PORTS)["gateway"].env
    local = f"{podpipeline.NAMESPACE}.svc.cluster.local:8080"
    assert json.loads(gateway["MERIDIAN_GATEWAY_ROUTES"]) == {
        "/v1/auth": {"url": f"http://auth.{local}", "public": True},
        "/v1/inventory": f"http://inventory.{local}",
        "/v1/orders": f"http://orders.{local}",
        "/v1/fulfillment": f"http://fulfillment.{local}",
    }
    assert gateway["MERIDIAN_GATEWAY_JWKS_URL"] == f"http://auth.{local}/.well-known/jwks.json"
    assert "MERIDIAN_GATEWAY_GATEWAY_NAME" not in gateway  # routes from settings, no apiserver


def test_the_signers_keys_are_secrets_and_every_service_a_release_in_wave_order(
    where: pipeline.Where, tmp_path: Path
) -> None:
    objects = podpipeline.manifests(podpipeline.environments(where, HOST_PORTS), IMAGES)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds[0] == ("Namespace", podpipeline.NAMESPACE)
    assert all(o["metadata"].get("namespace") == podpipeline.NAMESPACE for o in objects[1:])
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    assert set(secrets) == {"gateway-identity", "orders-identity"}  # inventory trusts orders
    key = (tmp_path / "identity-keys" / "orders.pem").read_bytes()
    assert base64.b64decode(secrets["orders-identity"]["data"]["orders.pem"]) == key
    released = [o for o in objects if o["kind"] == "ServiceRelease"]
    assert [o["metadata"]["name"] for o in released] == list(podpipeline.PODS)
    for release in released:
        name, spec = release["metadata"]["name"], release["spec"]
        assert (spec["service"], spec["image"]) == (name, IMAGES[name])
        assert spec["replicas"] == podpipeline.REPLICAS.get(name, 1)
        assert ("disruptionBudget" in spec) == (spec["replicas"] > 1)
        assert "route" not in spec  # the gateway's routes are its settings
    assert "NetworkPolicy" in {kind for kind, _ in kinds}


def test_the_gateway_alone_takes_calls_from_outside_the_namespace() -> None:
    internal, public = podpipeline.network_policies()
    assert internal["spec"]["podSelector"] == {}
    assert internal["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert public["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "gateway"}
    assert public["spec"]["ingress"] == [{}]


def test_the_carrier_is_an_external_service_like_the_datastores() -> None:
    objects = nodenet.datastore_services("10.213.0.2", {"carrier": 41000})
    service, slice_ = objects[1], objects[2]
    assert service["spec"]["ports"][0]["port"] == nodenet.DATASTORE_PORTS["carrier"]
    assert service["spec"]["ports"][0]["targetPort"] == 41000
    assert slice_["endpoints"][0]["addresses"] == ["10.213.0.2"]
