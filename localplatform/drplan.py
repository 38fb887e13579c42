"""What a FailoverPlan needs on the local platform, and a plan that uses it.

With the DR cluster and the streaming standby up (`meridian dev up --dr --pg-standby`, i.e.
`make up DR=1`): a Route53 hosted zone and record on moto's server (the S3 store answers
Route53 too), the plan's Secrets in the prod cluster (the DR cluster's kubeconfig, a DSN for
the primary and one for the standby), and the services it moves as Deployments on kwok's nodes
in both clusters (prod scaled up, DR at 0). `plan()` renders a plan against all of it, since
ports are chosen at start and a static example could not name them.

Where the DR cluster has a real node (`make up DR=1 REAL_NODE=1`) and the images are on it, DR's
services are real pods of their images (`real_services`), configured as the pipeline's pods are
(`pipeline.environment`, rewritten by `podenv`). Orders reads its DSN from the services' database
Secret: the one a run repoints. Before a run it names the prod primary, as a copy of prod's
settings would; the standby's credentials Secret carries the DSN the pods dial once it is
promoted (`servicesDsn`: the operator itself dials the host's loopback port). Inventory's database
is not the one the plan moves, but it lives on the same server (physical replication copies every
database), so DR's inventory is configured with the DR server's address outright, as a DR copy of
its settings would be: it runs only after a run promoted that server (it is at 0 before). The
plan's checks hit each service's `/readyz` (which pings its database) through a relay on the
host's loopback into the DR node (`nodenet.relay_service`), so the operator verifies the real pods.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from meridian.localplatform import (
    kubecluster,
    net,
    nodenet,
    pipeline,
    platform,
    podenv,
    realnode,
    releases,
    s3_server,
)
from meridian.localplatform.platform import PlatformState
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import resources

ZONE = "meridian.local"
RECORD = "api.meridian.local"
SOURCE_VALUE = "api-prod.meridian.local"
TARGET_VALUE = "api-dr.meridian.local"
NAMESPACE = "meridian-system"
SERVICES_NAMESPACE = "meridian-prod"
SERVICES = ("orders", "inventory")
DATABASE = "meridian_orders"
DR_KUBECONFIG_SECRET = "local-dr-kubeconfig"
PRIMARY_SECRET = "local-pg-primary"
AGENT_SECRET = "local-pg-agent"
"""The instance agents' bearer token (one for both servers locally), key `token`."""
STANDBY_SECRET = "local-pg-standby"
DATABASE_SECRET = "meridian-database"
PLAN_NAME = "local-prod-to-dr"
REAL = ("orders", "inventory")
"""The services DR runs as real pods when it can (all of `SERVICES`)."""
MOVED = "orders"
"""The service whose database the plan moves: its DSN is the services' database Secret's."""
PORT = 8080


def route53(state: PlatformState) -> Any:
    return boto3.client(
        "route53",
        endpoint_url=state.s3_endpoint,
        region_name=s3_server.REGION,
        aws_access_key_id=s3_server.ACCESS_KEY,
        aws_secret_access_key=s3_server.SECRET_KEY,
    )


def ensure_zone(state: PlatformState) -> str:
    """The hosted zone (created once) with the record pointing at prod; returns the zone id."""
    client = route53(state)
    zones = client.list_hosted_zones_by_name(DNSName=f"{ZONE}.")["HostedZones"]
    found = [z["Id"] for z in zones if z["Name"] == f"{ZONE}."]
    if found:
        return str(found[0])
    zone_id = str(client.create_hosted_zone(Name=ZONE, CallerReference=ZONE)["HostedZone"]["Id"])
    record = {
        "Name": RECORD,
        "Type": "CNAME",
        "TTL": 60,
        "ResourceRecords": [{"Value": SOURCE_VALUE}],
    }
    client.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )
    return zone_id


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """As `data`, not `stringData`: a key left out of a later apply is then removed."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "meridian"}


def _deployment(name: str, replicas: int, pod: dict[str, Any]) -> dict[str, Any]:
    """Either kind of Deployment: the same selector, so a later apply swaps only the template."""
    labels = _labels(name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": SERVICES_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def deployment(name: str, replicas: int) -> dict[str, Any]:
    """A service's Deployment for kwok's nodes (kwok reports its pods Running and Ready)."""
    container = {
        "name": name,
        "image": f"ghcr.io/meridian/{name}:local",
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
    }
    return _deployment(
        name, replicas, {"nodeSelector": {"type": "kwok"}, "containers": [container]}
    )


def pod_urls() -> dict[str, str]:
    """Where each pipeline service is as a pod of the services' namespace sees it."""
    return {
        service.name: f"http://{service.name}.{SERVICES_NAMESPACE}.svc.cluster.local:{PORT}"
        for service in pipeline.SERVICES
    }


