"""The pipeline's one table of services gives each its settings and the gateway its routes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from meridian.localplatform import net, pipeline


@pytest.fixture
def where(tmp_path: Path) -> pipeline.Where:
    """The platform's state as `environment` reads it: DSNs, URLs, the run directory."""
    state = SimpleNamespace(
        postgres_info=SimpleNamespace(
            dsn=lambda database: f"postgresql://u@127.0.0.1:1/{database}"
        ),
        redis_url="redis://127.0.0.1:2/0",
        rabbitmq_info=SimpleNamespace(amqp_url="amqp://u@127.0.0.1:3/"),
        s3_endpoint="http://127.0.0.1:4",
        stripe_url="http://127.0.0.1:6",
        kubeconfig=str(tmp_path / "kubeconfig"),
        elasticsearch_url="http://127.0.0.1:7",
        run_dir=str(tmp_path),
    )
    urls = {s.name: f"http://127.0.0.1:{9000 + i}" for i, s in enumerate(pipeline.SERVICES)}
    return pipeline.Where(state, urls, carrier_url="http://127.0.0.1:5")


def test_each_service_reads_only_its_own_prefix(where: pipeline.Where) -> None:
    for service in pipeline.SERVICES:
        env = pipeline.environment(service, where)
        prefix = f"MERIDIAN_{service.name.upper()}_"
        assert all(key.startswith(prefix) for key in env), service.name
        assert env[prefix + "PORT"] == where.urls[service.name].rsplit(":", 1)[1]
        assert (prefix + "PG_DSN" in env) == (service.database is not None)
        assert (prefix + "AMQP_URL" in env) == service.amqp


def test_every_routed_service_is_behind_the_gateway(where: pipeline.Where) -> None:
    (gateway,) = [s for s in pipeline.SERVICES if s.name == "gateway"]
    routes = json.loads(pipeline.environment(gateway, where)["MERIDIAN_GATEWAY_ROUTES"])
    assert routes == {
        "/v1/auth": {"url": where.urls["auth"], "public": True},
        "/v1/inventory": where.urls["inventory"],
        "/v1/orders": where.urls["orders"],
        "/v1/fulfillment": where.urls["fulfillment"],
        "/v1/billing": where.urls["billing"],
        "/v1/stripe": {"url": where.urls["stripe_webhooks"], "public": True},
        "/v1/search": where.urls["search"],
    }


def test_the_webhook_handler_reads_its_signing_secret_from_a_private_file(
    where: pipeline.Where,
) -> None:
    (handler,) = [s for s in pipeline.SERVICES if s.name == "stripe_webhooks"]
    env = pipeline.environment(handler, where)
    secret = Path(env["MERIDIAN_STRIPE_WEBHOOKS_SIGNING_SECRET_FILE"])
    assert secret.read_text().startswith("whsec_")
    assert secret.stat().st_mode & 0o077 == 0
    assert not any(secret.read_text() in value for value in env.values())


def test_search_runs_only_where_elasticsearch_does(where: pipeline.Where) -> None:
    """`dev up` without `--search`: no search process, and no gateway route to a dead port."""
    without = pipeline.Where(
        SimpleNamespace(**{**vars(where.state), "elasticsearch_url": None}),
        where.urls,
        where.carrier_url,
    )
    (gateway,) = [s for s in pipeline.SERVICES if s.name == "gateway"]
    routes = json.loads(pipeline.environment(gateway, without)["MERIDIAN_GATEWAY_ROUTES"])
    assert "/v1/search" not in routes
    (search,) = [s for s in pipeline.SERVICES if s.name == "search"]
    assert not search.enabled(without.state)
    assert search.enabled(where.state)
    env = pipeline.environment(search, where)
    assert env["MERIDIAN_SEARCH_ELASTICSEARCH_URL"] == "http://127.0.0.1:7"


def test_a_new_service_gets_a_port_and_the_others_keep_theirs(tmp_path: Path) -> None:
    path = tmp_path / "services.ports"
    before = net.sticky_ports(path, 2)
    after = net.sticky_ports(path, 3)
    assert after[:2] == before
    assert after[2] not in before
    assert net.sticky_ports(path, 3) == after
