"""The admission webhook on the local platform: its PKI, its process, its registration, rotation.

The PKI is its own (not the cluster's CA): generation N is a CA under `webhooks/ca-NNNN/` with
the serving certificate it issued; the server reads `webhooks/tls.crt`/`tls.key` and reloads
them when they change. `rotate` moves to a new CA without a refused admission: the registration's
CA bundle first trusts old and new, then the new serving pair is installed and served, and only
then is the old CA dropped from the bundle. In production cert-manager does the same (a
Certificate for the webhook's Service, its CA injected into the registration by cainjector).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from meridian.localplatform import kubecluster, net, pki
from meridian.localplatform.processes import ProcessSpec, Supervisor
from meridian.webhooks import registration

PROCESS = "webhooks"
NAMESPACE = "meridian-webhooks"
BUNDLE_SETTLE_S = 2.0


def directory(run_dir: Path) -> Path:
    return run_dir / "webhooks"


def _generations(folder: Path) -> list[Path]:
    return sorted(folder.glob("ca-[0-9][0-9][0-9][0-9]"))


def _new_generation(folder: Path) -> Path:
    found = _generations(folder)
    number = int(found[-1].name.split("-")[1]) + 1 if found else 1
    generation = folder / f"ca-{number:04d}"
    generation.mkdir(parents=True)
    pki.create_ca(generation, f"meridian-webhooks-ca-{number}")
    return generation


def _issue_serving(generation: Path) -> pki.KeyPair:
    ca = pki.KeyPair(generation / "ca.crt", generation / "ca.key")
    return pki.issue(
        ca,
        generation,
        "serving",
        common_name="meridian-webhooks",
        dns_names=("localhost", f"meridian-webhooks.{NAMESPACE}.svc"),
        ip_addresses=(net.LOOPBACK,),
        server=True,
    )


def _replace(source: Path, target: Path) -> None:
    """Copy then rename: the reader sees the old file or the new one, never half of one."""
    partial = target.with_suffix(target.suffix + ".partial")
    shutil.copyfile(source, partial)
    partial.chmod(0o600)
    os.replace(partial, target)


def serving_pair(run_dir: Path) -> pki.KeyPair:
    folder = directory(run_dir)
    return pki.KeyPair(folder / "tls.crt", folder / "tls.key")


def _install(run_dir: Path, pair: pki.KeyPair) -> None:
    served = serving_pair(run_dir)
    _replace(pair.key, served.key)
    _replace(pair.cert, served.cert)


def _write_bundle(run_dir: Path, generations: list[Path]) -> None:
    pem = b"".join((generation / "ca.crt").read_bytes() for generation in generations)
    (directory(run_dir) / "bundle.pem").write_bytes(pem)


def bundle(run_dir: Path) -> bytes:
    """PEM of every CA the registration trusts now."""
    return (directory(run_dir) / "bundle.pem").read_bytes()


def ensure_certificates(run_dir: Path) -> None:
    folder = directory(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if _generations(folder) and serving_pair(run_dir).cert.exists():
        return
    generation = _new_generation(folder)
    _install(run_dir, _issue_serving(generation))
    _write_bundle(run_dir, [generation])


def port(run_dir: Path) -> int:
    return net.sticky_ports(directory(run_dir) / "port", 1)[0]


def url(run_dir: Path) -> str:
    return f"https://{net.LOOPBACK}:{port(run_dir)}"


def _client_context(cafile: Path | None = None, cadata: bytes | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(cafile) if cafile else None, cadata=cadata.decode() if cadata else None
    )
    return context


def serves_cert_of(run_dir: Path, ca_cert: Path) -> bool:
    """Whether a new TLS connection gets a certificate `ca_cert` signed (the rotation's check)."""
    try:
        with (
            socket.create_connection((net.LOOPBACK, port(run_dir)), timeout=2) as raw,
            _client_context(cafile=ca_cert).wrap_socket(raw, server_hostname=net.LOOPBACK),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def environment(state: Any) -> dict[str, str]:
    run_dir = Path(state.run_dir)
    served = serving_pair(run_dir)
    env = {
        "MERIDIAN_WEBHOOKS_HOST": net.LOOPBACK,
        "MERIDIAN_WEBHOOKS_PORT": str(port(run_dir)),
        "MERIDIAN_WEBHOOKS_TLS_CERT_FILE": str(served.cert),
        "MERIDIAN_WEBHOOKS_TLS_KEY_FILE": str(served.key),
        "MERIDIAN_WEBHOOKS_TLS_RELOAD_S": "1",
        "MERIDIAN_WEBHOOKS_MODES_REFRESH_S": "1",
        "MERIDIAN_WEBHOOKS_NAMESPACE": NAMESPACE,
        "MERIDIAN_WEBHOOKS_KUBECONFIG": state.kubeconfig,
    }
    if state.postgres:
        env["MERIDIAN_WEBHOOKS_PLATFORM_DSN"] = state.postgres_info.dsn("meridian_platform")
    return env


def start(state: Any, supervisor: Supervisor | None = None) -> str:
    """Start (or find) the webhook process; returns its URL once /readyz answers over TLS."""
    run_dir = Path(state.run_dir)
    supervisor = supervisor or Supervisor(run_dir)
    ensure_certificates(run_dir)
    supervisor.start(
        ProcessSpec(
            name=PROCESS,
            argv=[sys.executable, "-m", "meridian.webhooks"],
            env={"PYTHONPATH": os.pathsep.join(sys.path), **environment(state)},
            cwd=directory(run_dir),
        )
    )
    context = _client_context(cadata=bundle(run_dir))
    supervisor.wait_ready(
        PROCESS, lambda: net.http_ok(f"{url(run_dir)}/readyz", context), timeout=60
    )
    return url(run_dir)


def _kubectl(state: Any, *args: str, stdin: str | None = None) -> str:
    return kubecluster.kubectl(Path(state.bin_dir), state.kubeconfig, *args, stdin=stdin)


def register(state: Any) -> None:
    """The webhook's namespace and its ValidatingWebhookConfiguration, trusting `bundle`."""
    run_dir = Path(state.run_dir)
    configuration = registration.render(
        ca_bundle=base64.b64encode(bundle(run_dir)).decode(),
        own_namespace=NAMESPACE,
        url=url(run_dir),
    )
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    items = {"apiVersion": "v1", "kind": "List", "items": [namespace, configuration]}
    _kubectl(
        state, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=json.dumps(items)
    )


def unregister(state: Any) -> None:
    _kubectl(
        state, "delete", "validatingwebhookconfiguration", registration.NAME, "--ignore-not-found"
    )


def rotate(state: Any) -> Path:
    """A new CA and serving certificate, with no moment a new connection is not trusted:
    trust old + new, serve the new pair, wait until it is served, then trust only the new CA.
    Returns the new generation's folder."""
    run_dir = Path(state.run_dir)
    folder = directory(run_dir)
    old = _generations(folder)
    generation = _new_generation(folder)
    _write_bundle(run_dir, [*old, generation])
    register(state)
    # The apiserver reads registrations through an informer: give it the widened bundle before
    # the new certificate can be served (milliseconds in practice; no API says when).
    time.sleep(BUNDLE_SETTLE_S)
    _install(run_dir, _issue_serving(generation))
    net.wait_until(
        lambda: serves_cert_of(run_dir, generation / "ca.crt"),
        what="the webhook serving the rotated certificate",
        timeout=30,
    )
    _write_bundle(run_dir, [generation])
    register(state)
    return generation
