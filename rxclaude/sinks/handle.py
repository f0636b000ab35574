"""The handle every sink returns, and the subscribe-and-finish helper the sinks share."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import SingleAssignmentDisposable

from rxclaude.operators.buffering import BufferStats, resolve_waiter, running_loop

if TYPE_CHECKING:
    pass

__all__ = [
    "OwnedHandle",
    "SinkHandle",
    "run_sink",
]

_T = TypeVar("_T")
_R = TypeVar("_R")


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
            running = running_loop()
            for waiter in waiters:
                loop = waiter.get_loop()
                if loop is running:
                    resolve_waiter(waiter)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(resolve_waiter, waiter)

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


class OwnedHandle(SinkHandle[_T]):
    def dispose_subscription(self) -> None:
        self._subscription.dispose()


def run_sink(handle: OwnedHandle[Any], observable: Observable[_T], on_next: Callable[[_T], None]) -> None:
    """Subscribe ``on_next``; a source error or an exception in ``on_next`` finishes ``handle``."""

    def safe_next(value: _T) -> None:
        if handle.done:
            return
        try:
            on_next(value)
        except Exception as e:
            handle.dispose_subscription()
            handle.finish(e)

    handle.attach(observable.subscribe(safe_next, handle.finish, handle.finish))
