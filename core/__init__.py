"""The shared kit every Meridian process may import: API types, settings, logging, Kubernetes access."""
