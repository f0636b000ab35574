"""Bridges from an Observable to asyncio consumers, each through its own bounded buffer.

``aiter`` for ``async for``, and ``to_async_sink`` for an async callback.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from reactivex import Observable
from reactivex.disposable import SingleAssignmentDisposable

from rxclaude.operators.buffering import Buffer, BufferStats, Overflow, cancel_on, check_policy, spawn
from rxclaude.sinks.handle import SinkHandle

__all__ = [
    "BufferedIterator",
    "aiter",
    "to_async_sink",
]

_T = TypeVar("_T")


class BufferedIterator(AsyncIterator[_T]):
    """The async iterator :func:`aiter` returns; ``stats`` shows how far behind it is."""

    def __init__(self, source: Observable[_T], maxsize: int, overflow: Overflow) -> None:
        self._source = source
        self._buffer: Buffer[_T] = Buffer(maxsize, overflow)
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

        handle = stream.text.pipe(sinks.to_async_sink(websocket.send_str, maxsize=256))
        await handle
    """
    check_policy(maxsize, overflow)

    def sink(source: Observable[_T]) -> SinkHandle[None]:
        loop = asyncio.get_running_loop()
        buffer: Buffer[_T] = Buffer(maxsize, overflow)
        buffer.bind(loop)
        thread = threading.get_ident()
        task: asyncio.Task[None] | None = None

        def stop() -> None:
            buffer.close()
            if task is not None and task is not asyncio.current_task(loop):
                cancel_on(loop, thread, task)

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

        task = spawn(loop, pump())

        def on_next(value: _T) -> None:
            if not buffer.push(value):
                handle._subscription.dispose()

        handle.attach(source.subscribe(on_next, buffer.end, buffer.end))
        return handle

    return sink
