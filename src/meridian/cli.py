"""The `meridian` console script: the local platform (`dev`), the operators and code generation.

Subcommands import their implementation lazily, so `meridian dev env` stays instant and the
operator process never loads the local-platform code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _dev_install(args: argparse.Namespace) -> int:
    from meridian.localplatform import platform

    print(f"binaries in {platform.install()}")
    return 0


def _dev_up(args: argparse.Namespace) -> int:
    from meridian.localplatform import platform

    state = platform.up(
        args.run_dir,
        dr=args.dr,
        pg_standby=args.pg_standby,
        datastores=not args.no_datastores,
        adopt_kubeconfig=args.adopt_kubeconfig,
        real_node=args.real_node,
        search=args.search,
        metrics=args.prometheus,
    )
    if state.external_kubeconfig:
        # Everything below (CRDs, operators, --apply, the demo tenant) writes into that cluster.
        banner = "!" * 78
        print(
            f"{banner}\n! ADOPTED A CLUSTER THIS PLATFORM DID NOT START: {state.external_kubeconfig}\n"
            "! No control plane was started; CRDs, operators and examples go INTO THAT CLUSTER.\n"
            f"{banner}",
            file=sys.stderr,
        )
    elif os.environ.get("KUBECONFIG") not in (None, "", state.kubeconfig):
        print(
            f"# KUBECONFIG={os.environ['KUBECONFIG']} ignored: this platform runs its own cluster"
            " (--adopt-kubeconfig PATH uses an existing one)",
            file=sys.stderr,
        )
    dr_images = None  # on the DR cluster's real node: the local plan's DR services are pods
    if args.real_node:  # the service images the node lacks, built when missing (not otherwise)
        from meridian.localplatform import imagebuild

        run_dir = Path(state.run_dir)
        clusters = imagebuild.real_node_clusters(run_dir)
        built = imagebuild.ensure_imported(run_dir, clusters)
        print(imagebuild.report(built), file=sys.stderr)
        if "dr" in clusters:
            dr_images = {image.service: image.ref for image in built}
    if args.crds:
        platform.install_crds(state, args.crds)
    if args.webhooks:  # before the operators and --apply: what the platform creates is admitted
        print(f"# admission webhook {platform.start_webhooks(state)}", file=sys.stderr)
    if args.operators:
        platform.start_operators(state)
    for path in args.apply:
        print(platform.kubectl(state, "apply", "-f", str(path)), end="")
    if args.dr and args.pg_standby and args.crds and not args.no_datastores:
        from meridian.localplatform import drplan

        print(drplan.apply(state, dr_images), end="")
    if args.operators:  # the example EdgeNodes' agents, each with the credential it was issued
        from meridian.localplatform import edgeagents

        agents = edgeagents.start(
            Path(state.run_dir),
            Path(state.bin_dir),
            state.kubeconfig,
            edgeagents.nodes_in(args.apply),
        )
        print(f"# edge agents: {len(agents)} started", file=sys.stderr)
    if args.services:
        started, email, password = platform.start_pipeline(state)
        print(f"# gateway {started.gateway_url}  (MERIDIAN_GATEWAY_URL)", file=sys.stderr)
        print(f"# demo user: tenant acme, {email}, password {password}", file=sys.stderr)
    print(f"# platform up in {state.run_dir}", file=sys.stderr)
    return 0


def _dev_images(args: argparse.Namespace) -> int:
    from meridian.localplatform import imagebuild, platform

    run_dir = args.run_dir or platform.default_run_dir()
    clusters = imagebuild.real_node_clusters(run_dir)
    built = imagebuild.ensure_imported(run_dir, clusters)
    print(imagebuild.report(built))
    if not clusters:
        print("# no real node running here: archives built, nothing imported", file=sys.stderr)
    return 0


def _dev_down(args: argparse.Namespace) -> int:
    from meridian.localplatform import platform

    for name in platform.down(args.run_dir):
        print(f"stopped {name}")
    return 0


def _dev_status(args: argparse.Namespace) -> int:
    from meridian.localplatform import nodestatus, platform

    rows = platform.status(args.run_dir)
    if not rows:
        print("nothing running")
        return 1
    print(f"{'PROCESS':32} {'PID':>8} {'STATE':8} {'RSS (group)':>12}")
    for row in rows:
        state = "running" if row.alive else "STOPPED"
        print(f"{row.name:32} {row.pid:>8} {state:8} {row.rss_bytes / 2**20:>9.0f} MiB")
    total = sum(row.rss_bytes for row in rows)
    print(f"{'total':32} {'':>8} {'':8} {total / 2**20:>9.0f} MiB")
    nodes = platform.real_nodes(args.run_dir)
    if nodes:
        print()
        print("\n".join(nodestatus.render(nodes)))
    healthy = all(row.alive for row in rows) and all(node.ready == "True" for node in nodes)
    return 0 if healthy else 1


def _dev_env(args: argparse.Namespace) -> int:
    from meridian.localplatform import platform

    state = platform.load(args.run_dir)
    if state is None:
        print("no platform state here: run `meridian dev up` first", file=sys.stderr)
        return 1
    print(state.export_lines())
    return 0


def _operator_run(args: argparse.Namespace) -> int:
    from meridian.operators.machinery import runtime

    only = [name for name in args.only.split(",") if name] if args.only else None
    runtime.run(only)
    return 0


def _operator_rbac(args: argparse.Namespace) -> int:
    import yaml

    from meridian.operators.machinery import operator, rbac

    only = [name for name in args.only.split(",") if name] or list(operator.discover())
    documents = rbac.manifests(only, namespace=args.namespace, service_account=args.service_account)
    print(yaml.safe_dump_all(documents, sort_keys=False), end="")
    return 0


def _webhooks_run(_args: argparse.Namespace) -> int:
    from meridian.webhooks import __main__ as webhooks_main

    webhooks_main.main()
    return 0


def _crds_generate(args: argparse.Namespace) -> int:
    from meridian.core.api import crdgen

    for path in crdgen.write_all(args.out):
        print(path)
    return 0


def _policies_generate(args: argparse.Namespace) -> int:
    from meridian.core.policy import manifests

    for path in manifests.write_all(args.out):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meridian", description=__doc__)
    commands = parser.add_subparsers(required=True)

    dev = commands.add_parser("dev", help="the local platform: real control plane and datastores")
    dev_commands = dev.add_subparsers(required=True)
    for name, handler, text in (
        ("install", _dev_install, "install Debian packages and build the Go binaries (cached)"),
        ("up", _dev_up, "build what is missing and start the platform"),
        ("down", _dev_down, "stop every process the platform started"),
        ("status", _dev_status, "list the platform's processes, real nodes and their pods"),
        ("env", _dev_env, "print export lines for KUBECONFIG, DSNs and URLs"),
        ("images", _dev_images, "build the service images that changed; import into real nodes"),
    ):
        sub = dev_commands.add_parser(name, help=text)
        sub.add_argument("--run-dir", type=Path, default=None, help="platform run directory")
        sub.set_defaults(handler=handler)
        if name == "up":
            sub.add_argument("--dr", action="store_true", help="also start the DR cluster")
            sub.add_argument(
                "--pg-standby", action="store_true", help="also start a streaming standby"
            )
            sub.add_argument("--no-datastores", action="store_true", help="control plane only")
            sub.add_argument(
                "--adopt-kubeconfig",
                metavar="PATH",
                help="use this existing cluster instead of starting one (the shell's KUBECONFIG"
                " is never adopted on its own)",
            )
            sub.add_argument(
                "--real-node",
                action="store_true",
                help="also run one real kubelet + containerd node per cluster (root only)",
            )
            sub.add_argument(
                "--search",
                action="store_true",
                help="also start Elasticsearch (single node, 512 MiB heap) for the search service",
            )
            sub.add_argument(
                "--prometheus",
                action="store_true",
                help="also start Prometheus (pods through the apiserver, host services) for the"
                " release analysis",
            )
            sub.add_argument("--crds", type=Path, help="install the CRDs in this folder")
            sub.add_argument("--operators", action="store_true", help="start the operators")
            sub.add_argument(
                "--webhooks", action="store_true", help="start and register the admission webhook"
            )
            sub.add_argument(
                "--services",
                action="store_true",
                help="start the order pipeline behind the gateway and seed the demo tenant",
            )
            sub.add_argument(
                "--apply", type=Path, action="append", default=[], help="kubectl apply -f this path"
            )

    operator = commands.add_parser("operator", help="run Meridian's operators")
    operator_commands = operator.add_subparsers(required=True)
    run = operator_commands.add_parser("run", help="run the operators in one process")
    run.add_argument(
        "--only", default="", help="comma-separated subset: tenant,release,failover,edge"
    )
    run.set_defaults(handler=_operator_run)
    rbac = operator_commands.add_parser("rbac", help="print least-privilege RBAC for the operators")
    rbac.add_argument(
        "--only", default="", help="comma-separated subset: tenant,release,failover,edge"
    )
    rbac.add_argument("--namespace", default="meridian-system")
    rbac.add_argument("--service-account", default="meridian-operator")
    rbac.set_defaults(handler=_operator_rbac)

    webhooks = commands.add_parser("webhooks", help="the admission webhook")
    webhooks_commands = webhooks.add_subparsers(required=True)
    webhooks_run = webhooks_commands.add_parser("run", help="serve admission reviews over TLS")
    webhooks_run.set_defaults(handler=_webhooks_run)

    crds = commands.add_parser("crds", help="CustomResourceDefinitions")
    crds_commands = crds.add_subparsers(required=True)
    generate = crds_commands.add_parser("generate", help="render crds/*.yaml from the API models")
    generate.add_argument("--out", type=Path, default=Path("crds"))
    generate.set_defaults(handler=_crds_generate)

    policies = commands.add_parser("policies", help="admission policies (core/policy)")
    policies_commands = policies.add_subparsers(required=True)
    render = policies_commands.add_parser(
        "generate", help="render policies/*.yaml from the policy catalogue"
    )
    render.add_argument("--out", type=Path, default=Path("policies"))
    render.set_defaults(handler=_policies_generate)

    from meridian import plugin  # on-call's groups: the same commands as `kubectl meridian`

    plugin.register_all(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
