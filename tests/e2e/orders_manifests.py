"""The objects that run orders on a real node as a release would: its Deployment and Service, its
signing key as a Secret, and a stand-in for the gateway that serves the gateway's JWKS.

Pure renderers for `test_service_images`; the ServiceRelease operator will render its own. Orders
trusts tokens of `meridian-gateway`, whose JWKS URL must be reachable from the pod: the gateway
runs on the host (or not at all), so a pod behind Service `gateway` publishes the platform's
gateway key, and the test signs as the gateway with it (`tests.issuer.as_gateway`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from meridian.localplatform import nodeconfig, podenv, servicekeys
from meridian.services.kit.trust import tokens

NAMESPACE = "default"
PORT = 8080
UID = 10001  # the image's USER (`imagespec.USER`)
KEY_SECRET = "orders-identity"


def pod_urls(services: list[str]) -> dict[str, str]:
    """Where each service is as a pod sees it: its Service in `NAMESPACE`, on `PORT`."""
    return {name: f"http://{name}.{NAMESPACE}.svc.cluster.local:{PORT}" for name in services}


def _on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeSelector": {nodeconfig.TAINT_KEY: "true"},
        "tolerations": [{**nodeconfig.TAINT, "operator": "Equal"}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,  # the Secret's files are group-readable by the service
        },
        "terminationGracePeriodSeconds": 10,
        **spec,
    }


def _container(name: str, image: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "ports": [{"name": "http", "containerPort": PORT}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        **fields,
    }


def _deployment(name: str, replicas: int, pod: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _on_real_node(pod)},
        },
    }


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        },
    }


def orders(image: str, env: podenv.PodEnvironment, replicas: int = 2) -> list[dict[str, Any]]:
    """Orders' Secret (its signing key), Deployment and Service."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KEY_SECRET, "namespace": NAMESPACE},
        "data": {
            name: base64.b64encode(path.read_bytes()).decode()
            for name, path in env.key_files.items()
        },
    }
    container = _container(
        "orders",
        image,
        env=[{"name": key, "value": value} for key, value in sorted(env.env.items())],
        readinessProbe={"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2},
        livenessProbe={
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        resources={
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "384Mi"},
        },
        volumeMounts=[{"name": "identity", "mountPath": podenv.KEY_DIR, "readOnly": True}],
    )
    pod = {
        "containers": [container],
        "volumes": [
            {"name": "identity", "secret": {"secretName": KEY_SECRET, "defaultMode": 0o440}}
        ],
    }
    return [secret, _deployment("orders", replicas, pod), service("orders")]


def gateway_jwks(image: str, run_dir: Path) -> list[dict[str, Any]]:
    """Service `gateway`: one pod of `image` (it has python3) serving the gateway key's JWKS."""
    key = tokens.load_private_keys(servicekeys.key_file(run_dir, servicekeys.GATEWAY))[0]
    public = key.public_key()
    jwks = {"keys": [tokens.public_jwk(public, tokens.thumbprint(public))]}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gateway-jwks", "namespace": NAMESPACE},
        "data": {"jwks.json": json.dumps(jwks)},
    }
    jwks_path = servicekeys.JWKS_PATH
    container = _container(
        "jwks",
        image,
        command=["python3", "-m", "http.server", str(PORT), "-d", "/srv"],
        readinessProbe={"httpGet": {"path": jwks_path, "port": "http"}, "periodSeconds": 1},
        resources={"limits": {"cpu": "100m", "memory": "64Mi"}},
        volumeMounts=[{"name": "jwks", "mountPath": "/srv/.well-known", "readOnly": True}],
    )
    pod = {
        "containers": [container],
        "volumes": [{"name": "jwks", "configMap": {"name": "gateway-jwks"}}],
    }
    return [config, _deployment("gateway", 1, pod), service("gateway")]


def client(image: str) -> dict[str, Any]:
    """An idle pod of `image` to call the others from."""
    container = _container(
        "client",
        image,
        command=["python3", "-c", "import time; time.sleep(3600)"],
        resources={"limits": {"cpu": "200m", "memory": "64Mi"}},
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orders-client", "namespace": NAMESPACE},
        "spec": _on_real_node({"containers": [container]}),
    }
