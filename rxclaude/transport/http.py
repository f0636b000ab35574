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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
from reactivex import Observable, abc

from rxclaude.core.errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    FirstByteTimeoutError,
    RxClaudeError,
    StreamCancelledError,
    StreamStalledError,
    TotalTimeoutError,
    TransportError,
    UnsupportedFeatureError,
)
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.retry import RetryPolicy
from rxclaude.plumbing import FrameSource, Once
from rxclaude.transport.base import Exchange, HTTPResponse, Response, Timeouts
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
        self.read_chunk = response.content.readany
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
    ) -> Observable[Frame]:
        """A cold Observable: each subscription sends one request and emits its frames.

        ``body``: the request body, already encoded (``provider.encode``); every request and
        retry sends it as it is. Must be subscribed on a thread with a running asyncio loop
        (Jupyter has one).
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
            coro = self._run(
                provider, params, betas, path, body, timeouts, retry, observer, sink, on_response, on_chunk, disposed
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
                )
        except asyncio.CancelledError:
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
                observer.on_error(e)
                return
            last = f"; the last attempt failed with {type(failures[-1]).__name__}: {failures[-1]}" if failures else ""
            error = TotalTimeoutError(f"request took longer than total={timeouts.total}s{last}", timeout=timeouts.total)
            error.__cause__ = failures[-1] if failures else None
            observer.on_error(error)
        except Exception as e:
            observer.on_error(e)
        finally:
            # These frames can outlive the request: a cancellation's traceback keeps them (with
            # asyncio's own cycle through the future it interrupted). Their locals must not keep
            # the subscriber -- a stream and its whole message -- alive until a full GC too.
            del observer, sink, on_response

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
    ) -> None:
        try:
            retries = 0
            if body is None:
                body = provider.encode(params, betas)  # once: every attempt sends the same bytes
            while True:
                request = await provider.build_request(params, betas=betas, path=path, body=body)
                try:
                    response = await self.exchange.send(
                        request.method, request.url, request.headers, request.body, timeouts
                    )
                except (TransportError, ConnectionError) as e:
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
                    if on_response is not None:
                        on_response(Response(response.status, response.headers, _request_id(response.headers), retries))
                    await self._pump(response, provider, timeouts, observer, sink, on_chunk)
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
    ) -> None:
        decoder = provider.new_decoder()
        feed: Callable[[bytes], None]  # each frame goes out as soon as it is decoded
        if sink is not None and isinstance(decoder, FieldsDecoder):
            feed = functools.partial(decoder.push_fields, emit=sink.on_fields)  # the lean route: no Frame built
        elif isinstance(decoder, PushDecoder):
            feed = functools.partial(decoder.push, emit=observer.on_next)
        else:
            feed = _pushing(decoder, observer.on_next)

        read = response.read_chunk
        watchdog = _IdleWatchdog(timeouts.idle) if timeouts.idle is not None else None
        try:
            while True:
                try:
                    chunk = await read()
                except asyncio.CancelledError:
                    if watchdog is not None and watchdog.fired:
                        watchdog.uncancel()
                        raise StreamStalledError(
                            f"no data for idle={timeouts.idle}s mid-stream", timeout=timeouts.idle
                        ) from None
                    raise
                except (aiohttp.ClientError, ConnectionError) as e:
                    raise ConnectionLostError(f"connection lost mid-stream: {e}") from None
                if watchdog is not None:
                    watchdog.touch()
                if not chunk:
                    break
                if on_chunk is not None:
                    on_chunk(chunk)
                feed(chunk)
            for frame in decoder.close():
                observer.on_next(frame)
            observer.on_completed()
        finally:
            if watchdog is not None:
                watchdog.stop()
            del observer, sink, feed  # (see _run)


class _IdleWatchdog:
    """Cancels the current task after ``idle`` seconds without :meth:`touch`.

    One timer per stream, re-armed only when it fires early: a read costs one clock read, not
    the timer handle that ``asyncio.timeout`` would create per chunk.
    """

    __slots__ = ("_handle", "_idle", "_last", "_loop", "_task", "fired")

    def __init__(self, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._idle = idle
        self._last = self._loop.time()
        self.fired = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._last + idle, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        deadline = self._last + self._idle
        if self._loop.time() >= deadline:
            self.fired = True
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


def _pushing(decoder: FrameDecoder, emit: Callable[[Frame], None]) -> Callable[[bytes], None]:
    """Feed a decoder that only has ``feed()``, emitting the frames of each chunk."""
    feed = decoder.feed

    def push(data: bytes) -> None:
        for frame in feed(data):
            emit(frame)

    return push


_NO_TIMEOUT = contextlib.nullcontext()


@functools.lru_cache(maxsize=8)
def _client_timeout(connect: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's own timeouts: only the connect one (the rest are ours, typed)."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect, sock_read=None)


def _request_id(headers: Mapping[str, str]) -> str | None:
    """The request id under the first-party, Bedrock or Vertex header name."""
    return headers.get("request-id") or headers.get("x-amzn-requestid") or headers.get("x-request-id")
