"""The policy catalogue: names are unique, modes come from the ConfigMap or the default."""

from __future__ import annotations

import pytest

from meridian.core.policy import catalogue
from meridian.core.policy.catalogue import Mode


def test_names_are_unique_and_lookups_name_the_known_ones() -> None:
    names = [policy.name for policy in catalogue.POLICIES]
    assert len(names) == len(set(names)) == 7
    with pytest.raises(KeyError, match="meridian-non-root"):
        catalogue.get("no-such-policy")


def test_live_modes_follow_the_configmap_and_ignore_garbage() -> None:
    modes = catalogue.live_modes(
        {"meridian-non-root": "Audit", "meridian-pdb-required": "enforce-ish"}
    )
    assert modes["meridian-non-root"] is Mode.AUDIT
    assert modes["meridian-pdb-required"] is catalogue.get("meridian-pdb-required").mode
    assert catalogue.live_modes(None) == {p.name: p.mode for p in catalogue.POLICIES}


def test_audit_warns_and_enforce_denies() -> None:
    assert catalogue.validation_actions(Mode.AUDIT) == ["Audit", "Warn"]
    assert catalogue.validation_actions(Mode.ENFORCE) == ["Deny"]
