"""The two building blocks every rxclaude operator is made of.

Strategy: an operator is a function returning ``Callable[[Observable[A]], Observable[B]]``.
``lift`` makes one from a *setup* function called once per subscription (so state never leaks
between subscribers); exceptions raised while handling a value go to ``on_error``; completion
runs the optional flush first. ``transform`` is the user-facing form of the same idea.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, cast

from reactivex import Observable, abc

from rxclaude.core.events import Event
from rxclaude.plumbing import BroadcastConnectable, DirectObservable, EventSource, Once

__all__ = ["Emit", "Lifted", "PlainStage", "Stage", "lift", "lift_events", "lift_plain", "transform"]

_A = TypeVar("_A")
_B = TypeVar("_B")
_S = TypeVar("_S")

Emit = Callable[[_B], None]


def lift(
    setup: Callable[[abc.ObserverBase[_B]], tuple[Callable[[_A], None], Callable[[], None] | None]],
) -> Callable[[Observable[_A]], Observable[_B]]:
    """Make an operator from ``setup(observer) -> (on_next, on_completed_or_None)``.

    ``setup`` runs once per subscription; ``on_next`` may call ``observer.on_next`` any number
    of times; an exception it raises is sent to ``on_error``. ``on_completed`` (if given) runs
    before completion is forwarded, and may emit or raise too.

    Example:
        >>> def evens(): return lift(lambda obs: (lambda x: x % 2 or obs.on_next(x), None))
        >>> reactivex.of(1, 2, 3, 4).pipe(evens()).subscribe(print)  # doctest: +SKIP
    """

    def stage(observer: abc.ObserverBase[_B]) -> Stage[_A]:
        step, finish = setup(observer)
        return Stage(observer, step, finish)

    def operator(source: Observable[_A]) -> Observable[_B]:
        lifted: Lifted[_A, _B] = Lifted(source, stage)
        return lifted

    return operator


class Stage(abc.ObserverBase[_A]):
    """One subscription's step of a lifted operator, as an observer of the source.

    It guards the step itself (an exception goes to ``on_error``, nothing passes after the end),
    so it attaches to a :class:`~rxclaude.plumbing.DirectObservable` source as it is: a chain of
    operators costs one call per stage and value, not an ``AutoDetachObserver`` each.
    """

    __slots__ = ("_finish", "_observer", "_step", "stopped", "upstream")

    def __init__(
        self, observer: abc.ObserverBase[_B], step: Callable[[_A], None], finish: Callable[[], None] | None
    ) -> None:
        self._observer = observer
        self._step = step
        self._finish = finish
        self.stopped = False
        self.upstream: abc.DisposableBase | None = None

    def subscribe_to(self, source: Observable[_A], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        """Subscribe to ``source`` (attached as it is to a ``DirectObservable``); dispose to stop."""
        if isinstance(source, BroadcastConnectable):
            source = cast(Observable[_A], source.hub)  # what subscribing to it does, without its wrapper
        if isinstance(source, DirectObservable):
            return self.hold(source.attach(self, scheduler))
        return self.hold(source.subscribe(self, scheduler=scheduler))

    def hold(self, upstream: abc.DisposableBase) -> abc.DisposableBase:
        """Keep ``upstream`` to dispose when this stage stops; returns the stage's own disposable."""
        if self.stopped:  # it ended while subscribing
            upstream.dispose()
        else:
            self.upstream = upstream
        return Once(self.stop)

    def on_next(self, value: _A) -> None:
        if self.stopped:
            return
        try:
            self._step(value)
        except Exception as e:
            self.fail(e)

    def fail(self, error: Exception) -> None:
        """Stop, and send ``error`` on (an exception of the step, or of a lane of its own)."""
        if not self.stopped:
            self.stop()
            self._observer.on_error(error)

    def on_error(self, error: Exception) -> None:
        self.fail(error)

    def on_completed(self) -> None:
        if self.stopped:
            return
        self.stop()
        if self._finish is not None:
            try:
                self._finish()
            except Exception as e:
                self._observer.on_error(e)
                return
        self._observer.on_completed()

    def stop(self) -> None:
        """Stop taking values and dispose the subscription to the source."""
        self.stopped = True
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.dispose()


