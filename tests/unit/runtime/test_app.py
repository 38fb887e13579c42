"""The app skeleton, served by aiohttp's test server: probes, metrics, ids and problem+json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pydantic
import pytest_asyncio
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import payloads, problems
from meridian.services.kit.settings import ServiceSettings
from tests.waiting import eventually

DEPENDENCY_UP = web.AppKey("dependency_up", dict[str, bool])


class Item(pydantic.BaseModel):
    sku: str
    quantity: int = pydantic.Field(gt=0)


class Order(pydantic.BaseModel):
    items: list[Item] = pydantic.Field(min_length=1)


async def create_order(request: web.Request) -> web.Response:
    order = await payloads.read_json(request, Order)
    return web.json_response({"items": len(order.items)}, status=201)


class Page(pydantic.BaseModel):
    after: str = ""


async def list_orders(request: web.Request) -> web.Response:
    return web.json_response({"after": payloads.parse(Page, request.query).after})


async def get_order(request: web.Request) -> web.Response:
    raise problems.NotFound(f"No order {request.match_info['id']}")


async def boom(_request: web.Request) -> web.Response:
    raise RuntimeError("password=hunter2 in a stack frame")


def create_app(settings: ServiceSettings) -> web.Application:
    app = runtime_app.create(settings)
    app[DEPENDENCY_UP] = {"up": True}

    async def dependency() -> None:
        if not app[DEPENDENCY_UP]["up"]:
            raise ConnectionRefusedError("connection refused")

    app[runtime_app.READINESS].add("postgres", dependency)
    app.router.add_post("/orders", create_order)
    app.router.add_get("/pages", list_orders)
    app.router.add_get("/orders/{id}", get_order)
    app.router.add_get("/boom", boom)
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = ServiceSettings(name="orders", max_body_bytes=1024)
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def problem_of(response: aiohttp.ClientResponse) -> dict[str, object]:
    assert response.content_type == "application/problem+json"
    body: dict[str, object] = json.loads(await response.text())
    assert body["status"] == response.status
    return body


async def test_healthz_answers_ok(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_names_the_failing_check(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (await client.get("/readyz")).status == 200
    client.app[DEPENDENCY_UP]["up"] = False
    response = await client.get("/readyz")
    assert response.status == 503
    body = await problem_of(response)
    assert body["failing_checks"] == ["postgres"]
    assert body["checks"] == {"postgres": "ConnectionRefusedError: connection refused"}


async def test_readyz_refuses_while_draining(
    client: TestClient[web.Request, web.Application],
) -> None:
    client.app[runtime_app.READINESS].draining = True
    body = await problem_of(await client.get("/readyz"))
    assert body["detail"] == "Shutting down"


async def test_valid_body_reaches_the_handler(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/orders", json={"items": [{"sku": "a", "quantity": 2}]})
    assert response.status == 201
    assert await response.json() == {"items": 1}


async def test_invalid_fields_answer_422_naming_each_field(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/orders", json={"items": [{"sku": "a", "quantity": 0}, {}]})
    assert response.status == 422
    body = await problem_of(response)
    assert [e["field"] for e in body["errors"]] == [  # type: ignore[attr-defined]
        "/items/0/quantity",
        "/items/1/sku",
        "/items/1/quantity",
    ]
    assert body["instance"] == "/orders"


async def test_a_nul_character_answers_422_naming_its_field_in_body_and_query(
    client: TestClient[web.Request, web.Application],
) -> None:
    """PostgreSQL cannot store NUL in text: refused here, it never becomes a 500 there."""
    body = '{"items": [{"sku": "a\\u0000b", "quantity": 1}]}'
    response = await client.post("/orders", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert [e["field"] for e in (await problem_of(response))["errors"]] == ["/items/0/sku"]  # type: ignore[attr-defined]
    response = await client.get("/pages", params={"after": "x\x00"})
    assert response.status == 422
    assert [e["field"] for e in (await problem_of(response))["errors"]] == ["/after"]  # type: ignore[attr-defined]
    response = await client.get("/pages", params={"after": "x"})
    assert await response.json() == {"after": "x"}


async def test_malformed_json_answers_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post(
        "/orders", data=b'{"items": [', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "not valid JSON" in str((await problem_of(response))["detail"])


async def test_wrong_content_type_answers_415(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/orders", data="items=1", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    await problem_of(response)


async def test_body_over_the_limit_answers_413(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/orders", json={"items": [{"sku": "x" * 2000, "quantity": 1}]})
    assert response.status == 413
    await problem_of(response)


async def test_chunked_body_over_the_limit_answers_413(
    client: TestClient[web.Request, web.Application],
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b'{"pad": "' + b"x" * 500 + b'"}'

    response = await client.post(
        "/orders", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    await problem_of(response)


async def test_domain_error_becomes_its_problem(
    client: TestClient[web.Request, web.Application],
) -> None:
    body = await problem_of(await client.get("/orders/42"))
    assert body["title"] == "Not Found"
    assert body["detail"] == "No order 42"


async def test_unknown_route_and_wrong_method_are_problems_too(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (await problem_of(await client.get("/nowhere")))["status"] == 404
    response = await client.delete("/orders")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    await problem_of(response)


async def test_unhandled_exception_is_a_500_that_leaks_nothing_and_is_logged(
    client: TestClient[web.Request, web.Application],
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = await client.get("/boom", headers={"X-Request-ID": "req-500"})
    body = await problem_of(response)
    assert response.status == 500
    assert set(body) == {"type", "title", "status", "instance", "request_id"}
    assert "hunter2" not in await response.text()
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert errors[0]["event"] == "Unhandled exception"
    assert errors[0]["request_id"] == "req-500"
    assert errors[0]["exc_info"] is True


async def test_request_id_is_echoed_or_generated(
    client: TestClient[web.Request, web.Application],
) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a\tb" + "x" * 200})
    assert len(hostile.headers["X-Request-ID"]) == 32
    assert hostile.headers["X-Request-ID"] != (await client.get("/healthz")).headers["X-Request-ID"]


async def test_access_log_carries_request_and_trace_ids(
    client: TestClient[web.Request, web.Application],
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with capture_logs() as logs:
        response = await client.get(
            "/orders/7", headers={"X-Request-ID": "r-7", "traceparent": traceparent}
        )
    assert response.status == 404
    (line,) = [entry for entry in logs if entry["event"] == "Request handled"]
    assert line["request_id"] == "r-7"
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["route"] == "/orders/{id}"
    assert line["status"] == 404


async def test_metrics_count_requests_by_route_method_and_status(
    client: TestClient[web.Request, web.Application],
) -> None:
    for _ in range(3):
        await client.get("/orders/1")
    await client.get("/orders/2/x")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert 'http_requests_total{method="GET",route="/orders/{id}",status="404"} 3.0' in text
    assert 'route="unmatched"' in text
    assert "http_request_duration_seconds_bucket{" in text


async def test_server_drains_in_flight_requests_before_cleanup() -> None:
    """SIGTERM's path: not ready first, in-flight requests finish, cleanup_ctx closes last."""
    events: list[str] = []
    settings = ServiceSettings(name="drain", port=0, drain_delay_s=0.2, shutdown_timeout_s=5)
    app = runtime_app.create(settings)
    started = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)
        events.append("request finished")
        return web.json_response({"done": True})

    async def pool(_app: web.Application) -> AsyncIterator[None]:
        yield
        events.append("pool closed")

    app.router.add_get("/slow", slow)
    app.cleanup_ctx.append(pool)
    server = runtime_app.Server(app, settings)
    url = await server.start()
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(f"{url}/slow"))
        await started.wait()
        stopping = asyncio.create_task(server.stop())

        async def not_ready() -> bool:
            """/readyz answers 503 once stopping has begun"""
            try:
                async with session.get(f"{url}/readyz") as ready:
                    return ready.status == 503
            except aiohttp.ClientConnectionError:  # closed without ever saying so: never true
                return False

        await eventually(not_ready, within=2, interval=0.01)
        assert not in_flight.done()  # not ready first, while the request is still in flight
        response = await in_flight
        assert response.status == 200
        assert await response.json() == {"done": True}
        await stopping
    assert events == ["request finished", "pool closed"]


async def test_requests_beyond_max_in_flight_are_shed_with_503_and_probes_still_answer() -> None:
    settings = ServiceSettings(name="shed", max_in_flight=2)
    app = runtime_app.create(settings)
    release, both_in = asyncio.Event(), asyncio.Event()
    entered = 0

    async def held(_request: web.Request) -> web.Response:
        nonlocal entered
        entered += 1
        if entered == 2:
            both_in.set()
        await release.wait()
        return web.json_response({"done": True})

    app.router.add_get("/held", held)
    async with TestClient(TestServer(app)) as client:
        holding = [asyncio.create_task(client.get("/held")) for _ in range(2)]
        await asyncio.wait_for(both_in.wait(), 10)
        refused = await client.get("/held")
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        assert "Overloaded" in str((await problem_of(refused))["detail"])
        assert entered == 2  # the refused one never reached the handler
        assert (await client.get("/healthz")).status == 200
        assert "http_requests_shed_total 1.0" in await (await client.get("/metrics")).text()
        release.set()
        assert [r.status for r in await asyncio.gather(*holding)] == [200, 200]
        assert (await client.get("/held")).status == 200
