"""Desired config: rendered atomically, validated, reloaded, rolled back to the last good one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meridian.core.api.v1alpha1 import edgenode
from meridian.edge_agent import config
from meridian.edge_agent.state import Applied
from tests.unit.edge_agent.conftest import created, python

TEMPLATE = "proxy_cache_path /var/cache/nginx max_size={{ max_size }};\nadd_header X-Site {{site}}; proxy_set_header Host $host;\n"
# Rejects a file containing "invalid", as `nginx -t` rejects a bad directive.
VALIDATE = "import sys; sys.exit('emerg: invalid' if 'invalid' in open(sys.argv[1]).read() else 0)"
# Appends one line per call to a log, and fails when a marker file exists.
RELOAD = (
    "import os, sys; open(sys.argv[1], 'a').write('reload\\n'); "
    "sys.exit('reload refused' if os.path.exists(sys.argv[2]) else 0)"
)


@pytest.fixture
def plan(tmp_path: Path) -> config.Plan:
    template = tmp_path / "cache.conf.tmpl"
    template.write_text(TEMPLATE)
    target = tmp_path / "etc" / "cache.conf"
    return config.Plan(
        template=template,
        target=target,
        validate=python(VALIDATE, str(target)),
        reload=python(RELOAD, str(tmp_path / "reloads"), str(tmp_path / "refuse-reload")),
        timeout_s=10,
        last_good=tmp_path / "state" / "last-good",
    )


def reloads(plan: config.Plan) -> int:
    log = plan.target.parent.parent / "reloads" if plan.target else None
    return len(log.read_text().splitlines()) if log and log.exists() else 0


async def test_a_valid_config_is_rendered_reloaded_and_its_hash_reported(plan: config.Plan) -> None:
    desired = {"max_size": "10g", "site": "nyc1"}
    applied = await config.apply(plan, desired, Applied())
    assert plan.target is not None
    assert plan.target.read_text() == TEMPLATE.replace("{{ max_size }}", "10g").replace(
        "{{site}}", "nyc1"
    )
    assert plan.last_good.read_text() == plan.target.read_text()
    assert applied.config_hash == edgenode.config_hash(desired)
    assert applied.config_error is None
    assert reloads(plan) == 1
    again = await config.apply(plan, desired, applied)
    assert again == applied
    assert reloads(plan) == 1, "an applied config is not reloaded again"


async def test_a_config_failing_validation_rolls_back_to_the_last_good(plan: config.Plan) -> None:
    good = await config.apply(plan, {"max_size": "10g", "site": "nyc1"}, Applied())
    assert plan.target is not None
    before = plan.target.read_bytes()
    bad = {"max_size": "invalid", "site": "nyc1"}
    applied = await config.apply(plan, bad, good)
    assert plan.target.read_bytes() == before
    assert applied.config_hash == good.config_hash
    assert applied.config_error is not None
    assert "validation failed" in applied.config_error
    assert "emerg: invalid" in applied.config_error
    assert reloads(plan) == 1, "a config that failed validation is never reloaded"
    # Known bad: not validated again on every sync, and the error stays.
    assert await config.apply(plan, bad, applied) == applied
    # A new spec clears it.
    fixed = await config.apply(plan, {"max_size": "20g", "site": "nyc1"}, applied)
    assert fixed.config_error is None
    assert fixed.config_hash == edgenode.config_hash({"max_size": "20g", "site": "nyc1"})


async def test_a_refused_reload_restores_and_reloads_the_last_good(
    plan: config.Plan, tmp_path: Path
) -> None:
    good = await config.apply(plan, {"max_size": "10g", "site": "nyc1"}, Applied())
    assert plan.target is not None
    before = plan.target.read_bytes()
    (tmp_path / "refuse-reload").touch()
    applied = await config.apply(plan, {"max_size": "20g", "site": "nyc1"}, good)
    assert plan.target.read_bytes() == before
    assert applied.config_hash == good.config_hash
    assert applied.config_error is not None
    assert "reload failed" in applied.config_error
    assert reloads(plan) == 3, "the failed reload, then one of the restored config"


async def test_first_failure_restores_what_the_install_put_there(plan: config.Plan) -> None:
    assert plan.target is not None
    plan.target.parent.mkdir(parents=True)
    plan.target.write_text("# shipped by the install\n")
    applied = await config.apply(plan, {"max_size": "invalid", "site": "x"}, Applied())
    assert plan.target.read_text() == "# shipped by the install\n"
    assert applied.config_hash is None


async def test_a_key_missing_from_spec_config_is_reported_before_anything_is_written(
    plan: config.Plan,
) -> None:
    applied = await config.apply(plan, {"site": "nyc1"}, Applied())
    assert applied.config_error is not None
    assert "'max_size'" in applied.config_error
    assert plan.target is not None
    assert not plan.target.exists()


async def test_config_values_with_shell_metacharacters_are_file_content_only(
    plan: config.Plan, tmp_path: Path, pwned: Path
) -> None:
    hostile = {"max_size": f"1g; touch {pwned}", "site": f"$(touch {pwned})`touch {pwned}`"}
    applied = await config.apply(plan, hostile, Applied())
    assert applied.config_error is None
    assert plan.target is not None
    text = plan.target.read_text()
    assert f"max_size=1g; touch {pwned};" in text
    assert f"X-Site $(touch {pwned})`touch {pwned}`;" in text
    assert not created(pwned)


async def test_a_node_without_a_template_reports_an_empty_config_applied(tmp_path: Path) -> None:
    bare = config.Plan(None, None, [], [], 10, tmp_path / "last-good")
    applied = await config.apply(bare, {}, Applied())
    assert applied.config_hash == edgenode.config_hash({})
    refused = await config.apply(bare, {"max_size": "1g"}, applied)
    assert refused.config_hash == applied.config_hash
    assert refused.config_error == "spec.config is set but this node has no config template"
    assert json.loads(json.dumps(refused.model_dump()))  # plain data, persistable
