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

from meridian.localplatform import podenv, releases, servicekeys
from meridian.services.kit.trust import tokens

NAMESPACE = "default"
PORT = 8080
KEY_SECRET = "orders-identity"


def pod_urls(services: list[str]) -> dict[str, str]:
    """Where each service is as a pod sees it: its Service in `NAMESPACE`, on `PORT`."""
    return {name: f"http://{name}.{NAMESPACE}.svc.cluster.local:{PORT}" for name in services}


_on_real_node = releases.on_real_node


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


def service(name: str, port: int = PORT) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def _key_secret(name: str, env: podenv.PodEnvironment) -> dict[str, Any]:
    """The Secret holding the signing key a service's pod mounts at `podenv.KEY_DIR`."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {
            file: base64.b64encode(path.read_bytes()).decode()
            for file, path in env.key_files.items()
        },
    }


def orders(image: str, env: podenv.PodEnvironment, replicas: int = 2) -> list[dict[str, Any]]:
    """Orders' Secret (its signing key), Deployment and Service."""
    secret = _key_secret(KEY_SECRET, env)
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


EDGE = "meridian-gateway"
"""The Meridian gateway's Deployment and Service (`edge_gateway`); `gateway` is the JWKS stand-in."""
EDGE_PORT = 8088
"""Its port on the node: the node's namespace is shared, and CoreDNS' health check has 8080."""


def edge_gateway(
    image: str, env: podenv.PodEnvironment, apiserver_port: int
) -> list[dict[str, Any]]:
    """The Meridian gateway as a pod of the real node, reading its Gateway's HTTPRoutes.

    A pod cannot reach the apiserver through Service `kubernetes` here (the apiserver listens on
    the host's loopback and advertises it, so that Service has no endpoints), so this pod runs in
    the node's network namespace, where the node's relay forwards the apiserver's port from the
    node's loopback (the address the apiserver's certificate names); it is still a pod, with its
    ServiceAccount's token and exactly the rights to read HTTPRoutes, and resolves Services
    through the cluster DNS. `env` is the gateway's `MERIDIAN_GATEWAY_*` for a pod (`podenv`)."""
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": EDGE, "namespace": NAMESPACE},
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": EDGE},
        "rules": [
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": ["httproutes"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": EDGE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": EDGE},
        "subjects": [{"kind": "ServiceAccount", "name": EDGE, "namespace": NAMESPACE}],
    }
    in_node = {
        "MERIDIAN_GATEWAY_PORT": str(EDGE_PORT),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(apiserver_port),
    }
    container = _container(
        "gateway",
        image,
        ports=[{"name": "http", "containerPort": EDGE_PORT}],
        env=[{"name": k, "value": v} for k, v in sorted((env.env | in_node).items())],
        readinessProbe={"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2},
        resources={
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        volumeMounts=[{"name": "identity", "mountPath": podenv.KEY_DIR, "readOnly": True}],
    )
    secret = f"{EDGE}-identity"
    pod = {
        "serviceAccountName": EDGE,
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "containers": [container],
        "volumes": [{"name": "identity", "secret": {"secretName": secret, "defaultMode": 0o440}}],
    }
    return [
        account,
        role,
        binding,
        _key_secret(secret, env),
        _deployment(EDGE, 1, pod),
        service(EDGE, EDGE_PORT),
    ]
