"""The Tenant operator."""
