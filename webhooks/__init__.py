"""The admission webhook: the policies that need other objects, and our kinds' cross-resource checks.

The five policies CEL can express run inside the apiserver as ValidatingAdmissionPolicies; what
needs a lookup runs here, in one aiohttp server over TLS (`python -m meridian.webhooks`): a
Deployment with replicas > 1 needs a PodDisruptionBudget selecting its pods, a workload needs a
NetworkPolicy in its namespace, and our kinds' checks against the platform (the service catalogue,
Secrets, the registry, the configured edge sites). Modes follow the `meridian-policy-modes`
ConfigMap (Audit: admitted with a warning; Enforce: denied naming policy, field and fix).
"""
