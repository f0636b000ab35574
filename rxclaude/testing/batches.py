"""The Message Batches API in the mock server, on a clock that can run faster than real time.

Example::

    clock = MockClock(speed=3600)                  # an hour passes every second
    async with MockServer(clock=clock) as server:  # server.batches is the store
        ...                                        # POST /v1/messages/batches, then poll
        clock.advance(hours=1)                     # or jump ahead

Strategy: a batch holds its requests and the (virtual) time it was created. Its state is
computed whenever it is read: request ``i`` of ``n`` is done at ``created + processing *
(i + 1) / n``; the batch ends when all are done, when it expires (24 h, the rest
``expired``), or shortly after a cancel (the rest ``canceled``). Answers are those of the
server's replies (:meth:`MockServer.next_reply`, so ``enqueue`` scripts batch results too),
made when the batch ends; params the Messages route would refuse are ``errored`` with the same
``invalid_request_error``. The results JSONL is written line by line, in an order different
from the requests' (the API does not promise order either).
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import web

from rxclaude.testing.recorded import RecordedRequest
from rxclaude.testing.replies import Reply
from rxclaude.testing.sse import accumulate, events_from_sse, make_id

if TYPE_CHECKING:
    import random

__all__ = ["MockBatches", "MockClock"]

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000
EXPIRY = 24 * 3600.0


class BatchHost(Protocol):
    """What :class:`MockBatches` needs of its server (a :class:`~rxclaude.testing.MockServer`)."""

    app: web.Application

    @property
    def url(self) -> str: ...

    def check_auth(self, request: web.Request, record: RecordedRequest) -> web.Response | None: ...

    def record_for(self, request: web.BaseRequest) -> RecordedRequest: ...

    def response_headers(self, record: RecordedRequest, extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]: ...

    def error_response(
        self,
        record: RecordedRequest,
        status: int,
        error_type: str,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> web.Response: ...

    def next_reply(self) -> Reply: ...


class MockClock:
    """Virtual wall-clock time: real time times ``speed``, plus whatever :meth:`advance` added.

    Example:
        >>> clock = MockClock(speed=0)          # frozen: only advance() moves it
        >>> start = clock.now(); clock.advance(hours=2); clock.now() - start
        7200.0
    """

    def __init__(self, speed: float = 1.0, *, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self._start = time.time() if start is None else start
        self._mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Virtual seconds since the epoch."""
        return self._start + (time.monotonic() - self._mono) * self.speed + self._offset

    def advance(self, seconds: float = 0.0, *, hours: float = 0.0) -> None:
        """Jump ahead."""
        self._offset += seconds + hours * 3600.0

    def stamp(self, at: float | None = None) -> str:
        """RFC 3339 (UTC, microseconds) of ``at`` (default now)."""
        when = _dt.datetime.fromtimestamp(self.now() if at is None else at, _dt.UTC)
        return when.isoformat().replace("+00:00", "Z")


@dataclass(eq=False)
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    created: float
    processing: float
    cancel_at: float | None = None
    results: list[dict[str, Any]] | None = None
    ended: float | None = None
    counts: dict[str, int] = field(default_factory=dict)


