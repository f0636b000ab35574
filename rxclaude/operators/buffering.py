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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SingleAssignmentDisposable

from rxclaude.core.errors import BufferOverflowError

__all__ = [
    "Buffer",
    "BufferStats",
    "Overflow",
    "buffered",
    "cancel_on",
    "check_policy",
    "resolve_waiter",
    "running_loop",
    "spawn",
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


def check_policy(maxsize: int, overflow: str) -> None:
    if not isinstance(maxsize, int) or maxsize < 1:
        raise ValueError(f"maxsize must be a positive int, got {maxsize!r}")
    if overflow not in _POLICIES:
        raise ValueError(f"overflow must be one of {_POLICIES}, got {overflow!r}")


def resolve_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Buffer(Generic[_T]):
    """One subscriber's bounded queue plus its terminal notification (internal)."""

    __slots__ = ("_cap", "_ended", "_error", "_items", "_lock", "_loop", "_thread", "_waiter", "stats")

    def __init__(self, maxsize: int, overflow: Overflow) -> None:
        check_policy(maxsize, overflow)
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
            resolve_waiter(waiter)
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(resolve_waiter, waiter)
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


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def spawn(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
    task: asyncio.Task[None] = loop.create_task(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


def cancel_on(loop: asyncio.AbstractEventLoop, thread: int, task: asyncio.Task[None]) -> None:
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
    check_policy(maxsize, overflow)

    def operator(source: Observable[_T]) -> Observable[_T]:
        def subscribe(observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            loop = running_loop()
            if loop is None:
                observer.on_error(RuntimeError("ops.buffered() needs a running asyncio event loop"))
                return Disposable()
            buffer: Buffer[_T] = Buffer(maxsize, overflow)
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

            task = spawn(loop, pump())
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
                cancel_on(loop, thread, task)

            return Disposable(dispose)

        return Observable(subscribe)

    return operator


# -- sink handles ----------------------------------------------------------------------------------
