"""What a FailoverPlan needs on the local platform, and a plan that uses it.

With the DR cluster and the streaming standby up (`meridian dev up --dr --pg-standby`, i.e.
`make up DR=1`): a Route53 hosted zone and record on moto's server (the S3 store answers
Route53 too), the plan's Secrets in the prod cluster (the DR cluster's kubeconfig, a DSN for
the primary and one for the standby), and the services it moves as Deployments on kwok's nodes
in both clusters (prod scaled up, DR at 0). `plan()` renders a plan against all of it, since
ports are chosen at start and a static example could not name them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from meridian.localplatform import kubecluster, s3_server
from meridian.localplatform.platform import PlatformState

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
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    """A service's Deployment for kwok's nodes (kwok reports its pods Running and Ready)."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "meridian"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": SERVICES_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "containers": [
                        {
                            "name": name,
                            "image": f"ghcr.io/meridian/{name}:local",
                            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ],
                },
            },
        },
    }


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


def prepare(state: PlatformState) -> None:
    """Zone, Secrets and Deployments; idempotent (a second `up` changes nothing)."""
    ensure_zone(state)
    info = state.postgres_info
    dr_kubeconfig = Path(str(state.clusters["dr"]["kubeconfig"])).read_text()
    _apply(
        state,
        "primary",
        [
            _namespace(NAMESPACE),
            _namespace(SERVICES_NAMESPACE),
            _secret(DR_KUBECONFIG_SECRET, NAMESPACE, {"kubeconfig": dr_kubeconfig}),
            _secret(PRIMARY_SECRET, NAMESPACE, {"dsn": info.dsn(DATABASE)}),
            _secret(STANDBY_SECRET, NAMESPACE, {"dsn": info.dsn(DATABASE, standby=True)}),
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
            _secret(DATABASE_SECRET, SERVICES_NAMESPACE, {"dsn": info.dsn(DATABASE, standby=True)}),
            *(disruption_budget(name) for name in SERVICES),
            *(deployment(name, 0) for name in SERVICES),
        ],
    )


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


def apply(state: PlatformState) -> str:
    """`prepare`, then the plan, also written to the run directory for `kubectl apply -f`."""
    prepare(state)
    path = Path(state.run_dir) / "failoverplan-local.yaml"
    info = state.postgres_info
    agents = (info.agent_url(), info.agent_url(standby=True)) if info.agent_token else None
    path.write_text(json.dumps(plan(agents=agents), indent=2))
    return kubecluster.kubectl(Path(state.bin_dir), state.kubeconfig, "apply", "-f", str(path))
