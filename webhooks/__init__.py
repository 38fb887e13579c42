"""Admission webhooks (validating + mutating) for Meridian's resources. Not built yet."""
