"""Bounded, per-subscriber buffers for asyncio consumers: ``aiter``, ``buffered``, ``to_async_sink``.

Strategy: Rx is push-based. A source calls ``on_next`` when it wants to, and nothing can make it
wait, so a consumer that is slower than its source needs a buffer. If that buffer is unbounded,
you get the out-of-memory bug that streaming clients keep shipping (a tee that keeps the whole
output). Here every buffer belongs to one subscription and holds at most ``maxsize`` values. When
it is full, a documented overflow policy applies. ``on_completed`` and ``on_error`` are kept
beside the values and never dropped. Values are pushed under a small lock, so any thread may
push. The consumer is woken on its event loop: directly when the push happens on the loop's
thread, and through ``loop.call_soon_threadsafe`` only when it does not.

Overflow policies (``Overflow``):

* ``"error"``: the subscription to the source is disposed. The values already buffered are
  still delivered, then :class:`BufferOverflowError`. You learn exactly where the gap begins.
* ``"drop_oldest"``: the oldest buffered value is discarded to make room. You keep the newest
  ``maxsize`` values.
* ``"latest"``: only the newest value is kept (``maxsize`` is ignored). This is conflation,
  right for snapshots and progress, wrong for text deltas.

There is no ``"block"`` policy. It would need a source that can wait, and an Observable's
``on_next`` cannot: stalling it would stall the event loop, and with it the source and every
other subscriber. A pull-based source such as an ``async for`` over the HTTP body is the only
place to apply back-pressure.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SingleAssignmentDisposable

from .errors import BufferOverflowError

__all__ = [
    "BufferOverflowError",
    "BufferStats",
    "BufferedIterator",
    "Overflow",
    "SinkHandle",
    "aiter",
    "buffered",
    "to_async_sink",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

Overflow = Literal["error", "drop_oldest", "latest"]
_POLICIES = ("error", "drop_oldest", "latest")
_SLICE = 0.005  # seconds a pump may deliver values before it yields to the event loop
_TASKS: set[asyncio.Task[None]] = set()  # strong references to running pumps


@dataclass(slots=True)
class BufferStats:
    """Live counters for one buffer (they update in place).

    ``received == delivered + dropped + size`` holds at all times. ``high_water`` is the
    largest number of values the buffer ever held, and it never exceeds ``maxsize``.

    Example:
        >>> it = rxclaude.aiter(source, maxsize=64, overflow="drop_oldest")  # doctest: +SKIP
        >>> it.stats.dropped  # doctest: +SKIP
    """

    maxsize: int
    overflow: Overflow
    received: int = 0
    delivered: int = 0
    dropped: int = 0
    high_water: int = 0

    @property
    def size(self) -> int:
        """How many values are waiting now."""
        return self.received - self.delivered - self.dropped


def _check(maxsize: int, overflow: str) -> None:
    if not isinstance(maxsize, int) or maxsize < 1:
        raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
    if overflow not in _POLICIES:
        raise ValueError(f"overflow must be one of {_POLICIES}, got {overflow!r}")


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Buffer(Generic[_T]):
    """One subscriber's bounded queue plus its terminal notification (internal)."""

    __slots__ = ("_cap", "_ended", "_error", "_items", "_lock", "_loop", "_thread", "_waiter", "stats")

    def __init__(self, maxsize: int, overflow: Overflow) -> None:
        _check(maxsize, overflow)
        self.stats = BufferStats(maxsize, overflow)
        self._cap = 1 if overflow == "latest" else maxsize
        self._items: deque[_T] = deque()
        self._lock = threading.Lock()
        self._ended = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver to ``loop``; call this on the loop's thread."""
        self._loop = loop
        self._thread = threading.get_ident()

    def push(self, value: _T) -> bool:
        """Buffer a value; ``False`` means it overflowed under ``"error"`` (dispose the source)."""
        stats = self.stats
        ok = True
        with self._lock:
            if self._ended:
                return True
            stats.received += 1
            items = self._items
            if len(items) >= self._cap:
                if stats.overflow == "drop_oldest":
                    items.popleft()
                    stats.dropped += 1
                    items.append(value)
                elif stats.overflow == "latest":
                    stats.dropped += len(items)
                    items.clear()
                    items.append(value)
                else:
                    stats.dropped += 1
                    self._ended = True
                    self._error = BufferOverflowError(stats.maxsize)
                    ok = False
            else:
                items.append(value)
                if len(items) > stats.high_water:
                    stats.high_water = len(items)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._wake(waiter)
        return ok

    def end(self, error: Exception | None = None) -> None:
        """The source ended (``error`` is ``None`` for completion); later calls are ignored."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._error = error
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._wake(waiter)

    def close(self) -> None:
        """The consumer left: drop what is buffered; ``get()`` now ends the iteration."""
        with self._lock:
            self.stats.dropped += len(self._items)
            self._items.clear()
            self._ended = True
            self._error = None
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._wake(waiter)

    def _wake(self, waiter: asyncio.Future[None]) -> None:
        if threading.get_ident() == self._thread:
            _resolve(waiter)
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(_resolve, waiter)
            except RuntimeError:  # the loop is closed: nobody is left to wake
                pass

    async def get(self) -> _T:
        """The next value; raises the source's error, or ``StopAsyncIteration`` at the end."""
        while True:
            with self._lock:
                if self._items:
                    self.stats.delivered += 1
                    return self._items.popleft()
                if self._ended:
                    error, self._error = self._error, None
                    if error is None:
                        raise StopAsyncIteration
                    raise error
                if self._waiter is not None:
                    raise RuntimeError("another task is already waiting on this buffer")
                assert self._loop is not None, "bind() the buffer to a loop first"
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None


