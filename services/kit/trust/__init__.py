"""Who is calling: short-lived internal tokens a service signs for its peers, the cached JWKS of the
issuers it trusts, and the verified identity every handler reads (never identity headers alone)."""
