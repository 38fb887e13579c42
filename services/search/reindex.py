"""Zero-downtime reindex of one tenant: a new index generation built from the catalogue, then the
alias swapped atomically.

Steps (`Progress.state`): `building`: create the next generation (`indices.concrete`) with the
building alias (`generations`), so from then on the indexer writes every event to it as well;
copy the catalogue from inventory page by page (external versions: a copied document never
overwrites a newer one an event already wrote, nor the reverse); carry deleted products'
tombstones over from the current index (their versions keep a late, older upsert out); refresh,
and verify the new index holds at least every product copied. `swapping`: one `_aliases` request
removes the alias from the old index, adds it (as write index) to the new one and drops the
building alias, so a search sees the old, complete index or the new, complete one, never
neither; after `grace_s` (searches already running on the old index finish) the old index is
deleted. A mapping change (`mapping.VERSION`) ships as exactly this run.

Killed midway, the alias still names a complete index (it moves only after verification) and the
stopped heartbeat marks the run abandoned (`jobs`); the next request resumes it after its last
copied SKU, or only finishes the clean-up if the swap had happened. A run that fails deletes the
half-built index, so writes to it stop and the next run starts clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from meridian.core.runtime import logging as meridian_logging
from meridian.core.search import elastic, indices, mapping
from meridian.services.search import catalogue, documents, generations, jobs

log = meridian_logging.get_logger("meridian.services.search.reindex")

COPY_ATTEMPTS = 10


class NotConfigured(Exception):
    """This replica cannot read the catalogue (no inventory URL or signing key)."""


class Unverified(Exception):
    """The new index holds fewer documents than were copied: the alias stays where it is."""


class Job:
    """One run's stored progress; every write goes through here, one at a time."""

    def __init__(self, store: jobs.Store, tenant_id: uuid.UUID, stored: jobs.Stored) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.stored = stored
        self.lock = asyncio.Lock()

    @property
    def progress(self) -> jobs.Progress:
        return self.stored.progress

    async def save(self, **changes: Any) -> None:
        async with self.lock:
            progress = self.stored.progress.model_copy(
                update={**changes, "heartbeat_at": jobs.now()}
            )
            self.stored = await self.store.put(self.tenant_id, progress, expect=self.stored)


