"""Shipping labels in S3: where a label's PDF lives, and storing it (boto3, in a worker thread).

Keys are `labels/<tenant_id>/<order_id>/<shipment_id>.pdf` in the bucket `meridian-fulfillment`.
Shipment ids are derived from (tenant, order, warehouse), so a retried message writes the same
key again with the same label instead of leaving an orphan behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import boto3
from aiohttp import web
from botocore.config import Config as BotoConfig

from meridian.core.runtime import app as runtime_app
from meridian.services.fulfillment.settings import Settings

if TYPE_CHECKING:  # type stubs: a dev dependency, not in the service image
    from mypy_boto3_s3 import S3Client


def key(tenant_id: uuid.UUID, order_id: uuid.UUID, shipment_id: uuid.UUID) -> str:
    return f"labels/{tenant_id}/{order_id}/{shipment_id}.pdf"


class LabelStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def put(self, key: str, body: bytes, *, metadata: dict[str, str]) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/pdf",
            Metadata=metadata,
        )

    async def ping(self) -> None:
        """Readiness: the bucket exists and our credentials reach it."""
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)


def create_client(settings: Settings) -> S3Client:
    credentials: dict[str, Any] = {}
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        credentials = {
            "aws_access_key_id": settings.s3_access_key_id.get_secret_value(),
            "aws_secret_access_key": settings.s3_secret_access_key.get_secret_value(),
        }
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        config=BotoConfig(
            connect_timeout=settings.s3_timeout_s,
            read_timeout=settings.s3_timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            # A local endpoint (moto, MinIO) is an IP and port, not a bucket-per-host DNS name.
            s3={"addressing_style": "path"} if settings.s3_endpoint else None,
        ),
        **credentials,
    )
    return client


STORE = web.AppKey("label_store", LabelStore)


def store_context(
    settings: Settings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: the label store into `app[STORE]`, the "s3" readiness check."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        client = await asyncio.to_thread(create_client, settings)
        store = LabelStore(client, settings.s3_bucket)
        app[STORE] = store
        app[runtime_app.READINESS].add("s3", store.ping)
        try:
            yield
        finally:
            client.close()

    return context
