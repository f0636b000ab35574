"""Client HTTP over aiohttp: one request per subscription, body bytes -> frames.

Strategy: :meth:`Transport.frames` returns a *cold* :class:`~rxclaude.plumbing.FrameSource`.
Subscribing starts one asyncio task on the running loop; it sends the provider's request, retries
failures before the first response byte (official SDK policy), then feeds each body chunk to the
provider's sans-I/O decoder and pushes the frames to the observer (to a
:class:`~rxclaude.core.frame.FrameSink` attached with ``attach_sink``, such as a MessageStream's
own, as the decoder's fields where it is a :class:`FieldsDecoder`: no Frame objects). Disposing cancels the task, and
cancelling closes the response's connection at once (``response.close()``, not a pooled
release), so the server sees the disconnect and stops billing. Every read runs under an idle
deadline that any byte -- pings included -- pushes back; failures surface as the typed errors of
:mod:`rxclaude.core.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, cast

import aiohttp
import orjson
from reactivex import Observable, abc

from rxclaude.core.errors import (
    APIError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    ContentStalledError,
    FirstByteTimeoutError,
    RxClaudeError,
    StreamCancelledError,
    StreamStalledError,
    TotalTimeoutError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedFeatureError,
    error_from_body,
)
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.retry import RetryPolicy
from rxclaude.plumbing import FrameSource, Once
from rxclaude.transport.base import Exchange, HTTPResponse, Response, Timeouts
from rxclaude.transport.observe import Instrumentation, RequestObserver
from rxclaude.transport.providers.base import FieldsDecoder, FrameDecoder, Provider, PushDecoder

__all__ = ["AiohttpExchange", "Transport"]

_EAGER = sys.version_info >= (3, 12)  # asyncio.Task(..., eager_start=True)


class AiohttpExchange:
    """The :class:`~rxclaude.transport.base.Exchange` over a pooled aiohttp session.

    Example:
        >>> exchange = AiohttpExchange()  # doctest: +SKIP
    """

    def __init__(self, session: aiohttp.ClientSession | None = None, *, limit: int = 100) -> None:
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session (made on first use, inside the running loop)."""
        loop = asyncio.get_running_loop()
        if self._session is not None and not self._session.closed and self._session_loop not in (None, loop):
            raise RuntimeError(
                "this rxclaude Client's connection pool belongs to another event loop: use one Client "
                "per loop, or `await client.close()` before that loop ends (a closed Client reopens "
                "on the next request)"
            )
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=30.0)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
            self._owns_session = True
        self._session_loop = loop
        return self._session

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> HTTPResponse:
        timeout = _client_timeout(timeouts.connect)
        if type(headers) is not dict:
            headers = dict(headers)
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeouts.first_byte):
                response = await self.session.request(
                    method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
                )
        except TimeoutError as e:
            if isinstance(e, (aiohttp.ServerTimeoutError, aiohttp.ConnectionTimeoutError)) or (
                timeouts.connect is not None and "connect" in str(e).lower()
            ):
                raise ConnectTimeoutError(
                    f"could not connect within {timeouts.connect}s", timeout=timeouts.connect
                ) from None
            waited = time.monotonic() - started
            raise FirstByteTimeoutError(
                f"no response within first_byte={timeouts.first_byte}s (waited {waited:.1f}s)",
                timeout=timeouts.first_byte,
            ) from None
        except aiohttp.ClientConnectorError as e:
            raise ConnectError(f"cannot connect to {e.host}:{e.port}: {e.os_error}") from None
        except aiohttp.ClientError as e:
            raise ConnectionLostError(f"connection failed before the response: {e}") from None
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            if not self._session.closed:
                await self._session.close()
            self._session = None  # a new pool on next use; a session you gave us stays yours


