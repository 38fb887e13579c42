"""A revision: the template a release's pods run (image, config, resources), and its hash.

The hash names the revision in labels and status, so a change of any of the three is a new
revision, like an image change, and the same three always hash the same (a re-apply is a no-op).
"""

from __future__ import annotations

import hashlib
import json

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.servicerelease_status import Template

HASH_LENGTH = 10


def resources_of(spec: servicerelease.ServiceReleaseSpec) -> dict[str, dict[str, str]]:
    """The pod's requests and limits; an unset request is the limit (Kubernetes' own default)."""
    limits = spec.resources.limits.model_dump()
    requests = spec.resources.requests.model_dump(exclude_none=True)
    return {"requests": {**limits, **requests}, "limits": limits}


def template_of(spec: servicerelease.ServiceReleaseSpec) -> Template:
    return Template(image=spec.image, config=dict(spec.config), resources=resources_of(spec))


def hash_of(template: Template) -> str:
    canonical = json.dumps(template.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]
