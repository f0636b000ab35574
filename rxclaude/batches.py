"""The Message Batches API: ``client.messages.batches`` (half-price, asynchronous, up to 24 h).

Example::

    async with rxclaude.Client() as client:
        batch = await client.messages.batches.create([
            {"custom_id": "q1", "params": {"model": m, "max_tokens": 256, "messages": msgs}},
        ])
        batch = await client.messages.batches.wait(batch.id)          # polls until ended
        client.messages.batches.results(batch.id).subscribe(print)    # BatchResult values

Endpoints (first-party API only): ``POST /v1/messages/batches``, ``GET /v1/messages/batches``
(``limit``, ``after_id``, ``before_id``), ``GET /v1/messages/batches/{id}``, ``POST
/v1/messages/batches/{id}/cancel``, ``DELETE /v1/messages/batches/{id}`` (only once ended), and
the results JSONL at the batch's ``results_url`` (``Accept: application/binary``), read as it
arrives: memory stays bounded by one line however many results there are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from reactivex import Observable, abc

from rxclaude.core.batch import BatchDeleted, BatchPage, BatchResult, JSONLinesDecoder, MessageBatch
from rxclaude.core.errors import RxClaudeError
from rxclaude.plumbing import DirectObservable, Once
from rxclaude.transport import rest

__all__ = ["MAX_BATCH_REQUESTS", "BatchNotEndedError", "Batches"]

#: Most requests one batch may hold (and 256 MB in all).
MAX_BATCH_REQUESTS = 100_000
_PATH = "/v1/messages/batches"


class BatchNotEndedError(RxClaudeError):
    """The batch's results were asked for before its processing ended."""


def _id(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not batch_id:
        raise ValueError(f"a batch id is a non-empty str like 'msgbatch_01...', not {batch_id!r}")
    return quote(batch_id, safe="")


class Batches:
    """``client.messages.batches``: create, retrieve, list, cancel, delete, and read results."""

    def __init__(self, client: rest.Host) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"Batches(client={self._client!r})"

    async def create(self, requests: Iterable[Mapping[str, Any]]) -> MessageBatch:
        """Submit requests ``{"custom_id": str, "params": {...Messages params}}`` as one batch.

        Example::

            batch = await client.messages.batches.create([{"custom_id": "a", "params": params}])
        """
        items = [dict(r) for r in requests]
        if not items:
            raise ValueError("a batch needs at least one request")
        if len(items) > MAX_BATCH_REQUESTS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_REQUESTS:,} requests, not {len(items):,}")
        seen: set[str] = set()
        for item in items:
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                raise ValueError(f"every request needs a non-empty str custom_id: {item!r}"[:300])
            if custom_id in seen:
                raise ValueError(f"custom_id {custom_id!r} appears twice (they must be unique in a batch)")
            seen.add(custom_id)
            if not isinstance(item.get("params"), Mapping):
                raise ValueError(f"request {custom_id!r} has no 'params' object")
        body = await rest.call(self._client, "POST", _PATH, body={"requests": items}, what="batches.create")
        return MessageBatch.from_dict(body)

    async def retrieve(self, batch_id: str) -> MessageBatch:
        """The batch now (poll it: ``processing_status`` becomes ``ended``).

        Example::

            batch = await client.messages.batches.retrieve("msgbatch_01...")
        """
        body = await rest.call(self._client, "GET", f"{_PATH}/{_id(batch_id)}", what="batches.retrieve")
        return MessageBatch.from_dict(body)

    async def list_page(
        self, *, limit: int | None = None, after_id: str | None = None, before_id: str | None = None
    ) -> BatchPage:
        """One page of batches, newest first.

        Example::

            page = await client.messages.batches.list_page(limit=20)
        """
        query = {
            k: str(v) for k, v in (("limit", limit), ("after_id", after_id), ("before_id", before_id)) if v is not None
        }
        body = await rest.call(self._client, "GET", _PATH, query=query, what="batches.list")
        return BatchPage.from_dict(body)

    async def list(self, *, limit: int | None = None) -> AsyncIterator[MessageBatch]:
        """Every batch, page after page.

        Example::

            async for batch in client.messages.batches.list():
                print(batch.id, batch.processing_status)
        """
        after: str | None = None
        while True:
            page = await self.list_page(limit=limit, after_id=after)
            for batch in page.data:
                yield batch
            if not page.has_more or page.last_id is None:
                return
            after = page.last_id

    async def cancel(self, batch_id: str) -> MessageBatch:
        """Ask to cancel: the batch goes ``canceling``, then ``ended`` (unfinished requests ``canceled``).

        Example::

            batch = await client.messages.batches.cancel(batch.id)
        """
        body = await rest.call(self._client, "POST", f"{_PATH}/{_id(batch_id)}/cancel", what="batches.cancel")
        return MessageBatch.from_dict(body)

    async def delete(self, batch_id: str) -> BatchDeleted:
        """Delete an ended batch (cancel one in progress first).

        Example::

            await client.messages.batches.delete(batch.id)
        """
        body = await rest.call(self._client, "DELETE", f"{_PATH}/{_id(batch_id)}", what="batches.delete")
        return BatchDeleted.from_dict(body)

    async def wait(self, batch_id: str, *, interval: float = 30.0, timeout: float | None = None) -> MessageBatch:
        """Poll every ``interval`` seconds until the batch ended; returns it.

        Example::

            batch = await client.messages.batches.wait(batch.id, interval=60)
        """
        async with asyncio.timeout(timeout):
            while True:
                batch = await self.retrieve(batch_id)
                if batch.ended:
                    return batch
                await asyncio.sleep(interval)

    async def iter_results(self, batch_id: str) -> AsyncIterator[BatchResult]:
        """The results, one :class:`~rxclaude.core.batch.BatchResult` per line, as they are read.

        Raises :class:`BatchNotEndedError` while the batch is still processing.

        Example::

            async for result in client.messages.batches.iter_results(batch.id):
                print(result.custom_id, result.type)
        """
        batch = await self.retrieve(batch_id)
        if batch.results_url is None:
            raise BatchNotEndedError(
                f"batch {batch_id} has no results yet (processing_status="
                f"{batch.processing_status!r}); wait until it ended"
            )
        client = self._client
        response = await rest.open_response(
            client, "GET", batch.results_url, accept="application/binary", what="batches.results"
        )
        decoder = JSONLinesDecoder()
        try:
            while chunk := await rest.read_chunk(client, response):
                for line in decoder.feed(chunk):
                    yield BatchResult.from_dict(line)
            for line in decoder.flush():
                yield BatchResult.from_dict(line)
        finally:
            response.close()

    def results(self, batch_id: str) -> Observable[BatchResult]:
        """A cold Observable of the results (each subscription reads the file once).

        Example::

            client.messages.batches.results(batch.id).pipe(
                rx.filter(lambda r: not r.ok)).subscribe(lambda r: print(r.custom_id, r.exception))
        """

        def subscribe(
            observer: abc.ObserverBase[BatchResult], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            async def pump() -> None:
                try:
                    async for result in self.iter_results(batch_id):
                        observer.on_next(result)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    observer.on_error(e)
                    return
                observer.on_completed()

            task = asyncio.get_running_loop().create_task(pump())
            return Once(lambda: _cancel(task))

        return DirectObservable(subscribe)


def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
