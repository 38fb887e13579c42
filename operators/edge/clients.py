"""What the EdgeNode operator opens at start-up and hands to every reconcile (`Request.clients`).

No external peers: its settings, the heartbeat book (fed by the Lease watch), the wave state, and
where agents reach the API server (for the kubeconfigs it issues).
"""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import credentials, heartbeat, rollout
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import reconciler


@dataclass
class Clients:
    settings: EdgeNodeSettings
    book: heartbeat.Book
    waves: rollout.Waves
    endpoint: credentials.Endpoint
    enrolments: asyncio.Semaphore
    """Enrolments running at once: a fleet applied in one go queues here, not in the HTTP pool
    (whose waits time out and cost every node a kopf retry a minute later)."""
    checked: dict[str, tuple[float, datetime.datetime | None]] = field(default_factory=dict)
    """Per node: when (monotonic) its bootstrap Secret was last read, and the expiry it held."""
    namespace_ready: bool = field(default=False)
    """meridian-edge was applied by this process (once is enough)."""


Request = reconciler.Request[edgenode.EdgeNodeSpec, Clients]
