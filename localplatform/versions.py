"""Every version the local platform pins, in one place.

The build cache key (`~/.cache/meridian/<key>/bin`) is derived from this file, so bumping a
version here is all it takes to get a fresh build; nothing else in the tree names a version.
"""

from __future__ import annotations

import hashlib
from typing import Final, NamedTuple


class GoTool(NamedTuple):
    """A binary built from a pinned Go module through a throwaway wrapper module."""

    module: str
    version: str
    binaries: dict[str, str]
    """Binary name -> Go package that builds it."""
    tags: tuple[str, ...] = ()
    """Go build tags (containerd leaves out the storage drivers that need cgo)."""
    main: str = ""
    """Go source of the wrapper's own main package (binaries then name "."): a CoreDNS of the
    few plugins a node uses, instead of every cloud's SDK."""


KUBERNETES: Final = "v1.36.3"
"""k8s.io/kubernetes; its staging modules are replaced by the published k8s.io/* v0.36.x."""

KUBERNETES_STAGING: Final = "v0" + KUBERNETES[2:]
ETCD: Final = "v3.6.16"
KWOK: Final = "v0.8.0"
STRIPE_MOCK: Final = "v0.203.0"
POSTGRESQL_MAJOR: Final = "15"
CONTAINERD: Final = "v2.4.2"
"""containerd 2 implements the CRI RuntimeConfig call kubelet 1.36 asks for (Debian's 1.6 does not)."""
COREDNS: Final = "v1.15.0"
GATEWAY_API: Final = "v1.6.3"
"""sigs.k8s.io/gateway-api: its standard-channel CRDs (HTTPRoute...), copied out of the module
(`gatewayapi.py`). v1.7.0 needs go >= 1.27."""
PROMETHEUS: Final = "v0.316.0"
"""github.com/prometheus/prometheus: the Go module's tag for Prometheus 3.16.0 (Debian's 2.42 has
no `kubernetes_sd_configs`). Built with only the kubernetes, file and http discoverers
(`PROMETHEUS_TAGS`) and without the web UI's assets: the release analysis needs the HTTP API."""
PROMETHEUS_TAGS: Final = ("remove_all_sd", "enable_kubernetes_sd")
ELASTICSEARCH: Final = "8.19.21"
"""The newest 8.19.x of Maven Central's integ-test distribution (core modules only: no
analysis-common, mapper-extras, reindex or painless); run on Debian's JDK 17 (packages.py)."""
ELASTICSEARCH_ARTIFACT: Final = (
    f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH}:zip"
)
ELASTICSEARCH_SHA256: Final = "215d5f3dbf0609a149f6218a9e47b6ae2df34ebbff3c5754e35f15a5e5393c8a"

COREDNS_PLUGINS: Final = ("bind", "ready", "health", "errors", "log", "cache", "kubernetes")
"""The cluster DNS's plugins, in CoreDNS's chain order: no `forward`, so nothing but
`cluster.local` is ever answered and the host's resolver is never asked."""

_COREDNS_MAIN = (
    "package main\n\nimport (\n"
    + "".join(f'\t_ "github.com/coredns/coredns/plugin/{name}"\n' for name in COREDNS_PLUGINS)
    + '\t"github.com/coredns/coredns/core/dnsserver"\n'
    + '\t"github.com/coredns/coredns/coremain"\n)\n\n'
    + "func init() {\n\tdnsserver.Directives = []string{"
    + ", ".join(f'"{name}"' for name in COREDNS_PLUGINS)
    + "}\n}\n\nfunc main() {\n\tcoremain.Run()\n}\n"
)

GO_TOOLS: Final[dict[str, GoTool]] = {
    "kubernetes": GoTool(
        module="k8s.io/kubernetes",
        version=KUBERNETES,
        binaries={
            name: f"k8s.io/kubernetes/cmd/{name}"
            for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        },
    ),
    "etcd": GoTool(
        module="go.etcd.io/etcd/server/v3",
        version=ETCD,
        binaries={"etcd": "go.etcd.io/etcd/server/v3"},
    ),
    "kwok": GoTool(
        module="sigs.k8s.io/kwok",
        version=KWOK,
        binaries={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
    ),
    "stripe-mock": GoTool(
        module="github.com/stripe/stripe-mock",
        version=STRIPE_MOCK,
        binaries={"stripe-mock": "github.com/stripe/stripe-mock"},
    ),
    "prometheus": GoTool(
        module="github.com/prometheus/prometheus",
        version=PROMETHEUS,
        binaries={"prometheus": "github.com/prometheus/prometheus/cmd/prometheus"},
        tags=PROMETHEUS_TAGS,
    ),
}


NODE_TOOLS: Final[dict[str, GoTool]] = {
    # The real node's binaries: built on the first `meridian dev up --real-node` only, kept out of
    # GO_TOOLS so a platform of kwok nodes neither builds nor links them. runc and the CNI plugins
    # come from Debian (packages.py): runc's nsexec is C, which a CGO_ENABLED=0 build cannot make.
    "kubelet": GoTool(
        module="k8s.io/kubernetes",
        version=KUBERNETES,
        binaries={"kubelet": "k8s.io/kubernetes/cmd/kubelet"},
    ),
    "containerd": GoTool(
        module="github.com/containerd/containerd/v2",
        version=CONTAINERD,
        binaries={
            name: f"github.com/containerd/containerd/v2/cmd/{name}"
            for name in ("containerd", "containerd-shim-runc-v2", "ctr")
        },
        tags=("no_btrfs", "no_devmapper", "no_zfs"),
    ),
    # Services inside the node's namespace (iptables mode, Debian's iptables on nf_tables).
    "kube-proxy": GoTool(
        module="k8s.io/kubernetes",
        version=KUBERNETES,
        binaries={"kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy"},
    ),
    "coredns": GoTool(
        module="github.com/coredns/coredns",
        version=COREDNS,
        binaries={"coredns": "."},
        main=_COREDNS_MAIN,
    ),
}


def cache_key() -> str:
    """A short name for this exact set of Go-built versions: the folder of the platform's PATH."""
    pins = ",".join(f"{name}={tool.version}" for name, tool in sorted(GO_TOOLS.items()))
    digest = hashlib.sha256(pins.encode()).hexdigest()[:8]
    return f"k8s-{KUBERNETES}-etcd-{ETCD}-kwok-{KWOK}-{digest}"


def tool_key(name: str) -> str:
    """Each tool builds into its own folder, so adding or bumping one never rebuilds the others."""
    tool = GO_TOOLS.get(name) or NODE_TOOLS[name]
    if tool.main:  # its own main (CoreDNS's plugin list) is part of what is built
        return f"{name}-{tool.version}-{hashlib.sha256(tool.main.encode()).hexdigest()[:8]}"
    return f"{name}-{tool.version}"
