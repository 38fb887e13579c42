"""What every operator runs on: the kopf wiring, status, metrics, RBAC, settings and the process.

- `operator`: the `Operator` interface each kind's package exports, and `discover()`.
- `reconciler`: `Request` in, `Observation` out: the contract of a kind's reconcile.
- `wiring`: registers a reconcile with kopf (scheduling, status, Events, backoff, connections).
- `status`: the status diff and the memory of our last write.
- `rbac`: the framework's rules and the per-operator ClusterRoles the chart binds.
- `settings`: the process's settings and the base of each operator's own.
- `runtime`: `meridian operator run`, one kopf operator per kind in one process.
- `metrics`: what every operator exports on /metrics.

Nothing here imports a kind's package; the kinds import this.
"""
