"""`kubectl meridian search reindex|status <tenant>` against the platform's apiserver and a real
search: the Tenant named is looked up in the cluster, another tenant's token is refused, and the
run is followed to its end."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest

from meridian import plugin
from meridian.localplatform import platform
from tests import issuer, tenants
from tests.integration.services.search.conftest import SCOPES, Catalogue
from tests.integration.services.search.test_reindex import load

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:")


def printed(out: str) -> list[str]:
    """What the command printed, without the log lines of the services in this process."""
    return [line for line in out.splitlines() if not LOG_LINE.match(line)]


async def test_the_plugin_reindexes_the_named_tenant_and_refuses_another_tenants_token(
    catalogue: Catalogue,
    local_platform: platform.PlatformState,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await load(catalogue, 20)
    name = f"rx-{uuid.uuid4().hex[:8]}"
    tenants.apply(local_platform, tenants.manifest(name))
    try:
        status = json.dumps({"status": {"tenantId": str(catalogue.tenant)}})
        platform.kubectl(
            local_platform, "patch", "tenant", name, "--subresource=status", "--type=merge",
            "-p", status,
        )  # fmt: skip
        common = ["--gateway-url", catalogue.search_url, "--kubeconfig", local_platform.kubeconfig]
        stranger = issuer.mint(uuid.uuid4(), SCOPES)
        argv = ["search", "reindex", name, "--token", stranger, *common]
        assert await asyncio.to_thread(plugin.main, argv) == 1
        assert "is not one of tenant/" in capsys.readouterr().err

        token = issuer.mint(catalogue.tenant, SCOPES)
        argv = ["search", "reindex", name, "--wait", "--token", token, *common]
        assert await asyncio.to_thread(plugin.main, argv) == 0
        lines = printed(capsys.readouterr().out)
        assert lines[0].startswith(f"tenant/{name}: reindex ")
        assert lines[-2].split()[:3] == ["STATE", "INDEX", "COPIED"]
        assert lines[-1].split()[0] == "done"
        assert lines[-1].split()[2] == "20"

        argv = ["search", "status", name, "-o", "json", "--token", token, *common]
        assert await asyncio.to_thread(plugin.main, argv) == 0
        shown = json.loads("\n".join(printed(capsys.readouterr().out)))
        assert shown["state"] == "done"
        assert shown["documents_copied"] == 20
    finally:
        platform.kubectl(local_platform, "delete", "tenant", name, "--wait=false")
