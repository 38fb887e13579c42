"""Typed API types for Meridian's custom resources, and the CRD generator that renders them."""
