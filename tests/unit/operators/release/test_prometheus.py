"""Prometheus answers that are not exactly one number are no value, with the reason."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from meridian.operators.release import prometheus


def _vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {}, "value": [1764234000.0, value]} for value in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_a_single_sample_is_the_value() -> None:
    assert prometheus._single(_vector("0.25")) == prometheus.Answer(0.25)


def test_a_scalar_is_the_value() -> None:
    payload = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}}
    assert prometheus._single(payload).value == 3.0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_vector(), "0 samples"),
        (_vector("1", "2"), "2 samples"),
        (_vector("NaN"), "NaN"),
        ({"status": "error", "error": "parse error at char 3"}, "parse error"),
    ],
    ids=["empty", "two series", "nan", "error"],
)
def test_anything_else_is_no_value(payload: dict[str, Any], reason: str) -> None:
    answer = prometheus._single(payload)
    assert answer.value is None
    assert reason in answer.error


async def test_an_unreachable_prometheus_is_no_value() -> None:
    async with aiohttp.ClientSession() as session:
        answer = await prometheus.query(session, "http://127.0.0.1:9", "up")
    assert answer.value is None
    assert "ClientConnectorError" in answer.error or "Connect" in answer.error


async def test_no_prometheus_configured_is_no_value() -> None:
    async with aiohttp.ClientSession() as session:
        answer = await prometheus.query(session, "", "up")
    assert answer.value is None
    assert "PROMETHEUS_URL" in answer.error