class Reindexer:
    def __init__(
        self,
        client: elastic.Elastic,
        prefix: str,
        source: catalogue.Catalogue | None,
        *,
        page_size: int,
        grace_s: float,
        heartbeat_s: float,
        stale_s: float,
        retry_s: float,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.source = source
        self.store = jobs.Store(client, prefix)
        self.page_size = page_size
        self.grace_s = grace_s
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.retry_s = retry_s
        self.tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def status(self, tenant_id: uuid.UUID) -> jobs.Progress | None:
        stored = await self.store.get(tenant_id)
        return None if stored is None else jobs.shown(stored.progress, stale_s=self.stale_s)

    async def start(self, tenant_id: uuid.UUID, requested_by: str) -> jobs.Progress:
        """Starts a run, resumes an abandoned one, or answers the one running (anywhere)."""
        if self.source is None:
            raise NotConfigured("Reindex needs inventory_url and identity_signing_key_file")
        stored = await self.store.get(tenant_id)
        if stored is not None and stored.progress.state in jobs.RUNNING:
            shown = jobs.shown(stored.progress, stale_s=self.stale_s)
            running_here = tenant_id in self.tasks
            if shown.state != "abandoned" or running_here:
                return shown
        alias = indices.alias(self.prefix, tenant_id)
        await indices.ensure(self.client, self.prefix, tenant_id)
        current = await generations.named_by(self.client, alias)
        if current is None:
            raise RuntimeError(f"Alias {alias} vanished")
        resumable = (
            stored is not None
            and stored.progress.state in jobs.RUNNING
            and stored.progress.mapping_version == mapping.VERSION
        )
        now = jobs.now()
        if resumable and stored is not None:
            progress = stored.progress.model_copy(
                update={"heartbeat_at": now, "requested_by": requested_by, "error": None}
            )
            log.info("Reindex resumed", tenant=str(tenant_id), after=progress.after)
        else:
            if stored is not None and stored.progress.state in jobs.RUNNING:
                await self._drop(stored.progress.target_index, alias)  # other mapping version
            progress = jobs.Progress(
                run_id=uuid.uuid4(),
                state="building",
                requested_by=requested_by,
                mapping_version=mapping.VERSION,
                source_index=current,
                target_index=indices.concrete(
                    self.prefix, tenant_id, generations.generation_of(current) + 1
                ),
                started_at=now,
                heartbeat_at=now,
            )
        try:
            claimed = await self.store.put(tenant_id, progress, expect=stored)
        except jobs.Lost:  # another replica claimed it first: answer with its run
            again = await self.store.get(tenant_id)
            if again is None:
                raise
            return jobs.shown(again.progress, stale_s=self.stale_s)
        job = Job(self.store, tenant_id, claimed)
        self.tasks[tenant_id] = asyncio.create_task(
            self._run(job), name=f"search-reindex-{tenant_id}"
        )
        return claimed.progress

    async def stop(self) -> None:
        """Shutdown: runs stop where they are (abandoned, resumable), like a killed process."""
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, job: Job) -> None:
        try:
            async with self._heartbeat(job):
                await self._steps(job)
            log.info(
                "Reindex finished",
                tenant=str(job.tenant_id),
                index=job.progress.target_index,
                copied=job.progress.documents_copied,
            )
        except jobs.Lost:
            log.warning("Reindex taken over by another replica", tenant=str(job.tenant_id))
        except Exception as error:
            log.error("Reindex failed", exc_info=error, tenant=str(job.tenant_id))
            await self._fail(job, error)
        finally:
            if self.tasks.get(job.tenant_id) is asyncio.current_task():
                del self.tasks[job.tenant_id]

    @contextlib.asynccontextmanager
    async def _heartbeat(self, job: Job) -> AsyncIterator[None]:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_s)
                await job.save()

        task = asyncio.create_task(beat(), name=f"search-reindex-heartbeat-{job.tenant_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, jobs.Lost):
                await task

    async def _steps(self, job: Job) -> None:
        assert self.source is not None
        progress = job.progress
        alias = indices.alias(self.prefix, job.tenant_id)
        source, target = progress.source_index, progress.target_index
        if progress.state == "building":
            copied, after = progress.documents_copied, progress.after
            if await self._create(target, generations.building(alias)):
                copied, after = 0, ""  # a resumed run whose index is gone copies it all again
            async for page in self.source.pages(
                job.tenant_id, after=after, requested_by=progress.requested_by, size=self.page_size
            ):
                await self._copy(target, [_line(job.tenant_id, target, p) for p in page])
                copied, after = copied + len(page), page[-1].sku
                await job.save(documents_copied=copied, after=after)
            carried = await self._carry_tombstones(source, target) if source != target else 0
            await self._checked("POST", f"/{target}/_refresh")
            in_target = await self._count(target)
            in_source = await self._count(source) if source else None
            if in_target < copied:
                raise Unverified(f"{target} holds {in_target} documents, {copied} were copied")
            await job.save(
                state="swapping",
                tombstones_carried=carried,
                documents_in_target=in_target,
                documents_in_source=in_source,
            )
        if await generations.named_by(self.client, alias) != target:
            await self._swap(alias, source, target)
        if source is not None and source != target:
            await asyncio.sleep(self.grace_s)
            await self._delete(source)
        await job.save(state="done", finished_at=jobs.now())

    async def _create(self, target: str, building_alias: str) -> bool:
        """The new generation with its building alias; False when it was already there."""
        body = indices.body(None)
        body["aliases"] = {building_alias: {}}
        response = await self.client.call("PUT", f"/{target}", body)
        if response.status == 200:
            return True
        error = response.body.get("error", {})
        if not (
            isinstance(error, dict) and error.get("type") == "resource_already_exists_exception"
        ):
            raise RuntimeError(f"Creating {target} failed: {response.body}")
        # Resumed: the index is there; make sure events still reach it.
        actions = [{"add": {"index": target, "alias": building_alias}}]
        await self._checked("POST", "/_aliases", {"actions": actions})
        return False

    async def _copy(
        self, target: str, lines: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        """One bulk; items refused for load are sent again, anything else refused fails the run."""
        pending = list(lines)
        for _attempt in range(COPY_ATTEMPTS):
            if not pending:
                return
            try:
                response = await self.client.bulk([part for line in pending for part in line])
            except elastic.Unavailable as error:
                log.warning("Reindex waits for Elasticsearch", error=str(error), index=target)
                await asyncio.sleep(self.retry_s)
                continue
            if response.status != 200:
                raise RuntimeError(f"_bulk into {target} answered {response.status}")
            again = []
            for line, item in zip(pending, response.body["items"], strict=True):
                result = item["index"]
                refusal = result.get("error") or {}
                kind = refusal.get("type") if isinstance(refusal, dict) else None
                if result["status"] in (200, 201) or kind == "version_conflict_engine_exception":
                    continue
                if result["status"] >= 500 or result["status"] == 429:
                    again.append(line)
                    continue
                raise RuntimeError(f"{target} refused {line[0]['index']['_id']}: {refusal}")
            pending = again
            if pending:
                await asyncio.sleep(self.retry_s)
        if pending:
            raise RuntimeError(f"{len(pending)} documents not written to {target}")

    async def _carry_tombstones(self, source: str | None, target: str) -> int:
        """Deleted products, as the current index knows them, into the new one."""
        if source is None:
            return 0
        carried = 0
        search_after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"term": {"deleted": True}},
                "sort": [{"sku": "asc"}],
                "size": self.page_size,
                "version": True,
            }
            if search_after is not None:
                body["search_after"] = search_after
            hits = (await self._checked("POST", f"/{source}/_search", body))["hits"]["hits"]
            if not hits:
                return carried
            lines = [
                (
                    {
                        "index": {
                            "_index": target,
                            "_id": hit["_id"],
                            "version": hit["_version"],
                            "version_type": "external",
                        }
                    },
                    hit["_source"],
                )
                for hit in hits
            ]
            await self._copy(target, lines)
            carried += len(hits)
            search_after = hits[-1]["sort"]

    async def _swap(self, alias: str, source: str | None, target: str) -> None:
        actions: list[dict[str, Any]] = [
            {"add": {"index": target, "alias": alias, "is_write_index": True}},
            {"remove": {"index": target, "alias": generations.building(alias)}},
        ]
        if source is not None and source != target:
            actions.insert(0, {"remove": {"index": source, "alias": alias}})
        await self._checked("POST", "/_aliases", {"actions": actions})
        log.info("Alias swapped", alias=alias, source=source, target=target)

    async def _count(self, index: str) -> int:
        return int((await self._checked("GET", f"/{index}/_count"))["count"])

    async def _delete(self, index: str) -> None:
        response = await self.client.call("DELETE", f"/{index}")
        if response.status not in (200, 404):
            raise RuntimeError(f"Deleting {index} failed: {response.body}")

    async def _drop(self, target: str, alias: str) -> None:
        """Deletes a half-built index, unless the alias already names it."""
        if await generations.named_by(self.client, alias) != target:
            await self._delete(target)

    async def _fail(self, job: Job, error: Exception) -> None:
        alias = indices.alias(self.prefix, job.tenant_id)
        with contextlib.suppress(Exception):
            await self._drop(job.progress.target_index, alias)
        with contextlib.suppress(Exception):
            await job.save(state="failed", error=f"{type(error).__name__}: {error}"[:500])

    async def _checked(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.client.call(method, path, body)
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}: {response.body}")
        return response.body


def _line(
    tenant_id: uuid.UUID, target: str, product: catalogue.StoredProduct
) -> tuple[dict[str, Any], dict[str, Any]]:
    meta: dict[str, Any] = {
        "_index": target,
        "_id": product.sku,
        "version": product.version,
        "version_type": "external",
    }
    return {"index": meta}, documents.upserted(catalogue.upserted(tenant_id, product))
