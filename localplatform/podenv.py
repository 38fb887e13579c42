"""A service's environment as a pod on a real node needs it, from the one `pipeline` builds.

`pipeline.environment` configures the services the platform runs as host processes: they listen
on loopback, reach the datastores on their host ports, and read their signing key from the run
directory. A pod reaches none of these: it listens on every address of its own namespace, reaches
the datastores through the `meridian-system` Services (`nodenet`), and reads its key from a
mounted Secret. This rewrites the one into the other, so the settings a service runs with are the
same table either way; a loopback address left over (a peer running on the host) is an error, not
a pod that cannot start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from meridian.localplatform import net, nodenet

KEY_DIR = "/var/run/secrets/meridian/identity"
"""Where a pod's signing key Secret is mounted (read-only, group-readable by the service)."""
_KEY_SUFFIX = "_IDENTITY_SIGNING_KEY_FILE"
_LOOPBACK = re.compile(rf"(?:{re.escape(net.LOOPBACK)}|localhost):(\d+)")


class PodEnvironment(NamedTuple):
    env: dict[str, str]
    key_files: dict[str, Path]  # the Secret's data: file name under KEY_DIR -> host file


def datastore_host(name: str) -> str:
    return f"{name}.{nodenet.SYSTEM_NAMESPACE}.svc.cluster.local"


def in_cluster(env: dict[str, str], host_ports: dict[str, int]) -> PodEnvironment:
    """`env` (`MERIDIAN_<SERVICE>_*` of host processes) rewritten for a pod; `host_ports` are the
    datastores' loopback ports on the host, as the node's datastore relay forwards them."""
    services = {
        port: f"{datastore_host(name)}:{nodenet.DATASTORE_PORTS[name]}"
        for name, port in host_ports.items()
    }

    def to_service(match: re.Match[str]) -> str:
        port = int(match.group(1))
        if port not in services:
            raise ValueError(f"{match.group(0)} is on the host's loopback, which no pod reaches")
        return services[port]

    rewritten: dict[str, str] = {}
    key_files: dict[str, Path] = {}
    for key, value in env.items():
        if key.endswith("_HOST") and value == net.LOOPBACK:
            rewritten[key] = "0.0.0.0"  # the pod's own namespace: its veth is the only way in
        elif key.endswith(_KEY_SUFFIX):
            key_files[Path(value).name] = Path(value)
            rewritten[key] = f"{KEY_DIR}/{Path(value).name}"
        else:
            try:
                rewritten[key] = _LOOPBACK.sub(to_service, value)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
    return PodEnvironment(rewritten, key_files)


def rewritten(value: str, host_ports: dict[str, int]) -> str:
    """One value (a DSN, a URL) as a pod dials it: `in_cluster` of a single setting."""
    return in_cluster({"VALUE": value}, host_ports).env["VALUE"]
