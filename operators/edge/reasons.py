"""Condition types and reasons of the EdgeNode operator (CamelCase constants, one place)."""

from typing import Final

# Condition types; Ready is the node's liveness (its Lease), as for a kubelet's Node.
ENROLLED: Final = "Enrolled"
CONFIG_APPLIED: Final = "ConfigApplied"
UPGRADED: Final = "Upgraded"
HELD_CONDITION: Final = "Held"
"""True while drain or the maintenance windows hold config pushes and upgrades."""

# Enrolled.
ISSUED: Final = "CredentialIssued"
APPLY_FAILED: Final = "ApplyFailed"
TOKEN_FAILED: Final = "TokenRequestFailed"
REVOKED: Final = "Revoked"

# Ready.
NEVER_HEARTBEATED: Final = "AwaitingFirstHeartbeat"
HEARTBEATING: Final = "LeaseRenewed"
HEARTBEAT_EXPIRED: Final = "LeaseExpired"
NOT_ENROLLED: Final = "NotEnrolled"

# ConfigApplied.
APPLIED: Final = "Applied"
PENDING: Final = "Pending"
REJECTED: Final = "ConfigRejected"

# Held.
HOLDING: Final = "ChangesHeld"
NOT_HELD: Final = "NotHeld"

# Upgraded.
UP_TO_DATE: Final = "UpToDate"
WAITING_FOR_TURN: Final = "WaitingForTurn"
UPGRADING: Final = "Upgrading"
UPGRADE_FAILED: Final = "UpgradeFailed"
UPGRADE_TIMED_OUT: Final = "UpgradeTimedOut"
WAVE_HALTED: Final = "WaveHalted"
HELD: Final = "Held"

# Event-only reasons.
CREDENTIAL_RENEWED: Final = "CredentialRenewed"
DRIFT_REPAIRED: Final = "DriftRepaired"
UPGRADE_STARTED: Final = "UpgradeStarted"
