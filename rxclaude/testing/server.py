"""An embedded mock of the Anthropic Messages API on ``aiohttp.web``, speaking the real wire format.

Example::

    async with MockServer() as server:
        server.enqueue(Reply.text("Hello!"), Reply.error(529))
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/v1/messages", json=body, headers=server.headers()) as r:
                print(await r.read())        # event: message_start ...
        assert server.requests[0].json["model"] == body["model"]
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from rxclaude.testing.files import MockFiles
from rxclaude.testing.recorded import RecordedRequest
from rxclaude.testing.replies import DEFAULT_ERROR_MESSAGES, ERROR_STATUS, Faults, Reply
from rxclaude.testing.sse import PING_FRAME, accumulate, events_from_sse, frame_event, make_id
from rxclaude.testing.structured import check_structured

__all__ = [
    "DEFAULT_API_KEY",
    "SERVER_KEY",
    "FrameEncoder",
    "MockServer",
    "Plugin",
    "RecordedRequest",
]

DEFAULT_API_KEY = "mock-key-for-tests-not-a-secret"
"""The key :class:`MockServer` advertises by default (any non-empty key is accepted unless required)."""

FrameEncoder = Callable[[bytes], bytes]
"""Turns one raw SSE frame (``event: X\\ndata: {...}\\n\\n``) into the bytes to write, e.g. a
Bedrock eventstream frame. :func:`~rxclaude.testing.sse.frame_event` gives the event name."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MALFORMED = (
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"unterminated\n\n'
)


Plugin = Callable[["MockServer"], None]
"""Called with the server before start: add routes to ``server.app``, stash state, etc."""


class _ResetDone(Exception):
    """Raised inside the writer once the connection was aborted on purpose."""