def real_environment(state: PlatformState, name: str = MOVED) -> podenv.PodEnvironment:
    """Service `name`'s settings as the pipeline gives its host process, rewritten for a pod;
    a service other than `MOVED` dials its database on the DR server (the standby)."""
    service = next(s for s in pipeline.SERVICES if s.name == name)
    where = pipeline.Where(state, pod_urls(), carrier_url="")
    env = pipeline.environment(service, where)
    dsn_variable = f"MERIDIAN_{name.upper()}_PG_DSN"
    if name != MOVED and service.database is not None:
        env[dsn_variable] = state.postgres_info.dsn(service.database, standby=True)
    return podenv.in_cluster(env, platform.datastore_ports(state))


def real_deployment(
    name: str, replicas: int, image: str, env: podenv.PodEnvironment
) -> dict[str, Any]:
    """Service `name` as real pods of `image` on the real node, with `env`; `MOVED`'s DSN comes
    from the services' database Secret instead (read at start: the run rolls them when it moves)."""
    dsn_variable = f"MERIDIAN_{name.upper()}_PG_DSN"
    variables: list[dict[str, Any]] = [
        {"name": key, "value": value}
        for key, value in sorted(env.env.items())
        if key != dsn_variable or name != MOVED
    ]
    if name == MOVED:
        secret_dsn = {"secretKeyRef": {"name": DATABASE_SECRET, "key": "dsn"}}
        variables.append({"name": dsn_variable, "valueFrom": secret_dsn})
    container = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": variables,
        # The release operator's probes (`resources`): liveness only once the process listens.
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 2,
            "timeoutSeconds": resources.STARTUP_PROBE_TIMEOUT_S,
        },
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 2,
            "timeoutSeconds": resources.STARTUP_PROBE_TIMEOUT_S,
            "failureThreshold": resources.STARTUP_S // 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": resources.LIVENESS_TIMEOUT_S,
            "failureThreshold": 3,
        },
        "resources": releases.RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    pod = releases.on_real_node({"containers": [container]})
    if env.key_files:  # a service that signs (orders): its key, as `releases.identity` names it
        secret = resources.identity_secret(name)
        container["volumeMounts"] = [
            {"name": "identity", "mountPath": podenv.KEY_DIR, "readOnly": True}
        ]
        pod["volumes"] = [
            {"name": "identity", "secret": {"secretName": secret, "defaultMode": 0o440}}
        ]
    return _deployment(name, replicas, pod)


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": SERVICES_NAMESPACE},
        "spec": {
            "selector": _labels(name),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        },
    }


def real_services(
    state: PlatformState, images: Mapping[str, str], replicas: int
) -> list[dict[str, Any]]:
    """DR's services as real pods: each one's key Secret (if it signs), Deployment and Service."""
    objects: list[dict[str, Any]] = []
    for name in REAL:
        env = real_environment(state, name)
        if env.key_files:
            objects.append(releases.identity(name, SERVICES_NAMESPACE, env))
        objects += [real_deployment(name, replicas, images[name], env), service(name)]
    return objects


def check_name(name: str) -> str:
    return f"dr-{name}-ready"


def checks(urls: Mapping[str, str]) -> list[dict[str, Any]]:
    """The plan's verification of DR's real services: each one's `/readyz` through the host's
    relay (`urls`: service -> URL base)."""
    return [
        {"name": check_name(name), "url": f"{url}/readyz", "timeoutSeconds": 60}
        for name, url in sorted(urls.items())
    ]


