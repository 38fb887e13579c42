"""Every service has the template's shape (services/README.md), so copying any one is right."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

from meridian import services
from meridian.services.kit import settings as kit_settings
from tests import issuer

SERVICES = sorted(
    info.name
    for info in pkgutil.iter_modules(services.__path__)
    if info.name != "kit" and info.ispkg
)
MODULES = ("__main__", "app", "openapi", "routes", "settings")
# What create_app checks is present; no connection is made until the app starts.
PEERS: dict[str, Any] = {
    "amqp_url": "amqp://x@127.0.0.1/",
    "pg_dsn": "postgresql://x@127.0.0.1/db",
    "redis_url": "redis://127.0.0.1:1/0",
    "platform_dsn": "postgresql://x@127.0.0.1/platform",
    "stripe_api_key": "sk_test_x",
    "carrier_url": "http://127.0.0.1:1",
    "carrier_api_key": "k",
    "signing_secret_file": "/run/secrets/stripe-webhook/signing-secret",
    "elasticsearch_url": "http://127.0.0.1:1",
    "identity_issuers": issuer.issuers(issuer.TESTS),
    "identity_signing_key_file": issuer.key_file(issuer.TESTS),
}
RUNTIME_UNITS = {"statement_timeout_ms"}  # PostgreSQL's own unit, named by the runtime


def _module(service: str, name: str) -> ModuleType:
    return importlib.import_module(f"meridian.services.{service}.{name}")


def test_the_services_are_found() -> None:
    assert SERVICES == [
        "auth",
        "billing",
        "fulfillment",
        "gateway",
        "inventory",
        "orders",
        "search",
        "stripe_webhooks",
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_template_modules_exist(service: str) -> None:
    for name in MODULES:
        _module(service, name)
    assert not (Path(services.__path__[0]) / service / "handlers.py").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_settings_are_typed_through_the_services_own_app_key(service: str) -> None:
    settings_module = _module(service, "settings")
    settings_class = settings_module.Settings
    assert issubclass(settings_class, kit_settings.ServiceSettings)
    assert settings_class.model_config["env_prefix"] == f"MERIDIAN_{service.upper()}_"
    settings = settings_class(**PEERS)
    app = _module(service, "app").create_app(settings)
    assert isinstance(settings_module.SETTINGS, web.AppKey)
    assert app[settings_module.SETTINGS] is settings


@pytest.mark.parametrize("service", SERVICES)
def test_durations_are_spelled_s(service: str) -> None:
    fields = set(_module(service, "settings").Settings.model_fields) - RUNTIME_UNITS
    assert not [f for f in fields if re.search(r"_(ms|sec|secs|seconds|millis)$", f)]


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "auth"])
def test_a_service_with_migrations_owns_its_database_the_same_way(service: str) -> None:
    """auth aside (its tenant data is the registry's): MIGRATIONS, migrate_on_start, db_role."""
    package = importlib.import_module(f"meridian.services.{service}")
    folder = Path(package.__path__[0]) / "migrations"
    settings_class = _module(service, "settings").Settings
    if not folder.exists():
        assert not issubclass(settings_class, kit_settings.DatabaseSettings)
        return
    assert folder == package.MIGRATIONS
    assert issubclass(settings_class, kit_settings.DatabaseSettings)
    role = settings_class(**PEERS).db_role
    first = sorted((folder / "versions").glob("0001_*.py"))[0].read_text()
    assert re.search(rf"\b{role}\b", first), f"migration 0001 creates no role {role}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_with_consumers_takes_the_consumer_settings(service: str) -> None:
    has_consumers = (Path(services.__path__[0]) / service / "consumers.py").exists()
    settings_class = _module(service, "settings").Settings
    assert issubclass(settings_class, kit_settings.ConsumerSettings) == has_consumers
