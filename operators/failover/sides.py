"""Which side a move goes from and to: the spec names source and target once, a run's direction
(or, standing by, the active cluster) decides which is which, so failback reuses every step."""

from __future__ import annotations

from typing import NamedTuple

from meridian.core.api.v1alpha1 import failoverplan as api_types


class Sides(NamedTuple):
    from_cluster: api_types.ClusterRef
    to_cluster: api_types.ClusterRef
    from_db: api_types.DatabaseEndpoint
    to_db: api_types.DatabaseEndpoint
    from_value: str
    to_value: str


def of(spec: api_types.FailoverPlanSpec, direction: api_types.Direction) -> Sides:
    forward = Sides(
        spec.source_cluster,
        spec.target_cluster,
        spec.database.primary,
        spec.database.replica,
        spec.dns.source_value,
        spec.dns.target_value,
    )
    if direction == "ToTarget":
        return forward
    return Sides(
        forward.to_cluster,
        forward.from_cluster,
        forward.to_db,
        forward.from_db,
        forward.to_value,
        forward.from_value,
    )


def standing_by(spec: api_types.FailoverPlanSpec, active_cluster: str | None) -> Sides:
    """The move that readiness prepares for: away from the side production runs on now."""
    on_target = active_cluster == spec.target_cluster.name
    return of(spec, "ToSource" if on_target else "ToTarget")
