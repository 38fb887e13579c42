"""The service catalogue the apiserver enforces (spec.service) covers every service we run."""

from __future__ import annotations

from meridian.core.api.v1alpha1 import meta
from meridian.localplatform import pipeline


def test_every_pipeline_service_can_be_released() -> None:
    """A service added to the pipeline but not to the catalogue could never get a release."""
    assert {service.name for service in pipeline.SERVICES} <= set(meta.SERVICES)