class MockBatches:
    """The batches of a :class:`~rxclaude.testing.MockServer` (``server.batches``).

    Args:
        clock: the virtual clock (``MockClock()``: real time).
        processing_seconds: virtual seconds a batch takes to process all its requests.
        cancel_seconds: virtual seconds from a cancel to the end of the batch.

    Example::

        server.batches.processing_seconds = 3600     # an hour, virtual
        server.batches.clock.advance(hours=1)
    """

    def __init__(
        self,
        server: BatchHost,
        *,
        clock: MockClock | None = None,
        processing_seconds: float = 60.0,
        cancel_seconds: float = 5.0,
        rng: random.Random | None = None,
        check: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        self._server = server
        self._check = check
        self.clock = clock or MockClock()
        self.processing_seconds = processing_seconds
        self.cancel_seconds = cancel_seconds
        self._rng = rng
        self._batches: dict[str, _Batch] = {}
        self._installed = False

    def install(self) -> None:
        """Add the routes (``MockServer.start`` does; routes already there win)."""
        if self._installed:
            return
        self._installed = True
        taken = {(r.method, r.resource.canonical) for r in self._server.app.router.routes() if r.resource}
        base = "/v1/messages/batches"
        for method, path, handler in (
            ("POST", base, self._create),
            ("GET", base, self._list),
            ("GET", base + "/{batch_id}", self._retrieve),
            ("POST", base + "/{batch_id}/cancel", self._cancel),
            ("DELETE", base + "/{batch_id}", self._delete),
            ("GET", base + "/{batch_id}/results", self._results),
        ):
            if (method, path) not in taken:
                self._server.app.router.add_route(method, path, handler)

    def __len__(self) -> int:
        return len(self._batches)

    # -- state ---------------------------------------------------------------------------------

    def _advance(self, batch: _Batch) -> None:
        """Bring the batch up to the clock: end it (and make its results) when due."""
        if batch.ended is not None:
            return
        now = self.clock.now()
        finish = batch.created + batch.processing
        end = finish
        if batch.cancel_at is not None:
            end = min(end, batch.cancel_at + self.cancel_seconds)
        end = min(end, batch.created + EXPIRY)
        if now < end:
            return
        batch.ended = end
        n = len(batch.requests)
        results: list[dict[str, Any]] = []
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        for i, request in enumerate(batch.requests):
            done_at = batch.created + batch.processing * (i + 1) / n
            custom_id = request["custom_id"]
            if done_at <= end and (batch.cancel_at is None or done_at <= batch.cancel_at):
                result = self._answer(request.get("params"))
            elif batch.cancel_at is not None and batch.cancel_at < batch.created + EXPIRY:
                result = {"type": "canceled"}
            else:
                result = {"type": "expired"}
            counts[result["type"]] += 1
            results.append({"custom_id": custom_id, "result": result})
        if len(results) > 1:  # not the request order (the API promises none)
            results = results[1::2] + results[0::2]
        batch.results = results
        batch.counts = counts

    def _answer(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, Mapping):
            return _errored("invalid_request_error", "params: Input should be a valid dictionary")
        problem = self._check(params) if self._check is not None else None
        if problem is not None:
            return _errored("invalid_request_error", problem)
        if params.get("stream") is True:
            return _errored("invalid_request_error", "stream: streaming is not supported in batches")
        reply: Reply = self._server.next_reply()
        if reply.error_type is not None:
            return _errored(reply.error_type, reply.error_message or "")
        if not reply.streams:
            return _errored("api_error", "Internal server error")
        events = events_from_sse(b"".join(reply.frames(params)))
        for event in events:
            if event.get("type") == "error":
                err = event.get("error") or {}
                return _errored(str(err.get("type", "api_error")), str(err.get("message", "")))
        if reply.faults.error_after is not None:
            return _errored(reply.faults.error_type, reply.faults.error_message or "Overloaded")
        message = accumulate(events)
        usage = message.get("usage")
        if isinstance(usage, dict):
            usage["service_tier"] = "batch"
        return {"type": "succeeded", "message": message}

    def _json(self, batch: _Batch) -> dict[str, Any]:
        self._advance(batch)
        clock = self.clock
        if batch.ended is not None:
            status = "ended"
            counts = batch.counts
        else:
            status = "canceling" if batch.cancel_at is not None else "in_progress"
            counts = {"processing": len(batch.requests), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": clock.stamp(batch.ended) if batch.ended is not None else None,
            "created_at": clock.stamp(batch.created),
            "expires_at": clock.stamp(batch.created + EXPIRY),
            "archived_at": None,
            "cancel_initiated_at": clock.stamp(batch.cancel_at) if batch.cancel_at is not None else None,
            "results_url": (
                f"{self._server.url}/v1/messages/batches/{batch.id}/results" if batch.ended is not None else None
            ),
        }

    # -- routes --------------------------------------------------------------------------------

    def _ok(self, record: RecordedRequest, body: Any) -> web.Response:
        headers = self._server.response_headers(record)
        headers["content-type"] = "application/json"
        return web.Response(body=orjson.dumps(body), headers=headers)

    def _begin(self, request: web.Request) -> tuple[RecordedRequest, web.Response | None]:
        server = self._server
        record = server.record_for(request)
        return record, server.check_auth(request, record)

    def _find(self, request: web.Request, record: RecordedRequest) -> tuple[_Batch | None, web.Response | None]:
        batch_id = request.match_info["batch_id"]
        batch = self._batches.get(batch_id)
        if batch is None:
            return None, self._server.error_response(
                record, 404, "not_found_error", f"Message Batch {batch_id} not found"
            )
        return batch, None

    async def _create(self, request: web.Request) -> web.Response:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        bad = self._server.error_response
        body = record.json
        if not isinstance(body, dict):
            return bad(record, 400, "invalid_request_error", "There was an issue with your request body: invalid JSON")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return bad(record, 400, "invalid_request_error", "requests: at least one request is required")
        if len(requests) > MAX_REQUESTS:
            return bad(record, 400, "invalid_request_error", f"requests: a batch holds at most {MAX_REQUESTS} requests")
        seen: set[str] = set()
        for i, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                return bad(
                    record,
                    400,
                    "invalid_request_error",
                    f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'",
                )
            if custom_id in seen:
                return bad(
                    record,
                    400,
                    "invalid_request_error",
                    f"requests.{i}.custom_id: Duplicate custom_id {custom_id!r}; custom_id must be unique "
                    "within a batch",
                )
            seen.add(custom_id)
            if not isinstance(item.get("params"), dict):
                return bad(record, 400, "invalid_request_error", f"requests.{i}.params: Field required")
        batch_id = make_id("msgbatch_01", 22, self._rng)
        batch = _Batch(batch_id, [dict(r) for r in requests], self.clock.now(), self.processing_seconds)
        self._batches[batch_id] = batch
        return self._ok(record, self._json(batch))

    async def _list(self, request: web.Request) -> web.Response:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        query = request.query
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return self._server.error_response(
                record, 400, "invalid_request_error", "limit: Input should be between 1 and 1000"
            )
        ordered = list(reversed(self._batches.values()))  # newest first
        ids = [b.id for b in ordered]
        start, stop = 0, len(ordered)
        if "after_id" in query and query["after_id"] in ids:
            start = ids.index(query["after_id"]) + 1
        if "before_id" in query and query["before_id"] in ids:
            stop = ids.index(query["before_id"])
            start = max(start, stop - limit)
        page = ordered[start : min(stop, start + limit)]
        data = [self._json(b) for b in page]
        return self._ok(
            record,
            {
                "data": data,
                "has_more": start + len(page) < stop,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
        )

    async def _retrieve(self, request: web.Request) -> web.Response:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        batch, missing = self._find(request, record)
        if batch is None:
            assert missing is not None
            return missing
        return self._ok(record, self._json(batch))

    async def _cancel(self, request: web.Request) -> web.Response:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        batch, missing = self._find(request, record)
        if batch is None:
            assert missing is not None
            return missing
        self._advance(batch)
        if batch.ended is None and batch.cancel_at is None:
            batch.cancel_at = self.clock.now()
        return self._ok(record, self._json(batch))

    async def _delete(self, request: web.Request) -> web.Response:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        batch, missing = self._find(request, record)
        if batch is None:
            assert missing is not None
            return missing
        self._advance(batch)
        if batch.ended is None:
            return self._server.error_response(
                record,
                400,
                "invalid_request_error",
                f"Message Batch {batch.id} cannot be deleted while it is processing; cancel it first",
            )
        del self._batches[batch.id]
        return self._ok(record, {"id": batch.id, "type": "message_batch_deleted"})

    async def _results(self, request: web.Request) -> web.StreamResponse:
        record, denied = self._begin(request)
        if denied is not None:
            return denied
        batch, missing = self._find(request, record)
        if batch is None:
            assert missing is not None
            return missing
        self._advance(batch)
        if batch.results is None:
            return self._server.error_response(
                record,
                400,
                "invalid_request_error",
                f"Message Batch {batch.id} has not finished processing; results are available once it ended",
            )
        headers = self._server.response_headers(record)
        headers["content-type"] = "application/binary"
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = bytearray()
        for line in batch.results:
            chunk += orjson.dumps(line) + b"\n"
            if len(chunk) >= 1 << 16:
                await response.write(bytes(chunk))
                chunk.clear()
        if chunk:
            await response.write(bytes(chunk))
        await response.write_eof()
        return response


def _errored(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": message}}}
