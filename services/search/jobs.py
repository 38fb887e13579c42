"""A tenant's reindex progress, kept in Elasticsearch so every replica sees the same one.

One document per tenant in `<prefix>-reindexes` (id: the tenant id) holds the last reindex: its
state, target index, documents copied, the last SKU copied (the checkpoint a resumed run starts
after), and a heartbeat the running replica renews. Writes use optimistic concurrency
(`if_seq_no`/`if_primary_term`, or `op_type=create` for the first): of two replicas claiming the
same tenant one wins and the other answers with the winner's progress; a run whose write is
refused has been taken over and stops (`Lost`). A run whose heartbeat is older than `stale_s` was
abandoned (its process died): the API shows it as `abandoned` and the next request resumes it.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meridian.core.search import elastic

State = Literal["building", "swapping", "done", "failed", "abandoned"]
RUNNING: frozenset[str] = frozenset({"building", "swapping"})

MAPPINGS: dict[str, Any] = {"dynamic": False, "properties": {"state": {"type": "keyword"}}}


class Progress(BaseModel):
    """A tenant's last reindex, as stored and as `GET /v1/search/reindex` answers."""

    model_config = ConfigDict(extra="forbid")

    run_id: uuid.UUID
    state: State
    requested_by: str
    mapping_version: int
    source_index: str | None = Field(description="The index the alias named when the run began")
    target_index: str = Field(description="The generation being built")
    documents_copied: int = Field(default=0, description="Products copied from the catalogue")
    tombstones_carried: int = Field(
        default=0, description="Deleted products' versions carried over from the source index"
    )
    documents_in_target: int | None = Field(default=None, description="Counted before the swap")
    documents_in_source: int | None = None
    after: str = Field(
        default="", description="The last SKU copied: a resumed run goes on after it"
    )
    started_at: datetime.datetime
    heartbeat_at: datetime.datetime
    finished_at: datetime.datetime | None = None
    error: str | None = None


class Lost(Exception):
    """Another replica took the run over (our write was refused): stop, touching nothing."""


class Stored(BaseModel):
    progress: Progress
    seq_no: int
    primary_term: int


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def shown(progress: Progress, *, stale_s: float) -> Progress:
    """As the API shows it: a running state whose heartbeat stopped is `abandoned`."""
    age = (now() - progress.heartbeat_at).total_seconds()
    if progress.state in RUNNING and age > stale_s:
        return progress.model_copy(update={"state": "abandoned"})
    return progress


class Store:
    def __init__(self, client: elastic.Elastic, prefix: str) -> None:
        self.client = client
        self.index = f"{prefix}-reindexes"

    async def get(self, tenant_id: uuid.UUID) -> Stored | None:
        response = await self.client.call("GET", f"/{self.index}/_doc/{tenant_id}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise RuntimeError(f"Reading reindex progress failed: {response.body}")
        return Stored(
            progress=Progress.model_validate(response.body["_source"]),
            seq_no=response.body["_seq_no"],
            primary_term=response.body["_primary_term"],
        )

    async def put(
        self, tenant_id: uuid.UUID, progress: Progress, *, expect: Stored | None
    ) -> Stored:
        """Write if the stored document is still `expect` (None: there must be none); else `Lost`."""
        params = (
            {"op_type": "create"}
            if expect is None
            else {"if_seq_no": str(expect.seq_no), "if_primary_term": str(expect.primary_term)}
        )
        body = progress.model_dump(mode="json")
        path = f"/{self.index}/_doc/{tenant_id}"
        response = await self.client.call("PUT", path, body, params=params)
        if _missing_index(response):
            await self._create_index()
            response = await self.client.call("PUT", path, body, params=params)
        if response.status == 409:
            raise Lost(f"The reindex of tenant {tenant_id} was taken over")
        if response.status not in (200, 201):
            raise RuntimeError(f"Writing reindex progress failed: {response.body}")
        return Stored(
            progress=progress,
            seq_no=response.body["_seq_no"],
            primary_term=response.body["_primary_term"],
        )

    async def _create_index(self) -> None:
        body = {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": MAPPINGS,
        }
        response = await self.client.call("PUT", f"/{self.index}", body)
        error = response.body.get("error", {})
        if response.status != 200 and not (
            isinstance(error, dict) and error.get("type") == "resource_already_exists_exception"
        ):
            raise RuntimeError(f"Creating {self.index} failed: {response.body}")


def _missing_index(response: elastic.Response) -> bool:
    error = response.body.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"
