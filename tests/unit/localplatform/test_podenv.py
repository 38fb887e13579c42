"""A host process's settings, rewritten for a pod on a real node (`podenv.in_cluster`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meridian.localplatform import podenv

PORTS = {"postgres": 25432, "redis": 26379, "rabbitmq": 25672, "s3": 29000}


def test_datastore_addresses_become_their_meridian_system_services() -> None:
    env = {
        "MERIDIAN_ORDERS_PG_DSN": "postgresql://meridian:pw@127.0.0.1:25432/meridian_orders",
        "MERIDIAN_ORDERS_REDIS_URL": "redis://127.0.0.1:26379/0",
        "MERIDIAN_ORDERS_AMQP_URL": "amqp://meridian:pw@127.0.0.1:25672/",
        "MERIDIAN_FULFILLMENT_S3_ENDPOINT": "http://localhost:29000",
        "MERIDIAN_ORDERS_INVENTORY_URL": "http://inventory.default.svc.cluster.local:8080",
    }
    assert podenv.in_cluster(env, PORTS).env == {
        "MERIDIAN_ORDERS_PG_DSN": (
            "postgresql://meridian:pw@postgres.meridian-system.svc.cluster.local:5432/"
            "meridian_orders"
        ),
        "MERIDIAN_ORDERS_REDIS_URL": "redis://redis.meridian-system.svc.cluster.local:6379/0",
        "MERIDIAN_ORDERS_AMQP_URL": "amqp://meridian:pw@rabbitmq.meridian-system.svc.cluster.local:5672/",
        "MERIDIAN_FULFILLMENT_S3_ENDPOINT": "http://s3.meridian-system.svc.cluster.local:9000",
        "MERIDIAN_ORDERS_INVENTORY_URL": "http://inventory.default.svc.cluster.local:8080",
    }


def test_the_service_listens_on_every_address_and_reads_its_key_from_the_secret() -> None:
    found = podenv.in_cluster(
        {
            "MERIDIAN_ORDERS_HOST": "127.0.0.1",
            "MERIDIAN_ORDERS_IDENTITY_SIGNING_KEY_FILE": "/tmp/run/identity-keys/orders.pem",
        },
        PORTS,
    )
    assert found.env == {
        "MERIDIAN_ORDERS_HOST": "0.0.0.0",
        "MERIDIAN_ORDERS_IDENTITY_SIGNING_KEY_FILE": f"{podenv.KEY_DIR}/orders.pem",
    }
    assert found.key_files == {"orders.pem": Path("/tmp/run/identity-keys/orders.pem")}


def test_a_peer_on_the_hosts_loopback_is_refused() -> None:
    env = {"MERIDIAN_ORDERS_INVENTORY_URL": "http://127.0.0.1:8123"}
    with pytest.raises(ValueError, match=r"MERIDIAN_ORDERS_INVENTORY_URL: 127\.0\.0\.1:8123"):
        podenv.in_cluster(env, PORTS)
