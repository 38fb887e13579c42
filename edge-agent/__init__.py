"""The daemon on a bare-metal edge node: heartbeats into its Lease and reports into its EdgeNode.

`agent.Agent` is one node's agent (a process may run many: the benchmark runs 1,000); `daemon`
runs one from its settings until SIGTERM (`meridian-edge-agent`, `python -m meridian.edge_agent`).
What it may touch is the operator's contract in `meridian.core.api.v1alpha1.edgenode`: its own
Lease (get/update) and its own EdgeNode (get, status get/patch), nothing else.
"""
