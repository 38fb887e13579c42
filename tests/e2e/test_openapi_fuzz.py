"""Each service's own OpenAPI description, fuzzed by schemathesis: no input earns a 5xx.

The pipeline runs as real processes (as in test_order_pipeline); each service is called directly,
as the gateway would call it, with the identity headers of a seeded tenant and user. Every
operation gets valid and invalid inputs (bounded: no shrinking, no deadline), and every answer
must be below 500 (`not_a_server_error`); a validation gap should be a 4xx naming the field.
Each operation group (the operations under one path, up to its first parameter) must also answer
at least one request with a 2xx: a fuzz that never gets past authentication or routing tests no
handler, and finds no 5xx by construction. Auth's fuzz carries a bearer token of its own login
(revoke takes one); its credential exchanges (login, refresh, API-key token) succeed only with a
secret no generator guesses, so there a 401 (the handler refusing the credential) is required.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, errors, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from tests import tenants

FUZZED = ("auth", "orders", "inventory", "fulfillment", "billing", "stripe_webhooks", "search")
EXAMPLES = settings(
    max_examples=25,  # per operation and mode: 50 per operation
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


CREDENTIAL_EXCHANGES = {"/v1/auth/login", "/v1/auth/refresh", "/v1/auth/token"}
SIGNED = {"/v1/stripe/webhooks"}
"""Stripe's webhook: nothing generated carries a valid Stripe-Signature, so 400 is the answer."""


class Fuzzed(NamedTuple):
    pipeline: pipeline.Pipeline
    identity: dict[str, str]
    bearer: dict[str, str]
    """A login of its own for auth's fuzz: revoking it leaves `identity`'s token alone."""


@pytest.fixture(scope="module")
def fuzzed(local_platform: platform.PlatformState, elasticsearch_url: str) -> Iterator[Fuzzed]:
    """The pipeline, search included (it runs where Elasticsearch does)."""
    run_dir = Path(local_platform.run_dir) / "e2e-fuzz"
    supervisor = Supervisor(run_dir)
    try:
        started = pipeline.start(local_platform, supervisor, run_dir)
        name = f"f{uuid.uuid4().hex[:8]}"
        tenant_id = asyncio.run(tenants.register(local_platform, name))
        email, password = pipeline.seed_demo(local_platform, started, run_dir, tenant=name)
        token = tenants.login(started.gateway_url, name, email, password)
        own = tenants.login(started.gateway_url, name, email, password)
        yield Fuzzed(
            started,
            tenants.identity_headers(local_platform, tenant_id, token),
            {"Authorization": f"Bearer {own}"},
        )
    finally:
        supervisor.stop_all()


def group(path: str) -> str:
    """The operation group of a path: its literal segments up to the first parameter."""
    literal = []
    for segment in path.split("/"):
        if segment.startswith("{"):
            break
        literal.append(segment)
    return "/".join(literal)


def _fuzz(
    operation: Any,
    base_url: str,
    identity: dict[str, str],
    mode: GenerationMode,
    statuses: Counter[int],
) -> None:
    @EXAMPLES
    @given(case=operation.as_strategy(generation_mode=mode, headers=identity))
    def one(case: Any) -> None:
        response = case.call_and_validate(
            base_url=base_url, headers=identity, checks=[not_a_server_error], timeout=10
        )
        statuses[response.status_code] += 1

    one()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("service", FUZZED)
def test_no_generated_request_earns_a_server_error(fuzzed: Fuzzed, service: str) -> None:
    """schemathesis finds no 5xx in any operation of the service's own /openapi.json"""
    base_url = fuzzed.pipeline.urls[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    by_group: dict[str, Counter[int]] = {}
    tested = 0
    headers = {**fuzzed.identity, **(fuzzed.bearer if service == "auth" else {})}
    for result in schema.get_all_operations():
        operation = result.ok()
        tested += 1
        answered = by_group.setdefault(group(operation.path), Counter())
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, base_url, headers, mode, answered)
            except errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # no input to get wrong
            except Exception as failure:  # reported below, every operation's, not only the first
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    for answered in by_group.values():
        statuses.update(answered)
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    print(f"\n{service}: {tested} operations fuzzed, {len(failures)} failing; answers {shown}")
    print(
        "by group:", {name: dict(sorted(answered.items())) for name, answered in by_group.items()}
    )
    assert tested > 0
    assert not failures, "\n\n".join(failures)
    unreached = {
        name: dict(answered)
        for name, answered in by_group.items()
        if not any(200 <= status < 300 for status in answered)
        and not (name in CREDENTIAL_EXCHANGES and answered[401] > 0)
        and not (name in SIGNED and answered[400] > 0)
    }
    assert not unreached, f"no request reached a handler that succeeded: {unreached}"