# -- the async-iterator bridge -------------------------------------------------------------------


class BufferedIterator(AsyncIterator[_T]):
    """The async iterator :func:`aiter` returns; ``stats`` shows how far behind it is."""

    def __init__(self, source: Observable[_T], maxsize: int, overflow: Overflow) -> None:
        self._source = source
        self._buffer: _Buffer[_T] = _Buffer(maxsize, overflow)
        self._subscription = SingleAssignmentDisposable()
        self._started = False

    @property
    def stats(self) -> BufferStats:
        """Counters of this iterator's buffer."""
        return self._buffer.stats

    def __aiter__(self) -> BufferedIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        buffer = self._buffer
        if not self._started:
            self._started = True
            buffer.bind(asyncio.get_running_loop())
            subscription = self._subscription
            # The observer must not refer to ``self``: the source keeps its observer alive, and
            # this iterator has to be collectable (and so disposed) as soon as the consumer drops it.

            def on_next(value: _T) -> None:
                if not buffer.push(value):
                    subscription.dispose()

            try:
                subscription.disposable = self._source.subscribe(on_next, buffer.end, buffer.end)
            except Exception as e:
                buffer.end(e)
        try:
            return await buffer.get()
        except (StopAsyncIteration, Exception):
            self._subscription.dispose()
            raise

    async def aclose(self) -> None:
        """Stop early: dispose the subscription and drop what is buffered."""
        self._subscription.dispose()
        self._buffer.close()

    def __del__(self) -> None:
        # Leaving ``async for`` by break or exception drops the last reference: dispose then.
        try:
            self._subscription.dispose()
        except Exception:  # pragma: no cover - best effort during interpreter shutdown
            pass


def aiter(observable: Observable[_T], *, maxsize: int = 1024, overflow: Overflow = "error") -> BufferedIterator[_T]:
    """Iterate an Observable with ``async for``, through a bounded buffer.

    Subscribes when iteration starts, and values emitted during ``subscribe`` are kept. Completion
    ends the loop, and an error is raised in the consumer as the very same exception object.
    Leaving early (``break``, an exception, ``aclose()``, or dropping the iterator) disposes the
    subscription. When more than ``maxsize`` values are waiting, ``overflow`` decides what happens:
    ``"error"`` raises :class:`BufferOverflowError` after the values already buffered,
    ``"drop_oldest"`` discards the oldest, and ``"latest"`` keeps only the newest. A ``"block"``
    policy cannot exist for a push-based source (see the module docstring). ``on_next`` may come
    from another thread.

    Example:
        >>> async for piece in rxclaude.aiter(stream.text):  # doctest: +SKIP
        ...     print(piece, end="")
    """
    return BufferedIterator(observable, maxsize, overflow)


