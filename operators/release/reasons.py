"""Condition types and reasons of the ServiceRelease operator (CamelCase constants, one place)."""

from typing import Final

# Condition types; Ready summarises.
AVAILABLE: Final = "Available"
"""The stable revision runs at full size, every pod available."""
PROGRESSING: Final = "Progressing"
"""A revision is being rolled out (True), or none is (False, reason says how the last ended)."""

# Reasons for conditions and Events.
RECONCILING: Final = "Reconciling"
HEALTHY: Final = "Healthy"
APPLY_FAILED: Final = "ApplyFailed"
REVISION_STARTED: Final = "RevisionStarted"
WEIGHT_SET: Final = "WeightSet"
STEP_PROMOTED: Final = "StepPromoted"
PROMOTING: Final = "Promoting"
PROMOTED: Final = "Promoted"
RESUMED: Final = "Resumed"
RETRIED: Final = "Retried"
ROLLING_BACK: Final = "RollingBack"
ROLLED_BACK: Final = "RolledBack"
REVERTED: Final = "Reverted"
SUPERSEDED: Final = "Superseded"
ACTION_IGNORED: Final = "ActionIgnored"
ANALYSIS_SUCCESSFUL: Final = "AnalysisSuccessful"
ANALYSIS_INCONCLUSIVE: Final = "AnalysisInconclusive"

# Why a rollout was aborted (status.abort.reason, the Aborting Event).
ABORTING: Final = "Aborting"
ABORTED: Final = "Aborted"
ABORTED_BY_HAND: Final = "AbortRequested"
ANALYSIS_FAILED: Final = "AnalysisFailed"
PROGRESS_DEADLINE: Final = "ProgressDeadlineExceeded"
CRASH_LOOPING: Final = "CrashLooping"
