"""The platform's service catalogue: the services Meridian builds and runs.

The API's `ServiceName` enum is the vocabulary a ServiceRelease may spell (the seed's ten names);
this is the subset the platform actually has code, images and a pipeline entry for. The admission
webhook refuses a ServiceRelease of a service outside it (nothing could run it), and operators
read the same tuple. The local platform's `pipeline.SERVICES` must stay inside it (a unit test
checks; its Python package names spell `-` as `_`), so a new service is added here and there
together.
"""

from __future__ import annotations

SERVICES: tuple[str, ...] = (
    "gateway",
    "auth",
    "orders",
    "inventory",
    "fulfillment",
    "search",
    "billing",
    "stripe-webhooks",
)
