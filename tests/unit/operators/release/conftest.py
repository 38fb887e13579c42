"""A ServiceRelease spec to bend, from the shipped example (what users see is what we test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meridian.core.api.v1alpha1 import servicerelease

EXAMPLE = Path(__file__).resolve().parents[4] / "crds" / "examples" / "servicerelease.yaml"


def spec_of(**changes: Any) -> servicerelease.ServiceReleaseSpec:
    raw = yaml.safe_load(EXAMPLE.read_text())["spec"]
    raw.update(changes)
    return servicerelease.ServiceReleaseSpec.model_validate(raw)


@pytest.fixture
def example_spec() -> servicerelease.ServiceReleaseSpec:
    return spec_of()
