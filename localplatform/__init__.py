"""The local platform: a real Kubernetes control plane and datastores on loopback, no containers.

Used by `make up`, `meridian dev ...` and the test fixtures; production code never imports it.
"""
