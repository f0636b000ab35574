"""Relay: re-serve one upstream stream to any number of browsers, in the Anthropic wire format, with resume.

Strategy: the relay subscribes to its source (an ``Observable[Frame]``, e.g. ``stream.frames``)
*in its constructor*, so it must be made before ``stream.connect()`` -- it then misses nothing.
Each frame is encoded once, as ``event: <event>\\ndata: <data>\\nid: <n>\\n\\n`` with ``n`` =
1, 2, ... assigned by the relay (per relay: a new relay starts again at 1), and the same
``bytes`` object goes to a bounded replay log and to the queue of every connected client (queues
hold references, not copies). Each client has its own writer (the aiohttp handler), which writes
whatever its queue holds in one write, so the upstream never waits for a client
(:mod:`rxclaude.relay.fanout`).

* Replay log: at most ``replay_events`` events and ``replay_bytes`` bytes (the oldest go first).
  A request without ``Last-Event-ID`` gets everything still logged, then the live events; one
  with ``Last-Event-ID: n`` (or ``?last_event_id=n``, for EventSource polyfills) gets exactly
  the events after ``n``.
* Status codes: ``200`` the stream; ``204`` the upstream has ended and the client already has
  every event (a browser ``EventSource`` stops reconnecting); ``400`` ``invalid_request_error``
  for an id that is not a number or that this relay never assigned; ``410`` ``not_found_error``
  when events after the requested id were already dropped from the log (never a silent gap).
  A ``POST`` (the SDKs) without an id needs the whole stream: ``410`` if its start is gone.
  Error bodies have the API's shape, ``{"type":"error","error":{"type":...,"message":...}}``.
* Safety (:mod:`rxclaude.relay.security`): only the listed ``Host`` names are served (loopback
  by default: 403 otherwise, against DNS rebinding); CORS only for listed origins, never ``*``;
  at most ``max_clients`` streaming responses (429); a request body is read within
  ``body_timeout`` seconds (408) and ``max_body`` bytes (413) and ignored.
* Slow clients: a client whose connection is blocked (kernel and aiohttp buffers full) while
  ``client_queue`` events wait for it is cut off (TCP abort), and its queue is freed. It can
  resume with ``Last-Event-ID`` while the events are still in the replay log. A burst that
  arrives in one piece never counts against a client that is keeping up. A client whose write
  stays blocked for ``write_timeout`` seconds is cut off too, so one that stopped reading is
  not held after the stream ends.
* End: after the last event every response ends. If the upstream fails (or completes) before
  ``message_stop`` and sent no ``error`` event itself, the relay adds one, in the API's shape
  (``error.type`` is the typed error's ``type``, else ``api_error``), so SDKs and browsers
  raise it; an upstream ``error`` event is relayed as is, never twice. After ``message_stop``
  the message is complete: a later upstream failure only ends the responses.
* Idle clients get a ``: keep-alive`` comment every ``keepalive`` seconds. Pings are relayed.

The relay sends only frames: no upstream header, API key or request header is relayed or
logged. It asks viewers for no token: serve it on loopback, or use a
:class:`~rxclaude.RelayNode` (signed viewer tokens, many streams, many machines).

Example::

    stream = client.messages.stream(model="claude-sonnet-5-5", max_tokens=1024, messages=msgs)
    relay = rxclaude.Relay(stream.frames)          # subscribe before connect(): nothing missed
    async with relay.serve(port=8765) as url:      # GET {url}/events, POST {url}/v1/messages
        await stream.final_message()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Final

from aiohttp import web
from reactivex import Observable, abc

from rxclaude.core.frame import Frame
from rxclaude.relay.listen import listen

from .fanout import Fanout
from .security import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY,
    HttpPolicy,
    error_response,
    requested_id,
)
from .wire import KEEPALIVE, encode_frame, error_body, upstream_error_body

__all__ = [
    "DEFAULT_CLIENT_QUEUE",
    "DEFAULT_MAX_CLIENTS",
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_REPLAY_EVENTS",
    "KEEPALIVE",
    "Relay",
    "RelayStats",
    "encode_frame",
]

DEFAULT_REPLAY_EVENTS: Final = 10_000
"""How many events the replay log keeps by default."""
DEFAULT_REPLAY_BYTES: Final = 8 * 1024 * 1024
"""How many encoded bytes the replay log keeps by default (8 MiB)."""
DEFAULT_CLIENT_QUEUE: Final = 1024
"""How many events may wait for a blocked client by default before it is cut off."""
DEFAULT_MAX_CLIENTS: Final = 4096
"""How many streaming responses a relay serves at once by default."""

_SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


@dataclass(frozen=True, slots=True)
class RelayStats:
    """A snapshot of a :class:`Relay` (``relay.stats``).

    Attributes:
        last_id: the id of the newest event (0 before the first).
        first_id: the oldest id still in the replay log (``last_id + 1`` when it is empty).
        buffered_events / buffered_bytes: what the replay log holds.
        clients: responses streaming now.
        served: streaming responses started in total.
        dropped: clients cut off because they fell ``client_queue`` events behind.
        max_queue: the longest any client's queue has been.
        done: whether the upstream has ended (or the relay was closed).

    Example:
        >>> relay.stats.dropped  # doctest: +SKIP
        0
    """

    last_id: int
    first_id: int
    buffered_events: int
    buffered_bytes: int
    clients: int
    served: int
    dropped: int
    max_queue: int
    done: bool


class Relay:
    """Re-serve one upstream ``Observable[Frame]`` to any number of HTTP clients, with resume.

    The source is subscribed here, in the constructor (make the relay before ``connect()``);
    :meth:`close` disposes that subscription. Frames are served as ``text/event-stream`` by
    :attr:`handler` (``GET`` for browsers, ``POST`` answered like the Messages API for SDKs), by
    the app of :meth:`app`, or by :meth:`serve`. Policies are described in :mod:`rxclaude.relay.server`.
    Call it on the event loop's thread (frames from another thread are moved onto the loop
    the relay was made on).

    Args:
        source: the frames, e.g. ``stream.frames`` or ``rxclaude.replay("run.jsonl")``.
        replay_events: the replay log keeps at most this many events (0: no replay).
        replay_bytes: ... and at most this many encoded bytes.
        client_queue: events that may wait for a client whose connection is blocked before it
            is cut off (it may then resume with ``Last-Event-ID``).
        keepalive: seconds of silence before a ``: keep-alive`` comment (``None``: never).
        cors_origins: exact origins (``https://app.example.com``) whose pages may read the
            stream (and get preflights answered); never ``"*"``.
        write_timeout: seconds one write may wait for a client that stopped reading before it is
            cut off (``None``: wait for ever), so a stuck client never outlives the stream.
        allowed_hosts: ``Host`` names served (any port); the loopback names by default.
        max_clients: streaming responses served at once (429 above).
        max_body / body_timeout: the largest request body read (413 above) and the seconds to
            receive it (408 after).

    Example::

        relay = Relay(stream.frames, replay_events=5_000, cors_origins=["https://app.example.com"])
        app.router.add_get("/events", relay.handler)    # any aiohttp app
        stream.connect()
    """

    def __init__(
        self,
        source: Observable[Frame],
        *,
        replay_events: int = DEFAULT_REPLAY_EVENTS,
        replay_bytes: int = DEFAULT_REPLAY_BYTES,
        client_queue: int = DEFAULT_CLIENT_QUEUE,
        keepalive: float | None = 15.0,
        cors_origins: Iterable[str] = (),
        write_timeout: float | None = 30.0,
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if replay_events < 0 or replay_bytes < 0:
            raise ValueError("replay_events and replay_bytes must be >= 0")
        if client_queue < 1:
            raise ValueError(f"client_queue must be >= 1, got {client_queue!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, got {max_clients!r}")
        if keepalive is not None and not keepalive > 0:
            raise ValueError(f"keepalive must be positive or None, got {keepalive!r}")
        if write_timeout is not None and not write_timeout > 0:
            raise ValueError(f"write_timeout must be positive or None, got {write_timeout!r}")
        self._policy = HttpPolicy(
            allowed_hosts=allowed_hosts, cors_origins=cors_origins, max_body=max_body, body_timeout=body_timeout
        )
        self._fanout = Fanout(client_queue=client_queue, keepalive=keepalive, write_timeout=write_timeout)
        self._max_clients = max_clients
        self._replay_events = replay_events
        self._replay_bytes = replay_bytes
        self._log: deque[bytes] = deque()
        self._log_bytes = 0
        self._base = 0  # the id of the newest event dropped from the log (ids base+1..last_id are logged)
        self._last_id = 0
        self._saw_error = False  # an upstream ``error`` event was relayed
        self._saw_stop = False  # ``message_stop`` was relayed: the message is complete
        self._closed = False
        self._stopping: weakref.WeakSet[web.Application] = weakref.WeakSet()  # apps past on_shutdown
        self._thread = threading.get_ident()
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._subscription: abc.DisposableBase | None = None
        subscription = source.subscribe(self._on_next, self._on_error, self._on_completed)
        if self._closed:  # closed from a callback while subscribing
            subscription.dispose()
        else:
            self._subscription = subscription

    # -- upstream ---------------------------------------------------------------------------------

    def _elsewhere(self) -> bool:
        return self._loop is not None and threading.get_ident() != self._thread

    def _on_next(self, frame: Frame) -> None:
        if self._elsewhere():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_next, frame)
            return
        event = frame.event
        if event == "error":
            self._saw_error = True
        elif event == "message_stop":
            self._saw_stop = True
        self._append(event, frame.data)

    def _on_error(self, error: Exception) -> None:
        if self._elsewhere():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_error, error)
            return
        self._end(upstream_error_body(error))

    def _on_completed(self) -> None:
        if self._elsewhere():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_completed)
            return
        self._end(error_body("api_error", "the upstream stream ended before message_stop"))

    def _append(self, event: str, data: str) -> None:
        if self._fanout.done:
            return
        n = self._last_id = self._last_id + 1
        chunk = encode_frame(event, data, n)
        log = self._log
        log.append(chunk)
        self._log_bytes += len(chunk)
        while log and (len(log) > self._replay_events or self._log_bytes > self._replay_bytes):
            self._log_bytes -= len(log.popleft())
            self._base += 1
        self._fanout.push(chunk)

    def _end(self, error: str | None) -> None:
        """The upstream is over: add our ``error`` event if it is needed, then end every response."""
        if self._fanout.done:
            return
        if error is not None and not self._saw_error and not self._saw_stop:
            self._append("error", error)
        self._fanout.end()

    # -- state ------------------------------------------------------------------------------------

    @property
    def last_id(self) -> int:
        """The id of the newest event (0 before the first)."""
        return self._last_id

    @property
    def done(self) -> bool:
        """Whether the upstream has ended (or the relay was closed): no event will follow."""
        return self._fanout.done

    @property
    def stats(self) -> RelayStats:
        """A :class:`RelayStats` snapshot.

        Example:
            >>> relay.stats.clients  # doctest: +SKIP
            2
        """
        fanout = self._fanout
        return RelayStats(
            last_id=self._last_id,
            first_id=self._base + 1,
            buffered_events=len(self._log),
            buffered_bytes=self._log_bytes,
            clients=len(fanout.viewers),
            served=fanout.served,
            dropped=fanout.dropped,
            max_queue=fanout.max_queue,
            done=fanout.done,
        )

    # -- HTTP -------------------------------------------------------------------------------------

    async def handler(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler: ``GET`` (browsers), ``POST`` (SDKs; the body is ignored), ``HEAD``, ``OPTIONS``.

        Mounted in your own app, also add :meth:`on_shutdown` so a shutdown ends the responses
        at once instead of waiting for the stream.

        Example::

            app.router.add_get("/events", relay.handler)
            app.router.add_post("/v1/messages", relay.handler)
            app.on_shutdown.append(relay.on_shutdown)
        """
        policy = self._policy
        method = request.method
        if method == "OPTIONS":
            return policy.preflight(request)
        cors = policy.cors_headers(request)
        denied = policy.check(request)
        if denied is not None:
            return denied
        if method not in ("GET", "HEAD", "POST"):
            return error_response(405, "invalid_request_error", f"method {method} is not allowed here", cors)
        refused = await policy.discard_body(request)
        if refused is not None:
            return refused
        try:
            after = requested_id(request)
        except ValueError:
            return error_response(400, "invalid_request_error", "Last-Event-ID must be a non-negative integer", cors)
        # from here on no await until the client is registered: the log cannot move under us
        if after is not None and after > self._last_id:
            return error_response(
                400,
                "invalid_request_error",
                f"event {after} was never sent by this relay (last id {self._last_id})",
                cors,
            )
        if after is None:
            if method == "POST" and self._base > 0:
                return error_response(
                    410,
                    "not_found_error",
                    f"the stream's start is no longer buffered (oldest id {self._base + 1})",
                    cors,
                )
            after = self._base
        elif after < self._base:
            return error_response(
                410,
                "not_found_error",
                f"events after {after} are no longer buffered (oldest id {self._base + 1})",
                cors,
            )
        fanout = self._fanout
        if fanout.done and after >= self._last_id:
            return web.Response(status=204, headers=cors)
        transport = request.transport
        if method == "HEAD" or transport is None:
            return web.Response(status=200, headers={**_SSE_HEADERS, **cors})
        if len(fanout.viewers) >= self._max_clients:
            return error_response(429, "rate_limit_error", "this relay has too many connections", cors)
        backlog = list(islice(self._log, after - self._base, None))
        viewer = fanout.add(request.app, transport)
        viewer.ending = request.app in self._stopping  # a request that raced the shutdown gets the backlog
        response = web.StreamResponse(status=200, headers={**_SSE_HEADERS, **cors})
        try:
            await response.prepare(request)
            await fanout.pump(response, viewer, backlog)
        except ConnectionError:  # the client went away, or was cut off
            pass
        finally:
            fanout.remove(viewer)
        return response

    def app(self, *, events_path: str = "/events", messages_path: str = "/v1/messages") -> web.Application:
        """A new ``aiohttp.web.Application``: ``GET events_path`` and ``POST messages_path``.

        Point the official SDKs at it as ``base_url``; they stream from ``POST /v1/messages``.
        With ``cors_origins`` set, both paths also answer CORS preflights.

        Example::

            web.run_app(relay.app(), host="127.0.0.1", port=8765)
        """
        app = web.Application()
        app.router.add_get(events_path, self.handler)
        app.router.add_post(messages_path, self.handler)
        if self._policy.cors_origins:
            for path in (events_path, messages_path):
                app.router.add_route("OPTIONS", path, self.handler)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve :meth:`app` on ``host:port`` (a free port by default) and yield the base URL.

        Leaving the block stops listening, then ends every response this site is streaming (see
        :meth:`on_shutdown`). The upstream subscription stays: see :meth:`close`. No access log
        is written.

        Example::

            async with relay.serve() as url:
                print(f"EventSource: {url}/events, SDK base_url: {url}")
                await stream.final_message()
        """
        async with listen(self.app(), host, port) as url:  # leaving: app.on_shutdown ends the responses
            yield url

    async def on_shutdown(self, app: web.Application) -> None:
        """An ``app.on_shutdown`` callback: end the responses streaming in ``app`` at once.

        Each gets what is queued for it, then the end of the body; one whose connection stays
        blocked for a second is cut off. :meth:`app` installs it; add it to your own app.

        Example::

            app.router.add_get("/events", relay.handler)
            app.on_shutdown.append(relay.on_shutdown)
        """
        self._stopping.add(app)
        await self._fanout.end_viewers(app)

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Dispose the upstream subscription and end every response.

        A ``MessageStream`` with no other subscriber is then cancelled. If the stream had not
        ended, clients get an ``api_error`` event ("the relay was closed") and the end of the body.
        Reconnects are still answered from the replay log (``204`` once a client has it all).

        Example:
            >>> relay.close()  # doctest: +SKIP
        """
        if self._closed:
            return
        self._closed = True
        subscription, self._subscription = self._subscription, None
        self._end(error_body("api_error", "the relay was closed before the stream ended"))
        if subscription is not None:
            subscription.dispose()

    async def aclose(self, timeout: float = 1.0) -> None:
        """:meth:`close`, then wait up to ``timeout`` seconds for the responses to end (then abort them).

        Example:
            >>> await relay.aclose()  # doctest: +SKIP
        """
        self.close()
        await self._fanout.end_viewers(None, timeout)

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "done" if self._fanout.done else "live"
        return f"<Relay {state} last_id={self._last_id} clients={len(self._fanout.viewers)}>"
