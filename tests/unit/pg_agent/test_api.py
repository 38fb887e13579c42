"""The instance agent's HTTP API against a server that is not running (a real state: nothing
listens on its socket): the token is required, bad bodies are 4xx naming the field, a re-seed
of a server whose primary cannot be reached fails in the record the caller polls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from meridian.pg_agent import app
from meridian.pg_agent.settings import PgAgentSettings
from tests.waiting import eventually

TOKEN = {"Authorization": "Bearer t0ken"}


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[object, object]]:
    data = tmp_path / "data"
    data.mkdir()
    settings = PgAgentSettings(
        data_dir=data,
        pg_port=1,
        token="t0ken",  # type: ignore[arg-type]
        state_file=tmp_path / "agent.json",
        bin_dir=tmp_path / "no-bin",
        log_json=False,
    )
    async with TestClient(TestServer(app.create(settings))) as test_client:
        yield test_client


async def test_every_route_but_the_probes_needs_the_token(
    client: TestClient[object, object],
) -> None:
    assert (await client.get("/healthz")).status == 200
    refused = await client.get("/v1/state", headers={"Authorization": "Bearer wrong"})
    assert refused.status == 401
    assert refused.content_type == "application/problem+json"
    answer = await client.get("/v1/state", headers=TOKEN)
    assert answer.status == 200
    found = await answer.json()
    assert found["server"]["running"] is False
    assert found["reseed"] is None


async def test_a_reseed_request_without_the_primary_names_the_field(
    client: TestClient[object, object],
) -> None:
    refused = await client.post("/v1/reseed", json={"id": "r1"}, headers=TOKEN)
    assert refused.status == 422
    assert "primaryConninfo" in await refused.text()


async def test_a_failed_reseed_is_reported_and_a_repeat_of_its_id_does_not_redo_it(
    client: TestClient[object, object],
) -> None:
    body = {"id": "r1", "primaryConninfo": "postgresql://postgres:pw@127.0.0.1:1/postgres"}
    started = await client.post("/v1/reseed", json=body, headers=TOKEN)
    assert started.status == 202
    assert (await started.json())["reseed"]["count"] == 1

    async def failed() -> dict[str, object] | None:
        """the re-seed to fail (no PostgreSQL tools in bin_dir)"""
        record = (await (await client.get("/v1/state", headers=TOKEN)).json())["reseed"]
        return dict(record) if record["state"] == "Failed" else None

    record = await eventually(failed)
    assert "FileNotFoundError" in str(record["message"])  # no pg_ctl here: it fails at once
    again = await client.post("/v1/reseed", json=body, headers=TOKEN)
    assert again.status == 200
    assert (await again.json())["decision"] == "done"
    assert (await again.json())["reseed"]["count"] == 1