def disruption_budget(name: str) -> dict[str, Any]:
    """Applied before its Deployment: the admission webhook refuses replicas > 1 without one."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": SERVICES_NAMESPACE},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        },
    }


def _apply(state: PlatformState, cluster: str, items: list[dict[str, Any]]) -> None:
    kubeconfig = str(state.clusters[cluster]["kubeconfig"])
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    kubecluster.kubectl(Path(state.bin_dir), kubeconfig, "apply", "-f", "-", stdin=body)


def prepare(state: PlatformState, images: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Zone, Secrets and Deployments; idempotent (a second `up` changes nothing). With `images`
    (service -> image of `REAL`, imported into the DR cluster's real node) DR's services are real
    pods, and the URL base the host reaches each at is returned; without, all is on kwok (None)."""
    ensure_zone(state)
    info = state.postgres_info
    dr_kubeconfig = Path(str(state.clusters["dr"]["kubeconfig"])).read_text()
    standby = {"dsn": info.dsn(DATABASE, standby=True)}
    dr_database = info.dsn(DATABASE, standby=True)
    if images is not None:
        ports = platform.datastore_ports(state)
        standby["servicesDsn"] = podenv.rewritten(info.dsn(DATABASE, standby=True), ports)
        dr_database = podenv.rewritten(info.dsn(DATABASE), ports)  # prod's, until a run
    _apply(
        state,
        "primary",
        [
            _namespace(NAMESPACE),
            _namespace(SERVICES_NAMESPACE),
            _secret(DR_KUBECONFIG_SECRET, NAMESPACE, {"kubeconfig": dr_kubeconfig}),
            _secret(PRIMARY_SECRET, NAMESPACE, {"dsn": info.dsn(DATABASE)}),
            _secret(STANDBY_SECRET, NAMESPACE, standby),
            *(
                [_secret(AGENT_SECRET, NAMESPACE, {"token": info.agent_token})]
                if info.agent_token
                else []
            ),
            _secret(DATABASE_SECRET, SERVICES_NAMESPACE, {"dsn": info.dsn(DATABASE)}),
            *(disruption_budget(name) for name in SERVICES),
            *(deployment(name, 2) for name in SERVICES),
        ],
    )
    _apply(
        state,
        "dr",
        [
            _namespace(SERVICES_NAMESPACE),
            _secret(DATABASE_SECRET, SERVICES_NAMESPACE, {"dsn": dr_database}),
            *(disruption_budget(name) for name in SERVICES),
            *(deployment(name, 0) for name in SERVICES if images is None or name not in REAL),
            *(real_services(state, images, 0) if images is not None else []),
        ],
    )
    if images is None:
        return None
    return _relay(state)


def _relay(state: PlatformState) -> dict[str, str]:
    """The host's loopback relayed to each of DR's real Services (sticky ports: `up` again keeps
    them)."""
    run_dir = Path(state.run_dir)
    sandbox = realnode.sandbox_of(run_dir, "dr")
    bins, kubeconfig = Path(state.bin_dir), str(state.clusters["dr"]["kubeconfig"])
    ports = net.sticky_ports(run_dir / "drplan.ports", len(REAL))
    routes = [
        (port, nodenet.cluster_ip(bins, kubeconfig, SERVICES_NAMESPACE, name), PORT)
        for port, name in zip(ports, REAL, strict=True)
    ]
    urls = nodenet.relay_service(Supervisor(run_dir), sandbox, routes)
    return dict(zip(REAL, urls, strict=True))


def _agent(url: str | None) -> dict[str, Any]:
    if not url:
        return {}
    return {"agent": {"url": url, "tokenSecret": {"name": AGENT_SECRET, "key": "token"}}}


def plan(
    name: str = PLAN_NAME,
    *,
    checks: list[dict[str, Any]] | None = None,
    agents: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A FailoverPlan from the prod cluster (the operator's own) to the DR cluster; `agents`
    (the primary's and the standby's instance agent URLs) let a failback re-seed the old primary."""
    primary_agent, standby_agent = agents or (None, None)
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "FailoverPlan",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "sourceCluster": {"name": "prod", "region": "us-east-1"},
            "targetCluster": {
                "name": "dr",
                "region": "eu-west-1",
                "kubeconfigSecret": DR_KUBECONFIG_SECRET,
            },
            "database": {
                "primary": {
                    "host": "postgres-primary",
                    "database": DATABASE,
                    "credentialsSecret": PRIMARY_SECRET,
                    **_agent(primary_agent),
                },
                "replica": {
                    "host": "postgres-standby",
                    "database": DATABASE,
                    "credentialsSecret": STANDBY_SECRET,
                    **_agent(standby_agent),
                },
            },
            "dns": {
                "zone": ZONE,
                "record": RECORD,
                "sourceValue": SOURCE_VALUE,
                "targetValue": TARGET_VALUE,
                "ttlSeconds": 60,
            },
            "services": {
                "namespace": SERVICES_NAMESPACE,
                "names": list(SERVICES),
                "replicas": 2,
                "databaseSecret": {"name": DATABASE_SECRET, "key": "dsn"},
            },
            "verification": checks or [],
            "lagBudgetSeconds": 60,
        },
    }


def apply(state: PlatformState, images: Mapping[str, str] | None = None) -> str:
    """`prepare`, then the plan, also written to the run directory for `kubectl apply -f`;
    with `images` (see `prepare`) its checks are DR's real pods' `/readyz`."""
    urls = prepare(state, images)
    path = Path(state.run_dir) / "failoverplan-local.yaml"
    info = state.postgres_info
    agents = (info.agent_url(), info.agent_url(standby=True)) if info.agent_token else None
    verification = checks(urls) if urls else None
    path.write_text(json.dumps(plan(agents=agents, checks=verification), indent=2))
    return kubecluster.kubectl(Path(state.bin_dir), state.kubeconfig, "apply", "-f", str(path))
