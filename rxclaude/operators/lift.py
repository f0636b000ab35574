"""The two building blocks every rxclaude operator is made of.

Strategy: an operator is a function returning ``Callable[[Observable[A]], Observable[B]]``.
``lift`` makes one from a *setup* function called once per subscription (so state never leaks
between subscribers); exceptions raised while handling a value go to ``on_error``; completion
runs the optional flush first. ``transform`` is the user-facing form of the same idea.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

__all__ = ["Emit", "lift", "transform"]

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

    def operator(source: Observable[_A]) -> Observable[_B]:
        def subscribe(observer: abc.ObserverBase[_B], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            try:
                step, finish = setup(observer)
            except Exception as e:
                observer.on_error(e)
                return Disposable()
            stopped = False

            def on_next(value: _A) -> None:
                nonlocal stopped
                if stopped:
                    return
                try:
                    step(value)
                except Exception as e:
                    stopped = True
                    observer.on_error(e)

            def on_error(error: Exception) -> None:
                nonlocal stopped
                if not stopped:
                    stopped = True
                    observer.on_error(error)

            def on_completed() -> None:
                nonlocal stopped
                if stopped:
                    return
                stopped = True
                if finish is not None:
                    try:
                        finish()
                    except Exception as e:
                        observer.on_error(e)
                        return
                observer.on_completed()

            return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator


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
