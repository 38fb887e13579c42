"""`kubectl meridian edge`: the edge fleet's upgrade waves, as on-call drives them.

- `upgrade --site S --version X`: sets spec.agentVersion on every EdgeNode of site S; the operator
  then rolls it out (at most N unavailable per site, each node healthy before the next).
- `resume --site S`: lifts a halted wave: removes the operator's failure marks from the site's
  nodes and clears their upgrade status, so they are tried again within the limit.
- `status [--site S]`: one line per node: ready, versions, target and the wave's word on it.

The request lives in the nodes' spec and the wave's progress in their status, so the operator can
be restarted at any point; nothing here talks to the operator directly.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from meridian.plugin import run, table

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from meridian.plugin import Commands

VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")


def _version(value: str) -> str:
    if not VERSION.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a semantic version such as 1.4.0")
    return value


def _resource() -> Any:
    from lightkube.generic_resource import create_global_resource

    from meridian.core.api.v1alpha1 import GROUP, VERSION, edgenode

    return create_global_resource(GROUP, VERSION, edgenode.KIND.kind, edgenode.KIND.plural)


async def _site_nodes(client: AsyncClient, site: str | None) -> list[dict[str, Any]]:
    nodes = [item.to_dict() async for item in client.list(_resource())]
    found = [n for n in nodes if site is None or (n.get("spec") or {}).get("site") == site]
    return sorted(found, key=lambda n: n["metadata"]["name"])


def _condition(node: dict[str, Any], type_: str) -> dict[str, Any]:
    conditions = (node.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), {})


async def upgrade(client: AsyncClient, args: argparse.Namespace) -> int:
    from lightkube.types import PatchType

    nodes = await _site_nodes(client, args.site)
    if not nodes:
        print(f"error: no EdgeNode in site {args.site}")
        return 1
    resource = _resource()
    for node in nodes:
        patch = {"spec": {"agentVersion": args.version}}
        await client.patch(resource, node["metadata"]["name"], patch, patch_type=PatchType.MERGE)
    print(f"site {args.site}: {len(nodes)} nodes set to {args.version}; the operator rolls it out")
    return 0


async def resume(client: AsyncClient, args: argparse.Namespace) -> int:
    from lightkube.types import PatchType

    from meridian.core.api.v1alpha1 import edgenode

    resource = _resource()
    failed = [
        node
        for node in await _site_nodes(client, args.site)
        if edgenode.UPGRADE_FAILED_ANNOTATION in (node["metadata"].get("annotations") or {})
        or ((node.get("status") or {}).get("upgrade") or {}).get("phase") == "Failed"
    ]
    for node in failed:
        name = node["metadata"]["name"]
        clear = {"targetVersion": None, "phase": None, "message": None, "startedTime": None}
        await client.patch(
            resource.Status, name, {"status": {"upgrade": clear}}, patch_type=PatchType.MERGE
        )
        annotations = {
            edgenode.UPGRADE_FAILED_ANNOTATION: None,
            edgenode.UPGRADE_TIMED_OUT_ANNOTATION: None,
        }
        await client.patch(
            resource, name, {"metadata": {"annotations": annotations}}, patch_type=PatchType.MERGE
        )
    names = ", ".join(node["metadata"]["name"] for node in failed) or "none"
    print(f"site {args.site}: wave resumed; failed nodes to retry: {names}")
    return 0


async def status(client: AsyncClient, args: argparse.Namespace) -> int:
    rows = []
    for node in await _site_nodes(client, args.site):
        node_status = node.get("status") or {}
        upgrade = node_status.get("upgrade") or {}
        rows.append(
            [
                node["metadata"]["name"],
                node["spec"]["site"],
                _condition(node, "Ready").get("status"),
                node_status.get("agentVersion"),
                node["spec"]["agentVersion"],
                upgrade.get("targetVersion"),
                upgrade.get("phase"),
                _condition(node, "Upgraded").get("reason"),
            ]
        )
    headers = ["name", "site", "ready", "running", "desired", "target", "phase", "wave"]
    print(table.render(headers, rows), end="")
    return 0


def register(commands: Commands, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("edge", help="edge fleet: upgrade waves per site")
    leaves = group.add_subparsers(required=True, metavar="COMMAND")
    up = leaves.add_parser("upgrade", parents=common, help="roll a new agent version out to a site")
    up.add_argument("--site", required=True)
    up.add_argument("--version", required=True, type=_version)
    up.set_defaults(handler=run.kube_command(upgrade))
    go = leaves.add_parser("resume", parents=common, help="lift a halted wave, retrying failures")
    go.add_argument("--site", required=True)
    go.set_defaults(handler=run.kube_command(resume))
    show = leaves.add_parser("status", parents=common, help="nodes, versions and wave state")
    show.add_argument("--site", default=None)
    show.set_defaults(handler=run.kube_command(status))