class MockServer:
    """A mock ``api.anthropic.com`` on ``127.0.0.1`` (a free port unless ``port`` is given).

    Scripted by :class:`Reply` objects: :meth:`enqueue` some (one per request, FIFO); when the
    queue is empty ``default_reply`` answers (:meth:`Reply.echo` by default). Every request is
    recorded in :attr:`requests`.

    Routes: ``POST /v1/messages`` (also ``?beta=true``) and ``POST /v1/messages/count_tokens``,
    plus the Files API ``/v1/files...`` (:attr:`files`, a :class:`~rxclaude.testing.MockFiles`).
    More can be added before :meth:`start`: pass ``routes=[web.post(path, handler), ...]`` or
    ``plugins=[fn]`` (``fn(server)`` is called in ``__init__``), or call :meth:`add_route`.
    Handlers find the server as ``request.app[SERVER_KEY]`` and may use :meth:`next_reply`,
    :meth:`serve_reply`, :meth:`error_response`, :meth:`response_headers` and :meth:`record_for`.

    Args:
        api_key: the key :meth:`headers` sends.
        require_key: ``False`` accepts any non-empty key; ``True`` only ``api_key``; a string,
            only that key (it also becomes ``api_key``).
        require_version: answer 400 when ``anthropic-version`` is missing (any value is accepted).
        default_reply: what to answer when the queue is empty.
        rate_limit_headers: send ``anthropic-ratelimit-*`` headers.
        client_max_size: larger request bodies get 413 ``request_too_large`` (the API's 32 MB).
        seed: make request ids reproducible.

    Example::

        async with MockServer(require_key=True) as server:
            server.enqueue(Reply.text("Hi!", thinking="Say hi."))
            client = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url)
    """

    def __init__(
        self,
        *,
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        require_key: bool | str = False,
        require_version: bool = True,
        default_reply: Reply | None = None,
        routes: Iterable[web.AbstractRouteDef] = (),
        plugins: Iterable[Plugin] = (),
        rate_limit_headers: bool = True,
        client_max_size: int = 32 * 1024 * 1024,
        seed: int | None = None,
    ) -> None:
        if isinstance(require_key, str):
            api_key, require_key = require_key, True
        self.api_key = api_key
        self.require_key = require_key
        self.require_version = require_version
        self.default_reply: Reply = default_reply or Reply.echo()
        self.rate_limit_headers = rate_limit_headers
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
        self._org_id = "00000000-0000-4000-8000-" + "".join(self._rng.choice("0123456789abcdef") for _ in range(12))
        self._queue: deque[Reply] = deque()
        self._by_request: dict[int, RecordedRequest] = {}
        self._stream_tasks: set[asyncio.Task[Any]] = set()
        self._open_streams = 0
        self._disconnects: list[RecordedRequest] = []
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

        self.app = web.Application(middlewares=[self._middleware], client_max_size=client_max_size)
        self.app[SERVER_KEY] = self
        self.app.router.add_post("/v1/messages", self._messages)
        self.app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        self.app.router.add_routes(list(routes))
        self.files = MockFiles(self, rng=self._rng)
        """The Files API store; its ``/v1/files`` routes are added on :meth:`start` (yours win)."""
        for plugin in plugins:
            plugin(self)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> MockServer:
        """Bind ``127.0.0.1`` and start serving. Returns ``self``.

        Example::

            server = await MockServer().start()
            try: ...
            finally: await server.close()
        """
        if self._runner is not None:
            raise RuntimeError("MockServer already started")
        self._closing = False
        self.files.install()
        runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
            self._bound_port = int(sock.getsockname()[1])
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        return self

    async def close(self) -> None:
        """Abort open streams, close every connection and stop listening. Idempotent.

        Example::

            await server.close()
        """
        if self._runner is None:
            return
        self._closing = True
        tasks = [t for t in self._stream_tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._bound_port = None

    async def __aenter__(self) -> MockServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.contextmanager
    def running_in_thread(self, timeout: float = 10.0) -> Iterator[MockServer]:
        """Run the server on its own event loop in a daemon thread (for sync code and notebooks).

        ``enqueue`` and ``requests`` are safe to use from the calling thread; the ``wait_*``
        coroutines belong to the server's loop.

        Example::

            with MockServer().running_in_thread() as server:
                requests.post(f"{server.url}/v1/messages", ...)
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="rxclaude-mock-server", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    # -- configuration --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._bound_port is None:
            raise RuntimeError("MockServer is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (give it to clients as ``base_url``)."""
        return f"http://127.0.0.1:{self.port}"

    def headers(self, *, version: str = "2023-06-01", **extra: str) -> dict[str, str]:
        """Request headers the server accepts: ``x-api-key``, ``anthropic-version``, content type.

        Example::

            await http.post(f"{server.url}/v1/messages", json=body, headers=server.headers())
        """
        h = {"x-api-key": self.api_key, "anthropic-version": version, "content-type": "application/json"}
        h.update({k.replace("_", "-"): v for k, v in extra.items()})
        return h

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Add a route before :meth:`start` (the router is frozen afterwards).

        Example::

            server.add_route("GET", "/v1/models", list_models)
        """
        self.app.router.add_route(method, path, handler)

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each request to a scripted route takes the next one (FIFO).

        Example::

            server.enqueue(Reply.error(529), Reply.text("second try works"))
        """
        self._queue.extend(replies)

    def next_reply(self) -> Reply:
        """Pop the next queued reply, or the ``default_reply`` when the queue is empty."""
        return self._queue.popleft() if self._queue else self.default_reply

    @property
    def pending(self) -> int:
        """How many queued replies are still unused."""
        return len(self._queue)

    def reset(self) -> None:
        """Forget recorded requests and drop queued replies.

        Example::

            server.reset()
        """
        self.requests.clear()
        self._queue.clear()
        self._disconnects.clear()

    # -- observation ----------------------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        """How many streamed responses are being written right now."""
        return self._open_streams

    @property
    def open_connections(self) -> int:
        """How many client TCP connections the server holds open right now (kept-alive ones too)."""
        runner = self._runner
        server = runner.server if runner is not None else None
        return len(server.connections) if server is not None else 0

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent recorded request (``IndexError`` if none)."""
        return self.requests[-1]

    @property
    def disconnects(self) -> Sequence[RecordedRequest]:
        """Requests whose client went away before the response was complete, in order."""
        return tuple(self._disconnects)

    async def wait_disconnect(self, timeout: float | None = 5.0, *, count: int = 1) -> RecordedRequest:
        """Wait until ``count`` responses in total saw their client disconnect early; return that one.

        Raises ``TimeoutError`` after ``timeout`` seconds.

        Example::

            task.cancel()                                  # the client gives up mid-stream
            req = await server.wait_disconnect(timeout=0.5)
            assert req.disconnected and not req.completed
        """
        async with asyncio.timeout(timeout):
            while len(self._disconnects) < count:
                await self._changed.wait()
        return self._disconnects[count - 1]

    async def wait_idle(self, timeout: float | None = 5.0) -> None:
        """Wait until no streamed response is open; ``TimeoutError`` after ``timeout``.

        Example::

            await server.wait_idle(1.0)
        """
        async with asyncio.timeout(timeout):
            while self._open_streams:
                await self._changed.wait()

    async def wait_requests(self, count: int, timeout: float | None = 5.0) -> None:
        """Wait until at least ``count`` requests were received; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def record_for(self, request: web.BaseRequest) -> RecordedRequest:
        """The record of a request currently being handled (for route handlers)."""
        return self._by_request[id(request)]

    # -- building responses ---------------------------------------------------------------------

    def response_headers(self, record: RecordedRequest, extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
        """Headers the real API sends on every Messages response: ``request-id``,
        ``anthropic-organization-id`` and ``anthropic-ratelimit-*``; ``extra`` overrides."""
        h: dict[str, str] = {"request-id": record.request_id, "anthropic-organization-id": self._org_id}
        if self.rate_limit_headers:
            now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
            soon = (now + _dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
            later = (now + _dt.timedelta(seconds=60)).isoformat().replace("+00:00", "Z")
            used = len(self.requests) % 4000
            for name, limit, remaining, reset in (
                ("requests", 4000, 4000 - used, soon),
                ("input-tokens", 2000000, 2000000, later),
                ("output-tokens", 400000, 400000, later),
                ("tokens", 2400000, 2400000, later),
            ):
                h[f"anthropic-ratelimit-{name}-limit"] = str(limit)
                h[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
                h[f"anthropic-ratelimit-{name}-reset"] = reset
        for k, v in extra:
            h[k.lower()] = v
        return h

    def error_response(
        self,
        record: RecordedRequest,
        status: int,
        error_type: str,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> web.Response:
        """An error in the API's shape: ``{"type":"error","error":{...},"request_id":"req_..."}``.

        Example::

            return server.error_response(server.record_for(request), 404, "not_found_error", "No such file")
        """
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": record.request_id,
        }
        hdrs = self.response_headers(record, headers)
        hdrs["content-type"] = "application/json"
        return web.Response(status=status, body=orjson.dumps(body), headers=hdrs)

    async def serve_reply(
        self,
        request: web.Request,
        reply: Reply,
        *,
        stream: bool,
        frame_encoder: FrameEncoder | None = None,
        content_type: str = "text/event-stream; charset=utf-8",
    ) -> web.StreamResponse:
        """Answer ``request`` with ``reply``: streamed (faults applied) or as one JSON Message.

        Route handlers of other mocks (Vertex, Bedrock) reuse this; ``frame_encoder`` re-encodes
        each frame (e.g. into binary eventstream) and ``content_type`` names the result.

        Example::

            async def vertex_handler(request):
                server = request.app[SERVER_KEY]
                return await server.serve_reply(request, server.next_reply(), stream=True)
        """
        record = self.record_for(request)
        record.reply = reply
        record.stream = stream
        body = record.json if isinstance(record.json, Mapping) else {}
        try:
            if reply.faults.headers_delay > 0:
                await asyncio.sleep(reply.faults.headers_delay)
            if reply.error_type is not None:
                return self.error_response(
                    record, reply.status, reply.error_type, reply.error_message or "", reply.headers
                )
            if not reply.streams:
                hdrs = self.response_headers(record, reply.headers)
                hdrs.setdefault("content-type", reply.content_type)
                return web.Response(status=reply.status, body=reply.body or b"", headers=hdrs)
            frames = reply.frames(body)
            if not stream:
                return self._non_streamed(record, reply, frames)
            return await self._stream(request, record, reply, frames, frame_encoder, content_type)
        except asyncio.CancelledError:
            if not self._closing and not record.reset:
                self._mark_disconnected(record)
            raise

    def _non_streamed(self, record: RecordedRequest, reply: Reply, frames: list[bytes]) -> web.Response:
        faults = reply.faults
        if faults.error_after is not None:
            status = ERROR_STATUS.get(faults.error_type, 500)
            return self.error_response(record, status, faults.error_type, _error_message(faults), reply.headers)
        events = events_from_sse(b"".join(frames))
        for ev in events:
            if ev.get("type") == "error":
                err = ev.get("error") or {}
                etype = str(err.get("type", "api_error"))
                msg = str(err.get("message", ""))
                return self.error_response(record, ERROR_STATUS.get(etype, 500), etype, msg, reply.headers)
        message = accumulate(events)
        hdrs = self.response_headers(record, reply.headers)
        hdrs["content-type"] = "application/json"
        return web.Response(status=200, body=orjson.dumps(message), headers=hdrs)

    def _mark_disconnected(self, record: RecordedRequest) -> None:
        if record.disconnected:
            return
        record.disconnected = True
        record._gone.set()
        self._disconnects.append(record)
        self._notify()

    # -- streaming ------------------------------------------------------------------------------

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: Reply,
        frames: list[bytes],
        encoder: FrameEncoder | None,
        content_type: str,
    ) -> web.StreamResponse:
        faults = reply.faults
        frames = _apply_faults(frames, faults)
        hdrs = {"content-type": content_type, "cache-control": "no-cache"}
        hdrs.update(self.response_headers(record, reply.headers))
        resp = web.StreamResponse(status=200, headers=hdrs)
        resp.enable_chunked_encoding()

        task = asyncio.current_task()
        if task is not None:
            self._stream_tasks.add(task)
        self._open_streams += 1
        self._notify()
        try:
            await resp.prepare(request)
            await _Pump(resp, request, record, faults, encoder).run(frames)
            await resp.write_eof()
            record.completed = True
        except _ResetDone:
            pass
        except ConnectionError:
            if not record.reset:
                self._mark_disconnected(record)
        finally:
            self._open_streams -= 1
            if task is not None:
                self._stream_tasks.discard(task)
            self._notify()
        return resp

    # -- routes ---------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = b""
        too_large = False
        if not request.content_type.startswith("multipart/"):  # leave multipart to the handler
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                too_large = True
        parsed: Any = None
        if raw:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=request.headers.copy(),
            body=raw,
            json=parsed,
            request_id=make_id("req_011C", 20, self._rng),
            started_at=time.monotonic(),
        )
        self.requests.append(record)
        self._by_request[id(request)] = record
        self._notify()
        try:
            resp: web.StreamResponse
            if too_large:
                resp = self.error_response(
                    record, 413, "request_too_large", "Request exceeds the maximum allowed number of bytes."
                )
                record.status = resp.status
                return resp
            try:
                resp = await handler(request)
            except web.HTTPException as exc:
                record.status = exc.status
                if exc.status not in (404, 405) or exc.content_type == "application/json":
                    raise
                etype = "not_found_error" if exc.status == 404 else "invalid_request_error"
                resp = self.error_response(record, exc.status, etype, exc.reason)
            record.status = resp.status
            if isinstance(resp, web.Response):
                record.completed = True
            return resp
        finally:
            self._by_request.pop(id(request), None)
            record.ended_at = time.monotonic()
            record._finished.set()
            self._notify()

    def check_auth(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """The real API's 401/400 for a missing or wrong key or a missing version; else ``None``.

        Shared by every route (Messages, Files, and any a plugin adds).
        """
        key = request.headers.get("x-api-key", "")
        if not key:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                key = auth[7:].strip()
        if not key:
            return self.error_response(record, 401, "authentication_error", "x-api-key header is required")
        if self.require_key and key != self.api_key:
            return self.error_response(record, 401, "authentication_error", "invalid x-api-key")
        if self.require_version and not request.headers.get("anthropic-version"):
            return self.error_response(record, 400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def _check_request(
        self, request: web.Request, record: RecordedRequest, fields: Sequence[str]
    ) -> web.Response | None:
        denied = self.check_auth(request, record)
        if denied is not None:
            return denied
        body = record.json
        if body is None:
            return self.error_response(
                record,
                400,
                "invalid_request_error",
                "There was an issue with your request body: invalid JSON",
            )
        if not isinstance(body, dict):
            return self.error_response(record, 400, "invalid_request_error", "Input should be a valid dictionary")
        problem = _validate(body, fields) or check_structured(body) or self.files.check_content(body)
        if problem is not None:
            return self.error_response(record, 400, "invalid_request_error", problem)
        return None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        record = self.record_for(request)
        bad = self._check_request(request, record, ("model", "max_tokens", "messages"))
        if bad is not None:
            return bad
        return await self.serve_reply(request, self.next_reply(), stream=record.json.get("stream") is True)

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        record = self.record_for(request)
        bad = self._check_request(request, record, ("model", "messages"))
        if bad is not None:
            return bad
        size = len(orjson.dumps(record.json.get("messages"))) + len(orjson.dumps(record.json.get("system", "")))
        hdrs = self.response_headers(record)
        hdrs["content-type"] = "application/json"
        return web.Response(body=orjson.dumps({"input_tokens": max(1, size // 4)}), headers=hdrs)


SERVER_KEY: web.AppKey[MockServer] = web.AppKey("rxclaude_mock_server", MockServer)
"""``request.app[SERVER_KEY]`` is the :class:`MockServer` (for route handlers added by plugins)."""


def _validate(body: Mapping[str, Any], fields: Sequence[str]) -> str | None:
    for name in fields:
        if name not in body:
            return f"{name}: Field required"
        value = body[name]
        if name == "model" and not isinstance(value, str):
            return "model: Input should be a valid string"
        if name == "max_tokens":
            if not isinstance(value, int) or isinstance(value, bool):
                return "max_tokens: Input should be a valid integer"
            if value < 1:
                return "max_tokens: Input should be greater than or equal to 1"
        if name == "messages":
            if not isinstance(value, list):
                return "messages: Input should be a valid list"
            if not value:
                return "messages: at least one message is required"
    return None


def _error_message(faults: Faults) -> str:
    return faults.error_message or DEFAULT_ERROR_MESSAGES.get(faults.error_type, "Internal server error")


def _error_frame(faults: Faults) -> bytes:
    body = orjson.dumps(
        {
            "type": "error",
            "error": {"details": None, "type": faults.error_type, "message": _error_message(faults)},
        }
    )
    return b"event: error\ndata: " + body[:-1] + b"      }\n\n"


def _apply_faults(frames: list[bytes], faults: Faults) -> list[bytes]:
    out = list(frames)
    if faults.close_after is not None:
        out = out[: faults.close_after]
    if faults.error_after is not None:
        out = [*out[: faults.error_after], _error_frame(faults)]
    if faults.malformed_after is not None and faults.malformed_after <= len(out):
        out.insert(faults.malformed_after, _MALFORMED)
    return out


class _Pump:
    """Writes frames with pacing, pings, stalls, re-chunking and the connection reset."""

    def __init__(
        self,
        resp: web.StreamResponse,
        request: web.Request,
        record: RecordedRequest,
        faults: Faults,
        encoder: FrameEncoder | None,
    ) -> None:
        self.resp = resp
        self.request = request
        self.record = record
        self.faults = faults
        self.encoder = encoder
        self.loop = asyncio.get_running_loop()
        self.last_ping = self.loop.time()
        self.chunk = 1 if faults.drip else faults.chunk_size
        self.pending = bytearray()  # re-chunked bytes not yet written (``chunk_size``)

    async def run(self, frames: list[bytes]) -> None:
        f = self.faults
        tick = 1.0 / f.tokens_per_second if f.tokens_per_second else 0.0
        due = self.loop.time()
        if f.reset_after_bytes == 0:
            await self._reset()
        for i, frame in enumerate(frames):
            if f.stall_after is not None and i == f.stall_after:
                await self._flush()
                await asyncio.sleep(f.stall_seconds)
                due = self.loop.time()
            if i > 0:
                gap = f.delay + (tick if tick and frame_event(frame) == "content_block_delta" else 0.0)
                if gap > 0:
                    await self._flush()
                    due = max(due, self.loop.time() - 0.05) + gap
                    await self._wait_until(due)
            await self._send(frame)
            self.record.events_sent += 1
        await self._flush()
        if f.stall_after is not None and f.stall_after >= len(frames):
            await asyncio.sleep(f.stall_seconds)

    async def _wait_until(self, until: float) -> None:
        every = self.faults.ping_every
        while True:
            now = self.loop.time()
            if every is not None and self.last_ping + every < until:
                await asyncio.sleep(max(0.0, self.last_ping + every - now))
                await self._send(PING_FRAME)
                await self._flush()
                self.last_ping = self.loop.time()
                continue
            if until > now:
                await asyncio.sleep(until - now)
            return

    async def _send(self, frame: bytes) -> None:
        data = self.encoder(frame) if self.encoder is not None else frame
        if self.chunk is None:
            await self._write(data)
            return
        self.pending += data
        while len(self.pending) >= self.chunk:
            piece = bytes(self.pending[: self.chunk])
            del self.pending[: self.chunk]
            await self._write(piece)
            await asyncio.sleep(0)  # let each piece leave as its own write

    async def _flush(self) -> None:
        if self.pending:
            piece = bytes(self.pending)
            self.pending.clear()
            await self._write(piece)

    async def _write(self, piece: bytes) -> None:
        limit = self.faults.reset_after_bytes
        if limit is not None and self.record.bytes_sent + len(piece) >= limit:
            cut = limit - self.record.bytes_sent
            if cut > 0:
                await self.resp.write(piece[:cut])
                self.record.bytes_sent += cut
            await self._reset()
        await self.resp.write(piece)
        self.record.bytes_sent += len(piece)

    async def _reset(self) -> None:
        transport = self.request.transport
        self.record.reset = True
        if transport is not None:
            for _ in range(200):
                if transport.is_closing() or transport.get_write_buffer_size() == 0:
                    break
                await asyncio.sleep(0.005)
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        raise _ResetDone
