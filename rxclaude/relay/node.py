"""A relay node: serve many streams by id from an :class:`~rxclaude.relay.log.EventLog`, with resume on any node.

Routes (under ``prefix``, ``/streams`` by default):

* ``GET {prefix}/{id}/events`` for browsers (``EventSource``; ``Last-Event-ID`` or ``?last_event_id=``),
* ``POST {prefix}/{id}/v1/messages`` for the official SDKs (``base_url=.../streams/{id}``; the
  body is read within limits and ignored),
* ``OPTIONS`` on both when CORS origins are listed.

Each stream that has viewers on this node has one reader: a loop of blocking reads from the
log (``XREAD BLOCK`` on Redis), at most one per ``read_interval`` so a burst costs one command,
fanned out in memory to the node's viewers (:class:`~rxclaude.relay.fanout.Fanout`). The
newest ``mirror_events`` events stay in memory for resumes; older ones are read from the log.
Ids are the log's (``1..n``, the same on every node), so a viewer can resume on any node, and
the bytes are the same too. Status codes follow :class:`~rxclaude.Relay`: 200, 204 when the
stream has ended and the viewer has it all, 400 for a bad id, 404 for an unknown stream, 410
when the events after the requested id were trimmed (never a silent gap), 401/403 (token,
``Host``), 429 over a connection cap, 503 when the log cannot be reached.

If the log fails mid-stream (Redis stopped), every viewer gets an ``error`` event without an
``id`` (``api_error``, "reconnect to resume") and the end of its response; the reader stops. If
the producer's heartbeat is gone before the end, the node ends the stream in the log with an
``api_error`` event, so every node serves the same one.

Example::

    node = RelayNode(RedisLog("redis://127.0.0.1:6379/0"), allowed_hosts=["relay.example.com"])
    async with node.serve(port=8765) as url:    # {url}/streams/{id}/events?token=...
        await asyncio.Event().wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from rxclaude.core.errors import EventLogError, StreamIdError
from rxclaude.relay.listen import listen

from .fanout import Fanout
from .log import Batch, EventLog, check_stream_id
from .security import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY,
    HttpPolicy,
    error_response,
    requested_id,
)
from .wire import encode_frame, error_body

__all__ = ["DEFAULT_MAX_CLIENTS_PER_NODE", "DEFAULT_MAX_CLIENTS_PER_STREAM", "NodeStats", "RelayNode"]

DEFAULT_MAX_CLIENTS_PER_NODE: Final = 4096
"""Streaming responses one node serves at once by default."""
DEFAULT_MAX_CLIENTS_PER_STREAM: Final = 1024
"""Streaming responses one node serves for one stream at once by default."""
_SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
_ABANDONED: Final = error_body("api_error", "the producer stopped before the stream ended (no heartbeat)")
_GONE: Final = (
    "event: error\ndata: " + error_body("not_found_error", "the stream is no longer kept by the relay") + "\n\n"
).encode()
_LOG_LOST: Final = (
    "event: error\ndata: "
    + error_body("api_error", "the relay lost its event log; reconnect with Last-Event-ID to resume")
    + "\n\n"
).encode()


@dataclass(frozen=True, slots=True)
class NodeStats:
    """A snapshot of a :class:`RelayNode` (``node.stats``).

    Attributes:
        streams: streams with a reader on this node now.
        clients: streaming responses now.
        served: streaming responses started in total.
        dropped: viewers cut off for falling behind.
        reads: log reads done by the readers.

    Example:
        >>> node.stats.clients  # doctest: +SKIP
        0
    """

    streams: int
    clients: int
    served: int
    dropped: int
    reads: int


class _Channel:
    """One stream on this node: the mirror of its newest events, its viewers and its reader."""

    def __init__(self, node: RelayNode, stream_id: str, batch: Batch) -> None:
        self.node = node
        self.stream_id = stream_id
        self.mirror: deque[bytes] = deque()
        self.mirror_bytes = 0
        self.base = batch.first_id - 1  # the id before mirror[0]
        self.fanout = Fanout(client_queue=node.client_queue, keepalive=node.keepalive, write_timeout=node.write_timeout)
        self.failed = False
        self.idle_since = asyncio.get_running_loop().time()
        self.changed = asyncio.Event()
        self.add(batch)
        self.task: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> int:
        return self.base + len(self.mirror)

    @property
    def done(self) -> bool:
        return self.fanout.done

    def add(self, batch: Batch) -> None:
        """Take a batch read after ``last_id`` into the mirror and out to the viewers."""
        if batch.chunks:
            if batch.first_id != self.last_id + 1:  # trimmed faster than read: viewers here have a gap
                for viewer in self.fanout.viewers:
                    self.fanout.drop(viewer)
                self.mirror.clear()
                self.mirror_bytes = 0
                self.base = batch.first_id - 1
            mirror = self.mirror
            for chunk in batch.chunks:
                mirror.append(chunk)
                self.mirror_bytes += len(chunk)
            node = self.node
            while len(mirror) > node.mirror_events or (self.mirror_bytes > node.mirror_bytes and len(mirror) > 1):
                self.mirror_bytes -= len(mirror.popleft())
                self.base += 1
            self.fanout.push_events(batch.first_id, batch.chunks)
        if batch.ended:
            self.fanout.end()

    async def run(self) -> None:
        node, log = self.node, self.node.log
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self.fanout.viewers:
                    self.idle_since = loop.time()
                elif loop.time() - self.idle_since >= node.idle:
                    return
                if self.done:
                    self.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(node.idle):
                            await self.changed.wait()
                    continue
                node.reads += 1
                batch = await log.read(self.stream_id, self.last_id, limit=node.read_limit, block=node.heartbeat_check)
                if batch is None:  # no event and no heartbeat: a producer that died before its first event
                    chunk = encode_frame("error", _ABANDONED, 1)
                    if self.last_id == 0 and await log.abandon(self.stream_id, 0, chunk):
                        continue
                    self.fanout.end(_GONE)  # or the stream expired under us
                    return
                self.add(batch)
                if batch.chunks:
                    if len(batch.chunks) < node.read_limit and not batch.ended:
                        await asyncio.sleep(node.read_interval)  # let a burst gather: one read for many events
                elif batch.alive is False:
                    chunk = encode_frame("error", _ABANDONED, self.last_id + 1)
                    await log.abandon(self.stream_id, self.last_id, chunk)
        except EventLogError:
            self.failed = True
            self.fanout.end(_LOG_LOST)
        finally:
            node.forget(self)


class RelayNode:
    """Serve any number of streams by id from an event log, to browsers and SDKs, with resume on any node.

    Args:
        log: the :class:`~rxclaude.relay.log.EventLog` (``RedisLog`` to share streams across
            machines, ``MemoryLog`` in one process).
        secret: the viewer-token secret (``None``: ``$RXCLAUDE_RELAY_SECRET``).
        auth: require a viewer token (``?token=`` or ``Authorization: Bearer``) per stream.
        allowed_hosts: ``Host`` names served (any port); loopback names by default.
        cors_origins: exact origins allowed to read from a page (never ``"*"``).
        max_clients / max_clients_per_stream: caps on streaming responses (429 above).
        max_body / body_timeout: limits on request bodies (413 / 408).
        client_queue, keepalive, write_timeout: the per-viewer policy (see :class:`~rxclaude.Relay`).
        read_interval: at least this many seconds between two reads of one stream (a burst is one read).
        read_limit: events per read.
        heartbeat_check: seconds a read blocks; when it finds nothing the producer's heartbeat is checked.
        mirror_events / mirror_bytes: the newest events kept in memory per stream.
        idle: seconds a stream's reader stays without viewers.

    Example::

        node = RelayNode(RedisLog(url))
        web.run_app(node.app(), host="127.0.0.1", port=8765)
    """

    def __init__(
        self,
        log: EventLog,
        *,
        secret: str | bytes | None = None,
        auth: bool = True,
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        cors_origins: Iterable[str] = (),
        max_clients: int = DEFAULT_MAX_CLIENTS_PER_NODE,
        max_clients_per_stream: int = DEFAULT_MAX_CLIENTS_PER_STREAM,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        client_queue: int = 1024,
        keepalive: float | None = 15.0,
        write_timeout: float | None = 30.0,
        read_interval: float = 0.005,
        read_limit: int = 1000,
        heartbeat_check: float = 1.0,
        mirror_events: int = 10_000,
        mirror_bytes: int = 8 * 1024 * 1024,
        idle: float = 5.0,
    ) -> None:
        if max_clients < 1 or max_clients_per_stream < 1 or client_queue < 1 or read_limit < 1 or mirror_events < 1:
            raise ValueError(
                "max_clients, max_clients_per_stream, client_queue, read_limit, mirror_events must be >= 1"
            )
        if read_interval < 0 or not heartbeat_check > 0 or not idle > 0:
            raise ValueError("read_interval must be >= 0, heartbeat_check and idle positive")
        self.log = log
        self.policy = HttpPolicy(
            allowed_hosts=allowed_hosts,
            cors_origins=cors_origins,
            secret=secret,
            auth=auth,
            max_body=max_body,
            body_timeout=body_timeout,
        )
        self.max_clients = max_clients
        self.max_clients_per_stream = max_clients_per_stream
        self.client_queue = client_queue
        self.keepalive = keepalive
        self.write_timeout = write_timeout
        self.read_interval = read_interval
        self.read_limit = read_limit
        self.heartbeat_check = heartbeat_check
        self.mirror_events = mirror_events
        self.mirror_bytes = mirror_bytes
        self.idle = idle
        self.reads = 0
        self._channels: dict[str, _Channel] = {}
        self._opening: dict[str, asyncio.Future[_Channel | None]] = {}
        self._clients = 0
        self._served = 0
        self._dropped = 0
        self._stopping: weakref.WeakSet[web.Application] = weakref.WeakSet()

    # -- channels ---------------------------------------------------------------------------------

    async def _channel(self, stream_id: str) -> _Channel | None:
        """The stream's channel on this node, opened (and primed from the log) if needed; ``None``: no such stream."""
        channel = self._channels.get(stream_id)
        if channel is not None:
            return channel
        opening = self._opening.get(stream_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[_Channel | None] = asyncio.get_running_loop().create_future()
        self._opening[stream_id] = future
        try:
            batch = await self.log.read(stream_id, 0, limit=self.read_limit)
            channel = None
            if batch is not None:
                channel = self._channels[stream_id] = _Channel(self, stream_id, batch)
                channel.task = asyncio.get_running_loop().create_task(channel.run(), name=f"rxclaude-node-{stream_id}")
            future.set_result(channel)
            return channel
        except BaseException as e:
            future.set_exception(e)
            future.exception()
            raise
        finally:
            del self._opening[stream_id]

    def forget(self, channel: _Channel) -> None:
        """Drop a channel whose reader has stopped."""
        if self._channels.get(channel.stream_id) is channel:
            del self._channels[channel.stream_id]
        self._dropped += channel.fanout.dropped

    @property
    def stats(self) -> NodeStats:
        """A :class:`NodeStats` snapshot.

        Example:
            >>> node.stats.streams  # doctest: +SKIP
            1
        """
        dropped = self._dropped + sum(c.fanout.dropped for c in self._channels.values())
        return NodeStats(
            streams=len(self._channels), clients=self._clients, served=self._served, dropped=dropped, reads=self.reads
        )

    # -- HTTP -------------------------------------------------------------------------------------

    async def handler(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for ``{id}/events`` and ``{id}/v1/messages`` (``GET``, ``HEAD``, ``POST``, ``OPTIONS``).

        Example::

            app.router.add_get("/streams/{id}/events", node.handler)
        """
        policy = self.policy
        if request.method == "OPTIONS":
            return policy.preflight(request)
        cors = policy.cors_headers(request)
        try:
            stream_id = check_stream_id(request.match_info.get("id", ""))
        except StreamIdError as e:
            return error_response(404, "not_found_error", str(e), cors)
        denied = policy.check(request, stream_id)
        if denied is not None:
            return denied
        if request.method not in ("GET", "HEAD", "POST"):
            return error_response(405, "invalid_request_error", f"method {request.method} is not allowed here", cors)
        refused = await policy.discard_body(request)
        if refused is not None:
            return refused
        try:
            after = requested_id(request)
        except ValueError:
            return error_response(400, "invalid_request_error", "Last-Event-ID must be a non-negative integer", cors)
        if self._clients >= self.max_clients:
            return error_response(429, "rate_limit_error", "this relay node has too many connections", cors)
        try:
            channel = await self._channel(stream_id)
        except EventLogError:
            return error_response(503, "api_error", "the relay cannot reach its event log", cors)
        if channel is None:
            return error_response(404, "not_found_error", f"no stream {stream_id!r}", cors)
        if channel.failed:
            return error_response(503, "api_error", "the relay lost its event log", cors)
        if len(channel.fanout.viewers) >= self.max_clients_per_stream:
            return error_response(429, "rate_limit_error", "this stream has too many connections on this node", cors)
        whole = request.method == "POST" or after is not None  # a GET without an id takes what is left
        start = 0 if after is None else after
        # from here on no await until the viewer is registered: the mirror cannot move under us
        last = channel.last_id
        if channel.done and start > last:
            return error_response(400, "invalid_request_error", f"event {start} was never sent (last id {last})", cors)
        headers = {**_SSE_HEADERS, **cors}
        if channel.done and start == last:
            return web.Response(status=204, headers=cors)
        transport = request.transport
        if request.method == "HEAD" or transport is None:
            return web.Response(status=200, headers=headers)
        base = channel.base
        backlog = list(channel.mirror)[max(0, start - base) :] if start < last else []
        viewer = channel.fanout.add(request.app, transport, skip=start if start > last else 0)
        viewer.ending = request.app in self._stopping
        channel.changed.set()
        self._clients += 1
        self._served += 1
        try:
            if start < base:  # older than the mirror: read (start, base] from the log first
                older = await self._older(stream_id, start, base, whole)
                if isinstance(older, web.Response):
                    return older
                backlog = older + backlog
            response = web.StreamResponse(status=200, headers=headers)
            await response.prepare(request)
            await channel.fanout.pump(response, viewer, backlog)
            return response
        except ConnectionError:  # the viewer went away, or was cut off
            return web.Response(status=200)
        finally:
            self._clients -= 1
            channel.fanout.remove(viewer)

    async def _older(self, stream_id: str, after: int, upto: int, whole: bool) -> list[bytes] | web.Response:
        """Events ``after + 1 .. upto`` from the log, or the error response (410 for a gap, 503)."""
        chunks: list[bytes] = []
        position = after
        try:
            while position < upto:
                batch = await self.log.read(stream_id, position, limit=min(self.read_limit, upto - position))
                if batch is None or not batch.chunks:
                    break
                if batch.first_id != position + 1 and (whole or position != after):
                    return error_response(
                        410,
                        "not_found_error",
                        f"events after {position} are no longer kept (oldest id {batch.first_id})",
                    )
                chunks.extend(batch.chunks[: upto - batch.first_id + 1])
                position = min(upto, batch.last_id)
        except EventLogError:
            return error_response(503, "api_error", "the relay cannot reach its event log")
        if position < upto:
            return error_response(410, "not_found_error", f"events after {position} are no longer kept")
        return chunks

    def app(self, *, prefix: str = "/streams") -> web.Application:
        """A new ``aiohttp.web.Application`` with the routes under ``prefix``.

        Example::

            web.run_app(node.app(), host="127.0.0.1", port=8765)
        """
        app = web.Application()
        for path in (f"{prefix}/{{id}}/events", f"{prefix}/{{id}}/v1/messages"):
            app.router.add_route("GET", path, self.handler)
            app.router.add_route("POST", path, self.handler)
            app.router.add_route("OPTIONS", path, self.handler)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve :meth:`app` on ``host:port`` (a free port by default) and yield the base URL.

        Leaving the block ends every response (see :meth:`on_shutdown`) and stops the readers.

        Example::

            async with node.serve() as url:
                print(f"{url}/streams/chat-42/events?token=...")
        """
        try:
            async with listen(self.app(), host, port) as url:
                yield url
        finally:
            await self.aclose()

    async def on_shutdown(self, app: web.Application) -> None:
        """An ``app.on_shutdown`` callback: end the responses streaming in ``app`` at once.

        Example::

            app.on_shutdown.append(node.on_shutdown)
        """
        self._stopping.add(app)
        await asyncio.gather(*(c.fanout.end_viewers(app) for c in list(self._channels.values())))

    async def aclose(self) -> None:
        """Stop every reader (their viewers' responses end).

        Example:
            >>> await node.aclose()  # doctest: +SKIP
        """
        channels = list(self._channels.values())
        for channel in channels:
            channel.fanout.end()
        tasks = [c.task for c in channels if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.fanout.end_viewers(None) for c in channels))

    def __repr__(self) -> str:
        return f"<RelayNode streams={len(self._channels)} clients={self._clients}>"
