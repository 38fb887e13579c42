"""`kubectl meridian search`: the token check's reading of a token, and what status prints."""

from __future__ import annotations

import uuid

import jwt

from meridian import plugin
from meridian.plugin import search


def test_the_tenant_of_a_token_is_read_without_its_key() -> None:
    tenant = str(uuid.uuid4())
    token = jwt.encode({"tenant_id": tenant, "sub": "u"}, "some-secret-of-32-bytes-at-least!!")
    assert search.token_tenant(token) == tenant
    assert search.token_tenant("not a token") is None


def test_status_prints_the_run_and_its_error() -> None:
    text = search.render(
        {
            "state": "failed",
            "target_index": "products-x-v1-2",
            "documents_copied": 500,
            "documents_in_target": None,
            "started_at": "2026-11-27T12:00:00Z",
            "finished_at": None,
            "error": "Unreadable: Inventory answered 503",
        }
    )
    lines = text.splitlines()
    assert lines[0].split() == ["STATE", "INDEX", "COPIED", "VERIFIED", "STARTED", "FINISHED"]
    assert lines[1].split() == [
        "failed",
        "products-x-v1-2",
        "500",
        "<none>",
        "2026-11-27T12:00:00Z",
        "<none>",
    ]
    assert lines[2] == "error: Unreadable: Inventory answered 503"


def test_reindex_takes_the_tenant_and_may_wait() -> None:
    args = plugin.build_parser().parse_args(["search", "reindex", "acme", "--wait", "--token", "t"])
    assert (args.tenant, args.wait, args.token, args.output) == ("acme", True, "t", "table")
