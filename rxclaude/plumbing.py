"""Rx plumbing shared by the operators, the transport and the stream: fan-out without locks, clocks.

Strategy: reactivex's ``Subject`` takes a lock twice per value (about 2.5 µs per event
measured here), which is the right call across threads but pure overhead on one asyncio loop,
where rxclaude's sources run. :class:`Broadcast` keeps its observers in a tuple that is
replaced (never mutated) on subscribe/dispose, so ``on_next`` is one loop over a tuple.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast

from reactivex import ConnectableObservable, Observable, abc
from reactivex.observer import AutoDetachObserver

from rxclaude.core.events import Event
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.parse import delta_event

__all__ = [
    "Broadcast",
    "BroadcastConnectable",
    "DirectObservable",
    "EventBroadcast",
    "EventSource",
    "FrameSource",
    "Once",
    "PlainObserver",
    "broadcast",
    "clock",
]

_T = TypeVar("_T")


class Once(abc.DisposableBase):
    """A disposable that runs its action the first time it is disposed.

    reactivex's ``Disposable`` takes an ``RLock`` per object so that two threads disposing at
    once still run the action once; rxclaude's subscriptions live on one asyncio loop, where
    swapping the action out first is enough.

    Example:
        >>> d = Once(lambda: print("bye")); d.dispose(); d.dispose()
        bye
    """

    __slots__ = ("_action",)

    def __init__(self, action: Callable[[], None] | None = None) -> None:
        self._action = action

    @property
    def is_disposed(self) -> bool:
        """Whether :meth:`dispose` was called (or there was nothing to do)."""
        return self._action is None

    def dispose(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


class DirectObservable(Observable[_T]):
    """An Observable whose ``subscribe`` skips reactivex's current-thread trampoline.

    reactivex runs every ``subscribe`` through a trampoline (about 5 µs here) so that a cold
    source emitting *while being subscribed* cannot outrun its own disposable. A source that
    only registers its observer -- a hub, or a request that starts an asyncio task -- emits
    nothing during ``subscribe`` but, at most, a terminal notification, so there is nothing
    to trampoline. Everything else is as in ``Observable.subscribe``: callbacks or an
    observer, wrapped in an ``AutoDetachObserver``.

    Example:
        >>> DirectObservable(lambda observer, scheduler=None: Disposable()).subscribe(print)  # doctest: +SKIP
    """

    def __init__(self, subscribe: abc.Subscription[_T] | None = None) -> None:
        # Not Observable.__init__: it makes an RLock per instance, which only a few operators
        # (delay, take_while...) ever take; ``lock`` below makes it when first asked for.
        self._subscribe = subscribe

    @property
    def lock(self) -> threading.RLock:  # type: ignore[override]
        """The ``RLock`` some reactivex operators take on their source (made on first use)."""
        lock: threading.RLock | None = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__["_lock"] = threading.RLock()
        return lock

    def subscribe(
        self,
        on_next: abc.ObserverBase[_T] | abc.OnNext[_T] | None = None,
        on_error: abc.OnError | None = None,
        on_completed: abc.OnCompleted | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        if isinstance(on_next, abc.ObserverBase) or callable(getattr(on_next, "on_next", None)):
            observer: Any = on_next
            on_next, on_error, on_completed = observer.on_next, observer.on_error, observer.on_completed
        return self._observe(cast(abc.OnNext[_T] | None, on_next), on_error, on_completed, scheduler)

    def _observe(
        self,
        on_next: abc.OnNext[_T] | None,
        on_error: abc.OnError | None,
        on_completed: abc.OnCompleted | None,
        scheduler: abc.SchedulerBase | None,
    ) -> abc.DisposableBase:
        """Subscribe the callbacks (an observer already unpacked); subclasses may guard them differently."""
        detach: AutoDetachObserver[_T] = AutoDetachObserver(on_next, on_error, on_completed)
        try:
            detach.subscription = self._subscribe_core(detach, scheduler)
        except Exception as e:
            if not detach.fail(e):
                raise
        return Once(detach.dispose)

    def attach(self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        """Subscribe ``observer`` as it is, without reactivex's ``AutoDetachObserver`` wrapper.

        For observers that already ignore calls after a terminal one and guard their own
        callbacks: one call less per value. ``subscribe()`` is the safe default. ``scheduler``
        is passed on as ``subscribe(..., scheduler=)`` would (virtual time in tests).

        Example:
            >>> hub = Broadcast[int](); d = hub.attach(observer); d.dispose()  # doctest: +SKIP
        """
        return self._subscribe_core(observer, scheduler)


class FrameSource(DirectObservable[Frame]):
    """An ``Observable[Frame]`` that can also hand its frames to a :class:`~rxclaude.core.frame.FrameSink`
    as their fields, with no ``Frame`` built (the lean route).

    ``open(observer, sink, scheduler)`` starts the source for ``observer``; ``sink`` is the same
    object when it asked for fields (:meth:`attach_sink`), else ``None``. The request of
    :class:`~rxclaude.transport.http.Transport` and :func:`rxclaude.operators.decoding` are frame
    sources; :class:`~rxclaude.MessageStream` and :func:`rxclaude.operators.parse` attach to them
    as sinks.

    Example:
        >>> source = FrameSource(lambda observer, sink, scheduler: Once())
        >>> source.attach_sink(sink).dispose()  # doctest: +SKIP
    """

    def __init__(
        self, open: Callable[[FrameObserver, FrameSink | None, abc.SchedulerBase | None], abc.DisposableBase]
    ) -> None:
        super().__init__()
        self._open = open

    def _subscribe_core(
        self, observer: abc.ObserverBase[Frame], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._open(observer, None, scheduler)

    def attach_sink(self, sink: FrameSink, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        """Start the source for ``sink`` as it is (no wrapper), frames as their fields where possible."""
        return self._open(sink, sink, scheduler)


class Broadcast(DirectObservable[_T], abc.SubjectBase[_T], Generic[_T]):
    """A lock-free subject for single-threaded (asyncio) use.

    Values go to the observers subscribed at that moment; a subscriber that comes after the
    end gets the end (``on_completed`` or the error) at once. A subscriber whose ``on_next``
    raises is sent that error and dropped; the others carry on.

    Example:
        >>> hub = Broadcast[int]()
        >>> hub.subscribe(print); hub.on_next(1)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        super().__init__()
        self._observers: tuple[abc.ObserverBase[_T], ...] = ()
        self._done = False
        self._error: Exception | None = None

    @property
    def observer_count(self) -> int:
        """How many observers are subscribed now."""
        return len(self._observers)

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        if self._done:
            if self._error is not None:
                observer.on_error(self._error)
            else:
                observer.on_completed()
            return Once()
        self._observers = (*self._observers, observer)

        def dispose() -> None:
            self._observers = tuple(o for o in self._observers if o is not observer)

        return Once(dispose)

    def on_next(self, value: _T) -> None:
        for observer in self._observers:
            try:
                observer.on_next(value)
            except Exception as e:  # one failing subscriber must not break the others
                self._drop(observer, e)

    def _drop(self, observer: abc.ObserverBase[_T], error: Exception) -> None:
        self._observers = tuple(o for o in self._observers if o is not observer)
        try:
            observer.on_error(error)
        except Exception:  # pragma: no cover - an observer whose on_error raises too
            pass

    def on_error(self, error: Exception) -> None:
        if self._done:
            return
        self._done, self._error = True, error
        observers, self._observers = self._observers, ()
        for observer in observers:
            try:
                observer.on_error(error)
            except Exception as e:
                # reactivex re-raises in subscribers given no on_error: that subscriber chose not
                # to handle it; the others must still hear of the error.
                if e is not error:
                    _report(e)

    def on_completed(self) -> None:
        if self._done:
            return
        self._done = True
        observers, self._observers = self._observers, ()
        for observer in observers:
            try:
                observer.on_completed()
            except Exception as e:
                _report(e)