# -- decoupling slow subscribers -----------------------------------------------------------------


def _loop_or_none() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _spawn(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
    task: asyncio.Task[None] = loop.create_task(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


def _cancel_on(loop: asyncio.AbstractEventLoop, thread: int, task: asyncio.Task[None]) -> None:
    if threading.get_ident() == thread:
        task.cancel()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(task.cancel)


def buffered(
    maxsize: int = 1024,
    overflow: Overflow = "drop_oldest",
    *,
    on_stats: Callable[[BufferStats], None] | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Decouple a slow subscriber: queue values per subscription and deliver them from a task.

    The source's ``on_next`` only appends to a bounded buffer, so a slow subscriber never stalls
    the source or the other subscribers. Memory stays bounded by ``maxsize``, and ``overflow``
    works as in :func:`aiter`. The delivering task yields to the loop every few milliseconds.
    A subscriber doing blocking work still blocks the loop while it runs, so give such work to a
    thread. ``on_stats`` receives each subscription's live :class:`BufferStats`. Subscribing needs
    a running asyncio loop.

    Example:
        >>> stream.text.pipe(ops.buffered(256)).subscribe(slow_widget_update)  # doctest: +SKIP
    """
    _check(maxsize, overflow)

    def operator(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            loop = _loop_or_none()
            if loop is None:
                observer.on_error(RuntimeError("ops.buffered() needs a running asyncio event loop"))
                return Disposable()
            buffer: _Buffer[_T] = _Buffer(maxsize, overflow)
            buffer.bind(loop)
            if on_stats is not None:
                on_stats(buffer.stats)
            upstream = SingleAssignmentDisposable()
            stopped = False

            async def pump() -> None:
                nonlocal stopped
                clock = loop.time
                started = clock()
                try:
                    while True:
                        value = await buffer.get()
                        if stopped:
                            return
                        observer.on_next(value)
                        if clock() - started > _SLICE:
                            await asyncio.sleep(0)
                            started = clock()
                except StopAsyncIteration:
                    if not stopped:
                        stopped = True
                        observer.on_completed()
                except Exception as e:
                    upstream.dispose()
                    if not stopped:
                        stopped = True
                        observer.on_error(e)

            task = _spawn(loop, pump())
            thread = threading.get_ident()

            def on_next(value: _T) -> None:
                if not buffer.push(value):
                    upstream.dispose()

            upstream.disposable = source.subscribe(on_next, buffer.end, buffer.end, scheduler=scheduler)

            def dispose() -> None:
                nonlocal stopped
                stopped = True
                upstream.dispose()
                buffer.close()
                _cancel_on(loop, thread, task)

            return Disposable(dispose)

        return Observable(subscribe)

    return operator


# -- sink handles ----------------------------------------------------------------------------------


class SinkHandle(abc.DisposableBase, Generic[_R]):
    """What every rxclaude sink returns: ``dispose()`` stops it, ``await`` waits for its end.

    ``await handle`` returns :attr:`result` once the source completes or the sink is disposed. If
    the source failed, it raises the source's error instead. The error is also kept on
    :attr:`error`, because a sink never prints or swallows it. :attr:`stats` is set for buffered
    sinks. To write a sink of your own, subscribe, pass the subscription to :meth:`attach`, and
    call :meth:`finish` when the source ends.

    Example::

        handle = sinks.print_text(stream.text)
        await handle  # or handle.dispose() to stop early
    """

    def __init__(self, result: Callable[[], _R], *, on_stop: Callable[[], None] | None = None) -> None:
        self._subscription = SingleAssignmentDisposable()
        self._lock = threading.Lock()
        self._done = False
        self._disposed = False
        self._error: Exception | None = None
        self._result = result
        self._on_stop = on_stop
        self._waiters: list[asyncio.Future[None]] = []
        self.stats: BufferStats | None = None

    @property
    def done(self) -> bool:
        """Whether the sink has stopped (source ended, failed, or disposed)."""
        return self._done

    @property
    def disposed(self) -> bool:
        """Whether :meth:`dispose` stopped the sink before its source ended."""
        return self._disposed

    @property
    def error(self) -> Exception | None:
        """The source's error, if it ended with one."""
        return self._error

    @property
    def result(self) -> _R:
        """What the sink has produced so far (see each sink)."""
        return self._result()

    def dispose(self) -> None:
        """Unsubscribe and stop the sink now (idempotent)."""
        with self._lock:
            if self._done:
                return
            self._disposed = True
        self._subscription.dispose()
        self.finish(None)

    def attach(self, subscription: abc.DisposableBase) -> None:
        """Keep the sink's subscription, so that :meth:`dispose` can end it."""
        self._subscription.disposable = subscription

    def finish(self, error: Exception | None = None) -> None:
        """Mark the sink stopped (the first call wins), run ``on_stop`` and wake every awaiter."""
        with self._lock:
            if self._done:
                return
            self._done = True
            self._error = error
            waiters, self._waiters = self._waiters, []
        try:
            if self._on_stop is not None:
                self._on_stop()
        finally:
            running = _loop_or_none()
            for waiter in waiters:
                loop = waiter.get_loop()
                if loop is running:
                    _resolve(waiter)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(_resolve, waiter)

    def __await__(self) -> Generator[Any, None, _R]:
        with self._lock:
            waiter: asyncio.Future[None] | None = None
            if not self._done:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
        if waiter is not None:
            yield from waiter.__await__()
        if self._error is not None:
            raise self._error
        return self._result()

    def __repr__(self) -> str:
        state = "failed" if self._error else "disposed" if self._disposed else "done" if self._done else "running"
        return f"<{type(self).__name__} {state}>"


def to_async_sink(
    fn: Callable[[_T], Awaitable[object]],
    *,
    maxsize: int = 1024,
    overflow: Overflow = "drop_oldest",
) -> Callable[[Observable[_T]], SinkHandle[None]]:
    """Feed an async callback, one value at a time, through a bounded buffer.

    ``fn`` is awaited for each value in order. While it runs, new values wait in a buffer of
    ``maxsize`` values, governed by ``overflow`` as in :func:`aiter`, so the source never waits.
    An exception raised by ``fn`` disposes the subscription and becomes the handle's error.
    ``handle.stats`` counts what was dropped. This needs a running asyncio loop.

    Example::

        handle = stream.text.pipe(ops.to_async_sink(websocket.send_str, maxsize=256))
        await handle
    """
    _check(maxsize, overflow)

    def sink(source: Observable[_T]) -> SinkHandle[None]:
        loop = asyncio.get_running_loop()
        buffer: _Buffer[_T] = _Buffer(maxsize, overflow)
        buffer.bind(loop)
        thread = threading.get_ident()
        task: asyncio.Task[None] | None = None

        def stop() -> None:
            buffer.close()
            if task is not None and task is not asyncio.current_task(loop):
                _cancel_on(loop, thread, task)

        handle: SinkHandle[None] = SinkHandle(lambda: None, on_stop=stop)
        handle.stats = buffer.stats

        async def pump() -> None:
            try:
                while True:
                    await fn(await buffer.get())
            except StopAsyncIteration:
                handle.finish(None)
            except Exception as e:
                handle._subscription.dispose()
                handle.finish(e)

        task = _spawn(loop, pump())

        def on_next(value: _T) -> None:
            if not buffer.push(value):
                handle._subscription.dispose()

        handle.attach(source.subscribe(on_next, buffer.end, buffer.end))
        return handle

    return sink
