"""One instant query against Prometheus' HTTP API, for an analysis measurement.

Any failure to get a single number (refused, timeout, an error status, an empty or multi-sample
vector, NaN) is returned as a reason with no value: the analysis counts it inconclusive, never a
pass, and never lets it raise into the reconcile.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, NamedTuple

import aiohttp

from meridian.core.api.v1alpha1.servicerelease import AnalysisCheck
from meridian.core.api.v1alpha1.servicerelease_status import Measurement
from meridian.operators.release import analysis


class Answer(NamedTuple):
    value: float | None
    error: str = ""


def _single(payload: Any) -> Answer:
    if payload.get("status") != "success":
        return Answer(None, f"prometheus: {payload.get('error', 'query failed')}"[:500])
    data = payload.get("data") or {}
    result = data.get("result")
    if data.get("resultType") == "scalar":
        sample = result
    elif data.get("resultType") == "vector" and isinstance(result, list) and len(result) == 1:
        sample = result[0].get("value")
    else:
        count = len(result) if isinstance(result, list) else "no"
        return Answer(None, f"prometheus: {count} samples, want exactly one")
    if not isinstance(sample, list) or len(sample) != 2:
        return Answer(None, "prometheus: malformed sample")
    value = float(sample[1])
    return Answer(None, "prometheus: NaN") if math.isnan(value) else Answer(value)


async def query(session: aiohttp.ClientSession, base_url: str, promql: str) -> Answer:
    if not base_url:
        return Answer(None, "no Prometheus configured (MERIDIAN_OPERATOR_RELEASE_PROMETHEUS_URL)")
    try:
        async with session.get(
            f"{base_url.rstrip('/')}/api/v1/query", params={"query": promql}
        ) as response:
            payload = await response.json(content_type=None)
        return _single(payload)
    except (aiohttp.ClientError, TimeoutError, ValueError, TypeError, IndexError) as error:
        return Answer(None, f"prometheus: {type(error).__name__}: {error}"[:500])


async def measure(
    session: aiohttp.ClientSession, base_url: str, check: AnalysisCheck, now: datetime.datetime
) -> Measurement:
    """One measurement of an analysis step: its query asked now, the answer judged."""
    answer = await query(session, base_url, check.query)
    return analysis.judge(check, answer.value, analysis.iso(now), answer.error)
