"""What the FailoverPlan operator opens at start: its settings and one Route53 client.

Databases and other clusters are reached per plan (their addresses are in the plan's Secrets),
so nothing else is opened here.
"""

from __future__ import annotations

from dataclasses import dataclass

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover import dns
from meridian.operators.failover.settings import FailoverPlanSettings
from meridian.operators.machinery import reconciler


@dataclass(frozen=True)
class Clients:
    settings: FailoverPlanSettings
    route53: dns.Route53


Request = reconciler.Request[api_types.FailoverPlanSpec, Clients]


async def open_clients(settings: FailoverPlanSettings) -> Clients:
    return Clients(settings, dns.Route53(settings))


async def close_clients(_: Clients) -> None:
    return None
