"""Renewing the node's Lease, the way the kubelet renews its own (KEP-589).

The operator creates the Lease at enrolment; the agent's RBAC allows get and update on that one
name only (`create` cannot be limited by resourceNames). Steady state is one request per
renewal: the Lease read once is updated in place with its resourceVersion; a conflict (someone
else wrote it) or any error drops the copy, and the next renewal reads it afresh.
"""

from __future__ import annotations

import datetime

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.coordination_v1 import Lease

from meridian.core.api.v1alpha1 import edgenode


class Heartbeat:
    def __init__(self, client: AsyncClient, node: str) -> None:
        self._client = client
        self.node = node
        self._lease: Lease | None = None

    async def renew(self) -> datetime.datetime:
        """One renewal; raises what the API server (or the network) said. A conflict is retried
        once with a fresh read, as the kubelet does."""
        for attempt in range(2):
            lease = self._lease or await self._client.get(
                Lease, edgenode.lease_name(self.node), namespace=edgenode.EDGE_NAMESPACE
            )
            assert lease.spec is not None
            now = datetime.datetime.now(datetime.UTC)
            lease.spec.holderIdentity = self.node
            lease.spec.renewTime = now
            self._lease = None
            try:
                self._lease = await self._client.replace(lease)
            except ApiError as error:
                if error.status.code != 409 or attempt:
                    raise
                continue
            return now
        raise AssertionError("unreachable")
