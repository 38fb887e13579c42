"""The FailoverPlan operator."""
