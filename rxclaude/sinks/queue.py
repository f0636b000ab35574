"""An asyncio queue as a sink: each value, then :data:`END` or the error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from reactivex import Observable

from rxclaude.operators.buffering import BufferOverflowError, BufferStats, Overflow
from rxclaude.sinks.handle import OwnedHandle, SinkHandle

if TYPE_CHECKING:
    pass

__all__ = [
    "END",
    "to_queue",
]

_T = TypeVar("_T")


_PENDING: set[asyncio.Task[None]] = set()  # strong references to end items waiting for room


class _End:
    """The type of :data:`END`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "rxclaude.sinks.END"


END: Final = _End()
"""What :func:`to_queue` puts after the last value when the source completes or is disposed."""


def to_queue(
    observable: Observable[_T], queue: asyncio.Queue[Any], *, overflow: Overflow = "error"
) -> SinkHandle[None]:
    """Put each value into an ``asyncio.Queue``, then :data:`END` or the error itself.

    When the source completes, and also when the handle is disposed, :data:`END` is put, so a
    consumer never waits forever. When it fails, the exception object is put. A consumer loop::

        while (item := await queue.get()) is not END:
            if isinstance(item, BaseException): raise item
            use(item)

    A full bounded queue applies ``overflow`` (see :func:`rxclaude.aiter`). Under ``"error"``
    the subscription is disposed and :class:`~rxclaude.BufferOverflowError` is put. The end
    item is never dropped: if the queue is full it waits for room. ``handle.stats`` counts the
    values: ``delivered`` is the number put and not dropped since, and ``maxsize`` 0 means
    unbounded. This needs a running asyncio loop. ``on_next`` may
    come from another thread.

    Example:
        >>> q: asyncio.Queue = asyncio.Queue(maxsize=100); sinks.to_queue(stream.text, q)  # doctest: +SKIP
    """
    if overflow not in ("error", "drop_oldest", "latest"):
        raise ValueError(f"unknown overflow policy {overflow!r}")
    loop = asyncio.get_running_loop()
    thread = threading.get_ident()
    stats = BufferStats(queue.maxsize, overflow)
    ended = False

    def put_end(item: Any) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            task = loop.create_task(queue.put(item))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)

    def drop_one() -> None:
        queue.get_nowait()
        queue.task_done()
        stats.delivered -= 1
        stats.dropped += 1

    def put(value: Any) -> None:
        nonlocal ended
        if ended:
            return
        stats.received += 1
        if queue.full():
            if overflow == "error":
                stats.dropped += 1
                ended = True
                error = BufferOverflowError(queue.maxsize)
                handle.dispose_subscription()
                put_end(error)
                handle.finish(error)
                return
            if overflow == "drop_oldest":
                drop_one()
            else:
                while not queue.empty():
                    drop_one()
        queue.put_nowait(value)
        stats.delivered += 1
        stats.high_water = max(stats.high_water, queue.qsize())

    def on_loop(fn: Callable[..., None], *args: Any) -> None:
        if threading.get_ident() == thread:
            fn(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def on_stop() -> None:
        nonlocal ended
        if not ended:
            ended = True
            error = handle.error
            on_loop(put_end, END if error is None else error)

    handle: OwnedHandle[None] = OwnedHandle(lambda: None, on_stop=on_stop)
    handle.stats = stats

    def on_next(value: Any) -> None:
        on_loop(put, value)

    def on_error(error: Exception) -> None:
        on_loop(handle.finish, error)

    def on_completed() -> None:
        on_loop(handle.finish, None)

    handle.attach(observable.subscribe(on_next, on_error, on_completed))
    return handle
