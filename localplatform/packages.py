"""Debian packages the local platform runs, installed on first use when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from meridian.localplatform import versions

# One file per package that proves it is installed.
_PROBES = {
    f"postgresql-{versions.POSTGRESQL_MAJOR}": f"/usr/lib/postgresql/{versions.POSTGRESQL_MAJOR}/bin/postgres",
    "postgresql-contrib": f"/usr/share/postgresql/{versions.POSTGRESQL_MAJOR}/extension/pgcrypto.control",
    "redis-server": "/usr/bin/redis-server",
    "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
    # promtool checks and unit-tests the alerting rules (services/alerts).
    "prometheus": "/usr/bin/promtool",
    # A real node's OCI runtime (its nsexec is C: no static Go build) and pod networking.
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    # kube-proxy's iptables mode on a real node (Debian's iptables drives nf_tables).
    "iptables": "/usr/sbin/xtables-nft-multi",
    # Makes the Debian base of the images pods run (baseimage.py), from Debian's mirror.
    "mmdebstrap": "/usr/bin/mmdebstrap",
    # Elasticsearch's JVM (the integ-test distribution ships none) and Maven, which fetches it.
    "openjdk-17-jre-headless": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
    "maven": "/usr/share/maven/bin/mvn",
}


def missing() -> list[str]:
    return [package for package, probe in _PROBES.items() if not Path(probe).exists()]


def ensure_installed() -> None:
    needed = missing()
    if not needed:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"missing Debian packages {needed}: install them with apt-get as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *needed], check=True, env=env
    )
    # Debian's maintainer scripts start the freshly installed servers where they can;
    # our platform runs its own copies on other ports, so stop the system ones.
    if shutil.which("service"):
        for service in ("postgresql", "redis-server", "rabbitmq-server", "prometheus"):
            subprocess.run(["service", service, "stop"], check=False, capture_output=True)
