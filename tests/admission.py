"""Helpers for the admission tests: kubectl with its warnings, manifests of compliant objects, and
the webhook started and registered on the session's platform."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from prometheus_client.parser import text_string_to_metric_families

from meridian.core.policy import catalogue
from meridian.localplatform import admission, platform, processes

IMAGE = "ghcr.io/meridian/orders:1.0.0"
EXAMPLES = Path(__file__).resolve().parent.parent / "crds" / "examples"
T = TypeVar("T")


class Applied(NamedTuple):
    ok: bool
    stdout: str
    stderr: str  # kubectl prints admission warnings here ("Warning: ...")


def kubectl(state: platform.PlatformState, *args: str, stdin: str | None = None) -> Applied:
    result = subprocess.run(
        [str(Path(state.bin_dir) / "kubectl"), f"--kubeconfig={state.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return Applied(result.returncode == 0, result.stdout, result.stderr)


def apply(
    state: platform.PlatformState, *objects: dict[str, Any], dry_run: bool = False
) -> Applied:
    args = ["apply", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    return kubectl(state, *args, stdin=yaml.safe_dump_all(objects))


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def network_policy(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def _container() -> dict[str, Any]:
    return {
        "name": "app",
        "image": IMAGE,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "privileged": False},
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
    }


def pod(ns: str, name: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [_container()]},
    }


def deployment(ns: str, name: str = "app", replicas: int = 3) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [_container()]}},
        },
    }


def pdb(ns: str, name: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}},
    }


def set_modes(state: platform.PlatformState, modes: dict[str, str]) -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": catalogue.MODES_CONFIGMAP, "namespace": catalogue.MODES_NAMESPACE},
        "data": modes,
    }
    objects = [namespace(catalogue.MODES_NAMESPACE), configmap]
    result = kubectl(
        state,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )
    assert result.ok, result.stderr


def running_webhook(state: platform.PlatformState) -> Iterator[str]:
    """The webhook started and registered for a test module; unregistered and stopped after, so
    the rest of the session's tests never meet it."""
    url = platform.start_webhooks(state)
    try:
        yield url
    finally:
        admission.unregister(state)
        processes.Supervisor(Path(state.run_dir)).stop(admission.PROCESS)


def poll(check: Callable[[], T | None], *, what: str, within: float = 30.0) -> T:
    """The first non-None result of `check()`, or fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.5)


def example(name: str) -> dict[str, Any]:
    """The first document of crds/examples/<name>.yaml."""
    return next(yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text()))


def webhook_metric(state: platform.PlatformState, url: str, name: str, **labels: str) -> float:
    """A sample of the webhook's /metrics (over its TLS, trusting its CA bundle); 0 when absent."""
    context = ssl.create_default_context(cadata=admission.bundle(Path(state.run_dir)).decode())
    with urllib.request.urlopen(f"{url}/metrics", timeout=10, context=context) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
