"""The plan's DNS record in Route53, through boto3 (moto's server locally).

boto3 is blocking; each call runs in a thread with the operator's timeout. A switch is an UPSERT
of one record, made only after reading the record's current value, so a resumed run that finds
the target value already there records the switch instead of making it again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover.settings import FailoverPlanSettings


class ZoneMissing(Exception):
    pass


class Route53:
    def __init__(self, settings: FailoverPlanSettings) -> None:
        secret = settings.aws_secret_access_key
        self._client: Any = boto3.client(
            "route53",
            endpoint_url=settings.route53_endpoint,
            region_name=settings.aws_region,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                connect_timeout=settings.dependency_timeout_s,
                read_timeout=settings.dependency_timeout_s,
                retries={"max_attempts": 2},
            ),
        )

    async def zone_id(self, zone: str) -> str:
        def find() -> str:
            name = zone.rstrip(".") + "."
            found = self._client.list_hosted_zones_by_name(DNSName=name, MaxItems="1")
            for hosted in found["HostedZones"]:
                if hosted["Name"] == name:
                    return str(hosted["Id"])
            raise ZoneMissing(f"Route53 hosted zone {zone} not found")

        return await asyncio.to_thread(find)

    async def current_value(self, dns: api_types.DnsRecord) -> str | None:
        zone_id = await self.zone_id(dns.zone)
        name = dns.record.rstrip(".") + "."

        def read() -> str | None:
            found = self._client.list_resource_record_sets(
                HostedZoneId=zone_id, StartRecordName=name, StartRecordType=dns.type, MaxItems="1"
            )
            for record in found["ResourceRecordSets"]:
                if record["Name"] == name and record["Type"] == dns.type:
                    values = [r["Value"] for r in record.get("ResourceRecords", [])]
                    return str(values[0]).rstrip(".") if values else None
            return None

        return await asyncio.to_thread(read)

    async def upsert(self, dns: api_types.DnsRecord, value: str) -> str:
        """Point the record at `value`; return Route53's change id."""
        zone_id = await self.zone_id(dns.zone)
        change = {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": dns.record,
                "Type": dns.type,
                "TTL": dns.ttl_seconds,
                "ResourceRecords": [{"Value": value}],
            },
        }

        def write() -> str:
            answer = self._client.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "meridian failover", "Changes": [change]},
            )
            return str(answer["ChangeInfo"]["Id"])

        return await asyncio.to_thread(write)
