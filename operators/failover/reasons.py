"""Condition types and reasons of the FailoverPlan operator (CamelCase constants, one place)."""

from typing import Final

# Condition types: readiness while standing by; Ready summarises the plan as a whole.
READY_TO_FAILOVER: Final = "ReadyToFailover"
REPLICA_HEALTHY: Final = "ReplicaHealthy"
LAG_WITHIN_BUDGET: Final = "LagWithinBudget"
TARGET_REACHABLE: Final = "TargetReachable"
DNS_REACHABLE: Final = "DNSReachable"
SECRETS_PRESENT: Final = "SecretsPresent"

# Reasons.
READY: Final = "Ready"
NOT_READY: Final = "NotReady"
STREAMING: Final = "Streaming"
RESEED_REQUIRED: Final = "ReseedRequired"
"""The target is a fenced former primary (or down) with an instance agent: a run re-seeds it."""
NOT_STREAMING: Final = "NotStreaming"
DATABASE_UNREACHABLE: Final = "DatabaseUnreachable"
WITHIN_BUDGET: Final = "WithinBudget"
OVER_BUDGET: Final = "OverBudget"
REACHABLE: Final = "Reachable"
UNREACHABLE: Final = "Unreachable"
SERVICES_MISSING: Final = "ServicesMissing"
SECRET_MISSING: Final = "SecretMissing"
ZONE_MISSING: Final = "ZoneMissing"
FOUND: Final = "Found"
RUNNING: Final = "Running"
FAILED: Final = "Failed"

# Event-only reasons.
RUN_STARTED: Final = "RunStarted"
STEP_SUCCEEDED: Final = "StepSucceeded"
STEP_FAILED: Final = "StepFailed"