class _AiohttpResponse:
    """An aiohttp response as an :class:`~rxclaude.transport.base.HTTPResponse`."""

    __slots__ = ("close", "headers", "read_chunk", "release", "response", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.status = response.status
        self.headers = response.headers
        lost = _close_delimited_watch(response)  # a reset there looks like a clean end to aiohttp
        self.read_chunk = response.content.readany if lost is None else _checked(response.content.readany, lost)
        self.release = response.release
        self.close = response.close


class Transport:
    """Turns provider requests into cold frame Observables, over an :class:`~rxclaude.transport.base.Exchange`
    (by default :class:`AiohttpExchange`, a pooled aiohttp session).

    Example:
        >>> transport = Transport()                     # doctest: +SKIP
        >>> frames = transport.frames(provider, params)  # doctest: +SKIP
    """

    def __init__(
        self, session: aiohttp.ClientSession | None = None, *, limit: int = 100, exchange: Exchange | None = None
    ) -> None:
        self.exchange: Exchange = exchange if exchange is not None else AiohttpExchange(session, limit=limit)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session (the Files API's REST calls share its pool)."""
        if not isinstance(self.exchange, AiohttpExchange):
            raise UnsupportedFeatureError(
                f"this transport ({type(self.exchange).__name__}) has no aiohttp session: "
                "the Files API needs the HTTP transport"
            )
        return self.exchange.session

    @property
    def open_requests(self) -> int:
        """How many request tasks are running now (0 after every stream ended or was cancelled)."""
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel running requests and close the session (if this transport made it)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.exchange.aclose()

    def frames(
        self,
        provider: Provider,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = "/v1/messages",
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        on_response: Callable[[Response], None] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        body: bytes | None = None,
        instrumentation: Instrumentation | None = None,
    ) -> Observable[Frame]:
        """A cold Observable: each subscription sends one request and emits its frames.

        ``body``: the request body, already encoded (``provider.encode``); every request and
        retry sends it as it is. ``instrumentation``: asked, per subscription, for a
        :class:`~rxclaude.transport.observe.RequestObserver` (tracing). Must be subscribed on a
        thread with a running asyncio loop (Jupyter has one).
        """

        def open(
            observer: FrameObserver, sink: FrameSink | None, scheduler: abc.SchedulerBase | None
        ) -> abc.DisposableBase:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                observer.on_error(
                    RuntimeError(
                        "rxclaude streams run on an asyncio loop: subscribe inside `async def` code "
                        "(or a notebook cell), or use asyncio.run()"
                    )
                )
                return Once()
            disposed = [False]
            watch = None if instrumentation is None else instrumentation.request(provider.name, params, tuple(betas))
            coro = self._run(
                provider,
                params,
                betas,
                path,
                body,
                timeouts,
                retry,
                observer,
                sink,
                on_response,
                on_chunk,
                disposed,
                watch,
            )
            if _EAGER and loop.get_task_factory() is None:
                # Python 3.12+: run the request's first steps now (up to sending it) instead of
                # after the caller's next await; nothing can arrive before that first suspension.
                task: asyncio.Task[None] = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
            else:
                task = loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

            def dispose() -> None:
                disposed[0] = True
                task.cancel()

            return Once(dispose)

        return FrameSource(open)  # subscribing only starts a task: no trampoline needed

    async def _run(
        self,
        provider: Provider,
        params: Mapping[str, Any],
        betas: Sequence[str],
        path: str,
        body: bytes | None,
        timeouts: Timeouts,
        retry: RetryPolicy,
        observer: FrameObserver,
        sink: FrameSink | None,
        on_response: Callable[[Response], None] | None,
        on_chunk: Callable[[bytes], None] | None,
        disposed: list[bool],
        watch: RequestObserver | None = None,
    ) -> None:
        failures: list[Exception] = []  # what each retried attempt failed with
        try:
            async with asyncio.timeout(timeouts.total) if timeouts.total is not None else _NO_TIMEOUT:
                await self._attempts(
                    provider,
                    params,
                    betas,
                    path,
                    body,
                    timeouts,
                    retry,
                    observer,
                    sink,
                    on_response,
                    on_chunk,
                    failures,
                    watch,
                )
            if watch is not None:
                watch.end(None)
        except asyncio.CancelledError as e:
            if watch is not None:
                watch.end(e)
            # Cancelled by the subscriber's dispose: it asked for silence. Cancelled by anything
            # else (``close()``, loop shutdown): tell the subscriber, or an ``await`` on the
            # stream would wait forever.
            if not disposed[0]:
                with contextlib.suppress(Exception):
                    observer.on_error(StreamCancelledError("the request was cancelled: the transport closed"))
            raise
        except TimeoutError as e:
            # ``asyncio.timeout(total)`` turns its own expiry into a bare TimeoutError; every
            # other timeout is already typed (FirstByteTimeoutError, StreamStalledError...).
            if isinstance(e, RxClaudeError):
                if watch is not None:
                    watch.end(e)
                observer.on_error(e)
                return
            last = f"; the last attempt failed with {type(failures[-1]).__name__}: {failures[-1]}" if failures else ""
            error = TotalTimeoutError(f"request took longer than total={timeouts.total}s{last}", timeout=timeouts.total)
            error.__cause__ = failures[-1] if failures else None
            if watch is not None:
                watch.end(error)
            observer.on_error(error)
        except Exception as e:
            if watch is not None:
                watch.end(e)
            observer.on_error(e)
        finally:
            # These frames can outlive the request: a cancellation's traceback keeps them (with
            # asyncio's own cycle through the future it interrupted). Their locals must not keep
            # the subscriber -- a stream and its whole message -- alive until a full GC too.
            del observer, sink, on_response, watch

    async def _attempts(
        self,
        provider: Provider,
        params: Mapping[str, Any],
        betas: Sequence[str],
        path: str,
        body: bytes | None,
        timeouts: Timeouts,
        retry: RetryPolicy,
        observer: FrameObserver,
        sink: FrameSink | None,
        on_response: Callable[[Response], None] | None,
        on_chunk: Callable[[bytes], None] | None,
        failures: list[Exception],
        watch: RequestObserver | None = None,
    ) -> None:
        try:
            retries = 0
            if body is None:
                body = provider.encode(params, betas)  # once: every attempt sends the same bytes
            while True:
                request = await provider.build_request(params, betas=betas, path=path, body=body)
                headers = request.headers
                if watch is not None:
                    headers = dict(headers)
                    watch.attempt(retries, request.method, request.url, headers)
                try:
                    response = await self.exchange.send(request.method, request.url, headers, request.body, timeouts)
                except (TransportError, ConnectionError) as e:
                    if watch is not None:
                        watch.attempt_failed(e, None)
                    if retries < retry.max_retries and not isinstance(e, TotalTimeoutError):
                        failures.append(e)
                        await asyncio.sleep(retry.delay(retries))
                        retries += 1
                        continue
                    raise
                try:
                    if response.status >= 400:
                        error_body = await self._read_error_body(response, timeouts)
                        error = provider.error_from_response(response.status, response.headers, error_body)
                        if watch is not None:
                            head = Response(response.status, response.headers, _request_id(response.headers), retries)
                            watch.attempt_failed(error, head)
                        if retries < retry.max_retries and retry.should_retry(response.status, response.headers):
                            failures.append(error)
                            response.release()
                            await asyncio.sleep(retry.delay(retries, response.headers))
                            retries += 1
                            continue
                        if on_response is not None:  # status, request id and retry-after of the failure
                            on_response(
                                Response(response.status, response.headers, _request_id(response.headers), retries)
                            )
                        raise error
                    if not _is_stream(response):  # a proxy's page, a JSON body, a redirect
                        error = _not_a_stream(response, await self._read_error_body(response, timeouts))
                        if watch is not None:
                            head = Response(response.status, response.headers, _request_id(response.headers), retries)
                            watch.attempt_failed(error, head)
                        if retries < retry.max_retries and error.retryable:
                            failures.append(error)
                            await asyncio.sleep(retry.delay(retries, response.headers))
                            retries += 1
                            continue
                        if on_response is not None:
                            on_response(
                                Response(response.status, response.headers, _request_id(response.headers), retries)
                            )
                        raise error
                    if on_response is not None or watch is not None:
                        head = Response(response.status, response.headers, _request_id(response.headers), retries)
                        if on_response is not None:
                            on_response(head)
                        if watch is not None:
                            watch.response(head)
                    await self._pump(response, provider, timeouts, observer, sink, on_chunk, watch)
                    return
                finally:
                    response.close()  # closes the connection unless fully read and released
        finally:
            del observer, sink, on_response  # (see _run)

    async def _read_error_body(self, response: HTTPResponse, timeouts: Timeouts, limit: int = 1 << 20) -> bytes:
        """The error body, whole (up to ``limit`` bytes); what arrived if it fails or stalls."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(timeouts.idle):
                while size < limit:
                    chunk = await response.read_chunk()
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass
        return b"".join(chunks)

    async def _pump(
        self,
        response: HTTPResponse,
        provider: Provider,
        timeouts: Timeouts,
        observer: FrameObserver,
        sink: FrameSink | None,
        on_chunk: Callable[[bytes], None] | None,
        watch: RequestObserver | None = None,
    ) -> None:
        decoder = provider.new_decoder()
        push: Callable[..., None]
        emit: Callable[..., None]
        fields = False  # emit takes a frame's fields (the lean route), not a Frame
        on_next = observer.on_next if watch is None else _tap_frames(watch, observer.on_next)
        if sink is not None and isinstance(decoder, FieldsDecoder):
            emit = sink.on_fields if watch is None else _tap_fields(watch, sink.on_fields)
            push, fields = decoder.push_fields, True  # the lean route: no Frame built
        elif isinstance(decoder, PushDecoder):
            push, emit = decoder.push, on_next
        else:
            push, emit = _push_of(decoder), on_next
        feed: Callable[[bytes], None] = functools.partial(cast(Any, push), emit=emit)  # frames go out when decoded

        read = response.read_chunk
        idle, content = timeouts.idle, timeouts.content
        watchdog = _IdleWatchdog(idle, content) if idle is not None or content is not None else None
        try:
            while True:
                try:
                    chunk = await read()
                except asyncio.CancelledError:
                    if watchdog is not None and watchdog.fired:
                        watchdog.uncancel()
                        if watchdog.fired == "content":
                            raise ContentStalledError(
                                f"no content for content={content}s mid-stream (only pings arrived)", timeout=content
                            ) from None
                        raise StreamStalledError(f"no data for idle={idle}s mid-stream", timeout=idle) from None
                    raise
                except ConnectionLostError:
                    raise  # already says what happened (a reset on a close-delimited body)
                except (aiohttp.ClientError, ConnectionError) as e:
                    raise ConnectionLostError(f"connection lost mid-stream: {e}") from None
                if not chunk:
                    break
                if watchdog is not None:
                    watchdog.touch(b"ping" not in chunk or not _only_liveness(chunk))
                if on_chunk is not None:
                    on_chunk(chunk)
                if b"message_stop" in chunk:
                    stopped = _StopWatch(emit, fields)
                    push(chunk, stopped)
                    if stopped.seen:  # the message is complete: the body's end is all that is left
                        await _drain(read, feed, _AFTER_STOP)
                        break
                    continue
                feed(chunk)
            for frame in decoder.close():
                on_next(frame)
            observer.on_completed()
        finally:
            if watchdog is not None:
                watchdog.stop()
            del observer, sink, feed, emit, on_next  # (see _run)


class _IdleWatchdog:
    """Cancels the current task after ``idle`` seconds without :meth:`touch`, or ``content``
    seconds without a touch that carried content (``fired`` says which: "idle"/"content").

    One timer per stream, re-armed only when it fires early: a read costs one clock read, not
    the timer handle that ``asyncio.timeout`` would create per chunk.
    """

    __slots__ = ("_content", "_handle", "_idle", "_last", "_last_content", "_loop", "_task", "fired")

    def __init__(self, idle: float | None, content: float | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._idle = idle
        self._content = content
        self._last = self._last_content = self._loop.time()
        self.fired = ""
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._deadline()[0], self._check)

    def touch(self, content: bool = True) -> None:
        self._last = now = self._loop.time()
        if content:
            self._last_content = now

    def _deadline(self) -> tuple[float, str]:
        idle = self._last + self._idle if self._idle is not None else float("inf")
        content = self._last_content + self._content if self._content is not None else float("inf")
        return (idle, "idle") if idle <= content else (content, "content")

    def _check(self) -> None:
        deadline, which = self._deadline()
        if self._loop.time() >= deadline:
            self.fired = which
            self._handle = None
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def uncancel(self) -> None:
        self._task.uncancel()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _tap_fields(
    watch: RequestObserver, emit: Callable[[str, bytes, str | None, int | None], None]
) -> Callable[[str, bytes, str | None, int | None], None]:
    """``emit`` that shows each frame to ``watch`` first (only an observed request has it)."""
    see = watch.frame
    deltas = True  # whether ``watch`` still wants content_block_delta frames

    def tapped(event: str, data: bytes, id: str | None, retry: int | None) -> None:
        nonlocal deltas
        if event != "content_block_delta":
            see(event, data)
        elif deltas:
            deltas = see(event, data)
        emit(event, data, id, retry)

    return tapped


def _tap_frames(watch: RequestObserver, emit: Callable[[Frame], None]) -> Callable[[Frame], None]:
    """``emit`` that shows each frame to ``watch`` first."""
    see = watch.frame
    deltas = True

    def tapped(frame: Frame) -> None:
        nonlocal deltas
        if frame.event != "content_block_delta":
            see(frame.event, frame.data)
        elif deltas:
            deltas = see(frame.event, frame.data)
        emit(frame)

    return tapped


def _pushing(decoder: FrameDecoder, emit: Callable[[Frame], None]) -> Callable[[bytes], None]:
    """Feed a decoder that only has ``feed()``, emitting the frames of each chunk."""
    feed = decoder.feed

    def push(data: bytes) -> None:
        for frame in feed(data):
            emit(frame)

    return push


def _push_of(decoder: FrameDecoder) -> Callable[..., None]:
    """``push(data, emit)`` for a decoder that only has ``feed()``."""

    def push(data: bytes, emit: Callable[[Frame], None]) -> None:
        _pushing(decoder, emit)(data)

    return push


_NO_TIMEOUT = contextlib.nullcontext()
_LIVENESS = (b"event: ping", b'data: {"type": "ping"}', b'data: {"type":"ping"}')


def _only_liveness(chunk: bytes) -> bool:
    """Whether a chunk holds nothing but ping frames and blank lines (no content)."""
    for token in _LIVENESS:
        chunk = chunk.replace(token, b"")
    return not chunk.strip()


_AFTER_STOP = 0.5  # seconds a body may take to end after message_stop before it is closed


async def _drain(read: Callable[[], Awaitable[bytes]], feed: Callable[[bytes], None], grace: float) -> None:
    """Read to the body's end (its terminator usually came with message_stop), so the
    connection goes back to the pool; a body that does not end within ``grace`` seconds is left
    for the caller to close. Anything after message_stop still reaches the raw frames."""
    try:
        async with asyncio.timeout(grace):
            while chunk := await read():
                feed(chunk)
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        pass  # closed by the caller: the message is complete either way


class _StopWatch:
    """An ``emit`` that notes when the ``message_stop`` frame has gone out."""

    __slots__ = ("_emit", "_fields", "seen")

    def __init__(self, emit: Callable[..., None], fields: bool) -> None:
        self._emit = emit
        self._fields = fields
        self.seen = False

    def __call__(self, *args: Any) -> None:
        self._emit(*args)
        event = args[0] if self._fields else getattr(args[0], "event", None)
        if event == "message_stop":
            self.seen = True


def _is_stream(response: HTTPResponse) -> bool:
    """A 2xx whose content type (when there is one) is an event stream (SSE or Bedrock's)."""
    if not 200 <= response.status < 300:
        return False
    content_type = response.headers.get("content-type", "").lower()
    return not content_type or "event-stream" in content_type or "eventstream" in content_type


def _not_a_stream(response: HTTPResponse, body: bytes) -> APIError:
    """The error for a response that is not the stream, typed from its body when it can be."""
    status, headers = response.status, response.headers
    content_type = headers.get("content-type")
    if 300 <= status < 400:
        location = headers.get("location")
        return UnexpectedResponseError(
            f"HTTP {status} redirect to {location or '(no location)'}: rxclaude does not follow redirects "
            "(a redirected POST loses its body); set base_url to the final address",
            status_code=status,
            request_id=_request_id(headers),
            headers=headers,
            content_type=content_type,
            location=location,
        )
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
        text = body[:300].decode("utf-8", "replace").strip()
        return UnexpectedResponseError(
            f"HTTP {status} with a {content_type or 'untyped'} body instead of an event stream "
            f"(a proxy's page?): {text!r}",
            status_code=status,
            request_id=_request_id(headers),
            body=text,
            headers=headers,
            content_type=content_type,
            transient=True,  # not JSON: the official SDK treats it as transient too
        )
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return error_from_body(parsed, status_code=status, headers=headers)  # e.g. an overloaded_error
    return UnexpectedResponseError(
        f"HTTP {status} with a JSON body instead of an event stream: {body[:300].decode('utf-8', 'replace')!r}",
        status_code=status,
        request_id=_request_id(headers),
        body=parsed,
        headers=headers,
        content_type=content_type,
    )


def _close_delimited_watch(response: aiohttp.ClientResponse) -> asyncio.Future[None] | None:
    """For a body that ends when the connection closes (no length, not chunked): a future that
    holds the connection's loss, so a reset is told from a clean end (aiohttp sees both as EOF)."""
    headers = response.headers
    if "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
        return None
    try:
        closed: asyncio.Future[None] | None = response.connection.protocol.closed  # type: ignore[union-attr]
    except AttributeError:
        return None
    if closed is not None:
        closed.add_done_callback(_retrieve)
    return closed


def _checked(
    read: Callable[[], Awaitable[bytes]], lost: asyncio.Future[None]
) -> Callable[[], Coroutine[Any, Any, bytes]]:
    """``read`` for a close-delimited body: its end raises if the connection was reset."""

    async def read_chunk() -> bytes:
        chunk = await read()
        if not chunk and lost.done() and not lost.cancelled():
            cause = lost.exception()
            if cause is not None:
                message = f"connection reset before the (close-delimited) body ended: {cause}"
                raise ConnectionLostError(message) from cause
        return chunk

    return read_chunk


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # read, so asyncio never logs it as unretrieved


@functools.lru_cache(maxsize=8)
def _client_timeout(connect: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's own timeouts: only the connect one (the rest are ours, typed)."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect, sock_read=None)


def _request_id(headers: Mapping[str, str]) -> str | None:
    """The request id under the first-party, Bedrock or Vertex header name."""
    return headers.get("request-id") or headers.get("x-amzn-requestid") or headers.get("x-request-id")