class PlainStage(Stage[Event]):
    """A :class:`Stage` of events that also takes plain text and thinking deltas as their values
    (:class:`~rxclaude.plumbing.PlainObserver`): from an :class:`~rxclaude.plumbing.EventSource` it
    gets them without their events being built. ``plain(index, text, is_thinking)`` is its step for them.
    """

    __slots__ = ("_plain",)

    def __init__(
        self,
        observer: abc.ObserverBase[Any],
        step: Callable[[Event], None],
        finish: Callable[[], None] | None,
        plain: Callable[[int, str, bool], None],
    ) -> None:
        super().__init__(observer, step, finish)
        self._plain = plain

    def on_plain(self, index: int, text: str, thinking: bool) -> None:
        if self.stopped:
            return
        try:
            self._plain(index, text, thinking)
        except Exception as e:
            self.fail(e)

    def subscribe_to(self, source: Observable[Event], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        if isinstance(source, BroadcastConnectable):
            source = source.hub
        if isinstance(source, EventSource):
            return self.hold(source.attach_plain(self, scheduler))
        return super().subscribe_to(source, scheduler)


class Lifted(DirectObservable[_B], Generic[_A, _B]):
    """The Observable a :func:`lift` operator returns: a new :class:`Stage` per subscription.

    ``stage(observer)`` makes the stage that takes the source's values for ``observer``.
    """

    def __init__(self, source: Observable[_A], stage: Callable[[abc.ObserverBase[_B]], Stage[_A]]) -> None:
        super().__init__()
        self._source = source
        self._stage = stage

    def _subscribe_core(
        self, observer: abc.ObserverBase[_B], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        try:
            stage = self._stage(observer)
        except Exception as e:
            observer.on_error(e)
            return Once()
        return stage.subscribe_to(self._source, scheduler)


def lift_plain(
    setup: Callable[
        [abc.ObserverBase[_B]],
        tuple[Callable[[Event], None], Callable[[], None] | None, Callable[[int, str, bool], None]],
    ],
) -> Callable[[Observable[Event]], Observable[_B]]:
    """:func:`lift` for an operator of events that also takes plain text and thinking deltas as
    ``(index, text, is_thinking)``: ``setup(observer) -> (on_next, on_completed_or_None, on_plain)``.

    From ``ops.parse()`` of ``ops.frames()`` (or a broadcast of it) those deltas then reach
    ``on_plain`` without their two event objects being built; from any other source they come as
    events to ``on_next``, so ``on_next`` must handle them too.

    Example:
        >>> def chars(): return lift_plain(lambda obs: (lambda e: None, None, lambda i, t, th: obs.on_next(len(t))))
    """

    def stage(observer: abc.ObserverBase[_B]) -> Stage[Event]:
        step, finish, plain = setup(observer)
        return PlainStage(observer, step, finish, plain)

    def operator(source: Observable[Event]) -> Observable[_B]:
        lifted: Lifted[Event, _B] = Lifted(source, stage)
        return lifted

    return operator


def _ignore_plain(index: int, text: str, thinking: bool) -> None:
    """The plain lane of an operator that has no use for text or thinking deltas."""


def lift_events(
    setup: Callable[[abc.ObserverBase[_B]], tuple[Callable[[Event], None], Callable[[], None] | None]],
) -> Callable[[Observable[Event]], Observable[_B]]:
    """:func:`lift` for an operator of events that ignores text and thinking deltas (usage, stop
    reason, citations...): from an ``EventSource`` it takes the plain lane and builds nothing for them.

    Example:
        >>> def stops(): return lift_events(lambda obs: (lambda e: e.type == "message_stop" and obs.on_next(e), None))
    """
    return lift_plain(lambda observer: (*setup(observer), _ignore_plain))


def transform(
    step: Callable[[_S, _A], tuple[_S, Iterable[_B]]],
    initial: Callable[[], _S],
    flush: Callable[[_S], Iterable[_B]] | None = None,
) -> Callable[[Observable[_A]], Observable[_B]]:
    """A stateful operator from a pure step function: ``step(state, value) -> (state, outputs)``.

    ``initial()`` makes the state for each subscription; ``flush(state)`` emits what is left
    when the source completes. Errors in ``step``/``flush`` go to ``on_error``.

    Example (whole lines out of a text stream)::

        def lines():
            def step(buf, text):
                *done, rest = (buf + text).split("\\n")
                return rest, done
            return ops.transform(step, initial=str, flush=lambda buf: [buf] if buf else [])
    """

    def setup(observer: abc.ObserverBase[_B]) -> tuple[Callable[[_A], None], Callable[[], None]]:
        state: Any = initial()
        emit = observer.on_next

        def on_next(value: _A) -> None:
            nonlocal state
            state, out = step(state, value)
            for item in out:
                emit(item)

        def on_completed() -> None:
            if flush is not None:
                for item in flush(state):
                    emit(item)

        return on_next, on_completed

    return lift(setup)