class PlainObserver(Protocol):
    """An observer of events that also takes a plain text or thinking delta as its three values,
    ``on_plain(index, text, is_thinking)``, instead of the two event objects it stands for
    (``delta_event`` builds them). The lean lane of the operators: see :class:`EventSource`."""

    def on_plain(self, index: int, text: str, thinking: bool, /) -> None: ...

    def on_next(self, event: Event, /) -> None: ...

    def on_error(self, error: Exception, /) -> None: ...

    def on_completed(self) -> None: ...


class EventSource(DirectObservable[Event]):
    """An ``Observable[Event]`` that can hand plain deltas to a :class:`PlainObserver` without
    building their events: ``ops.parse()`` of ``ops.frames()``, and a broadcast of one.

    Operators that only want the text or the message (``text()``, ``thinking()``, ``message()``,
    ``usage()``, ``stop_reason()``) attach with :meth:`attach_plain`; every other subscriber gets
    the events as usual.
    """

    def attach_plain(self, observer: PlainObserver, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        """Subscribe ``observer`` as it is, plain deltas through its ``on_plain``."""
        raise NotImplementedError


class EventBroadcast(EventSource, abc.SubjectBase[Event]):
    """:class:`Broadcast` for events, with the plain lane: a plain delta goes to each
    :class:`PlainObserver` as it is, and its event is built once, only if another subscriber wants it."""

    def __init__(self) -> None:
        super().__init__()
        self._entries: tuple[
            tuple[abc.ObserverBase[Event] | PlainObserver, Callable[[int, str, bool], None] | None], ...
        ]
        self._entries = ()
        self._done = False
        self._error: Exception | None = None

    def _add(
        self, observer: abc.ObserverBase[Event] | PlainObserver, plain: Callable[[int, str, bool], None] | None
    ) -> abc.DisposableBase:
        if self._done:
            if self._error is not None:
                observer.on_error(self._error)
            else:
                observer.on_completed()
            return Once()
        entry = (observer, plain)
        self._entries = (*self._entries, entry)

        def dispose() -> None:
            self._entries = tuple(e for e in self._entries if e is not entry)

        return Once(dispose)

    def _subscribe_core(
        self, observer: abc.ObserverBase[Event], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._add(observer, None)

    def attach_plain(self, observer: PlainObserver, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        return self._add(observer, observer.on_plain)

    def on_plain(self, index: int, text: str, thinking: bool) -> None:
        event: Event | None = None
        for entry in self._entries:
            observer, plain = entry
            try:
                if plain is not None:
                    plain(index, text, thinking)
                else:
                    if event is None:
                        event = delta_event((index, text, thinking))
                    observer.on_next(event)
            except Exception as e:  # one failing subscriber must not break the others
                self._drop(entry, e)

    def on_next(self, value: Event) -> None:
        for entry in self._entries:
            try:
                entry[0].on_next(value)
            except Exception as e:
                self._drop(entry, e)

    def _drop(self, entry: tuple[Any, Any], error: Exception) -> None:
        self._entries = tuple(e for e in self._entries if e is not entry)
        try:
            entry[0].on_error(error)
        except Exception:  # pragma: no cover - an observer whose on_error raises too
            pass

    def on_error(self, error: Exception) -> None:
        if self._done:
            return
        self._done, self._error = True, error
        entries, self._entries = self._entries, ()
        for observer, _ in entries:
            try:
                observer.on_error(error)
            except Exception as e:
                if e is not error:
                    _report(e)

    def on_completed(self) -> None:
        if self._done:
            return
        self._done = True
        entries, self._entries = self._entries, ()
        for observer, _ in entries:
            try:
                observer.on_completed()
            except Exception as e:
                _report(e)


def _report(error: Exception) -> None:
    """Hand an exception raised by a subscriber's terminal callback to the loop's handler."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise error from None
    loop.call_exception_handler({"message": "exception in an rxclaude subscriber", "exception": error})


def broadcast() -> Callable[[Observable[_T]], ConnectableObservable[_T]]:
    """Like ``reactivex.operators.publish()``, through a lock-free :class:`Broadcast`.

    Example::

        hot = events.pipe(ops.broadcast())
        hot.pipe(ops.text()).subscribe(print); hot.pipe(ops.usage()).subscribe(print)
        hot.connect()
    """

    def operator(source: Observable[_T]) -> ConnectableObservable[_T]:
        if isinstance(source, EventSource):  # events with the plain lane: keep it through the hub
            return cast(ConnectableObservable[_T], BroadcastConnectable(source, EventBroadcast()))
        return BroadcastConnectable(source, Broadcast())

    return operator


class BroadcastConnectable(ConnectableObservable[_T]):
    """What :func:`broadcast` returns. ``connect()`` attaches the hub to a :class:`DirectObservable`
    source as it is (the hub already ignores values after its end and keeps one subscriber's error
    from the others), an :class:`EventBroadcast` to an :class:`EventSource` through the plain lane.

    The hub is exposed as ``connectable.hub``; a subscription to the connectable goes to it."""

    def __init__(self, source: Observable[_T], hub: Broadcast[_T] | EventBroadcast) -> None:
        super().__init__(source, cast(abc.SubjectBase[_T], hub))
        self.hub = hub

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return cast(DirectObservable[_T], self.hub).attach(observer, scheduler)

    def connect(self, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase | None:
        source, hub = self.source, self.hub
        if self.has_subscription or not isinstance(source, DirectObservable):
            return super().connect(scheduler)
        self.has_subscription = True
        if isinstance(hub, EventBroadcast) and isinstance(source, EventSource):
            upstream = source.attach_plain(hub, scheduler)
        else:
            upstream = source.attach(cast(abc.ObserverBase[_T], hub), scheduler)

        def dispose() -> None:
            self.has_subscription = False
            upstream.dispose()

        self.subscription = Once(dispose)
        return self.subscription


def clock(scheduler: abc.SchedulerBase | None) -> Callable[[], float]:
    """A seconds clock: the scheduler's ``now`` (virtual time too), or ``time.monotonic``.

    Example:
        >>> now = clock(TestScheduler()); now()  # doctest: +SKIP
        0.0
    """
    if scheduler is None:
        return time.monotonic
    to_seconds = scheduler.to_seconds

    def now() -> float:
        return to_seconds(scheduler.now)

    return now
