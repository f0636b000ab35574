"""Time as data: time to first token, gaps between tokens, token rates, timestamps.

Strategy: each subscription reads a single clock. That is the ``scheduler`` argument's ``now``
when one is given, otherwise the scheduler passed to ``subscribe`` (so ``TestScheduler.start``
drives these operators in exact virtual time), otherwise ``time.monotonic``, which does not jump
when the wall clock is adjusted. Times are float seconds, measured from the moment of
subscription.

A "token" here means one content delta: a ``text_delta``, ``thinking_delta`` or
``input_json_delta`` event, or a ``str`` value such as those ``ops.text()`` emits. It is not a
tokenizer token. :func:`throughput` uses the API's own ``usage.output_tokens`` instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from reactivex import Observable, abc
from reactivex import operators as rx

from rxclaude.core.deltas import Delta, InputJSONDelta, TextDelta, ThinkingDelta
from rxclaude.core.events import ContentBlockDeltaEvent, MessageDeltaEvent
from rxclaude.core.values import Timestamped
from rxclaude.operators.lifting import lift
from rxclaude.plumbing import clock

__all__ = [
    "CONTENT_DELTAS",
    "inter_token_gaps",
    "throughput",
    "time_to_first_token",
    "timestamped",
    "tokens_per_second",
]

_T = TypeVar("_T")
_B = TypeVar("_B")

CONTENT_DELTAS: tuple[type[Delta], ...] = (TextDelta, ThinkingDelta, InputJSONDelta)
"""The delta classes that count as tokens by default."""

_Setup = Callable[
    [abc.ObserverBase[_B], Callable[[], float]],
    "tuple[Callable[[Any], None], Callable[[], None] | None]",
]


def _timed(setup: _Setup[_B], scheduler: abc.SchedulerBase | None) -> Callable[[Observable[Any]], Observable[_B]]:
    """``lift`` whose setup also gets the subscription's clock."""

    def operator(source: Observable[Any]) -> Observable[_B]:
        def subscribe(
            observer: abc.ObserverBase[_B], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            now = clock(scheduler or subscribe_scheduler)

            def bound(obs: abc.ObserverBase[_B]) -> tuple[Callable[[Any], None], Callable[[], None] | None]:
                return setup(obs, now)

            inner: Observable[_B] = lift(bound)(source)
            return inner.subscribe(observer, scheduler=subscribe_scheduler)

        return Observable(subscribe)

    return operator


def _token_test(delta_types: tuple[type[Delta], ...]) -> Callable[[Any], bool]:
    def is_token(value: Any) -> bool:
        if type(value) is ContentBlockDeltaEvent:
            return isinstance(value.delta, delta_types)
        return isinstance(value, str)

    return is_token


def timestamped(scheduler: abc.SchedulerBase | None = None) -> Callable[[Observable[_T]], Observable[Timestamped[_T]]]:
    """Pair each value with the seconds elapsed since subscription: ``Timestamped(value, t)``.

    Example:
        >>> stream.text.pipe(ops.timestamped()).subscribe(lambda v: print(f"{v.t:.3f}", v.value))  # doctest: +SKIP
    """

    def setup(
        observer: abc.ObserverBase[Timestamped[_T]], now: Callable[[], float]
    ) -> tuple[Callable[[_T], None], None]:
        start = now()
        emit = observer.on_next

        def on_next(value: _T) -> None:
            emit(Timestamped(value, now() - start))

        return on_next, None

    return _timed(setup, scheduler)


def time_to_first_token(
    scheduler: abc.SchedulerBase | None = None,
    *,
    delta_types: tuple[type[Delta], ...] = (TextDelta, ThinkingDelta),
) -> Callable[[Observable[Any]], Observable[float]]:
    """Seconds from subscription to the first text or thinking delta. Emits once, then completes.

    The source may carry events or strings. It completes empty if no token ever came. Subscribe
    when the request starts (for a ``MessageStream``, before ``connect()``) to measure the
    whole wait.

    Example:
        >>> stream.events.pipe(ops.time_to_first_token()).subscribe(lambda s: print(f"TTFT {s:.2f}s"))  # doctest: +SKIP
    """
    is_token = _token_test(delta_types)

    def setup(observer: abc.ObserverBase[float], now: Callable[[], float]) -> tuple[Callable[[Any], None], None]:
        start = now()
        emit = observer.on_next

        def on_next(value: Any) -> None:
            if is_token(value):
                emit(now() - start)

        return on_next, None

    def operator(source: Observable[Any]) -> Observable[float]:
        return source.pipe(_timed(setup, scheduler), rx.take(1))

    return operator


def inter_token_gaps(
    scheduler: abc.SchedulerBase | None = None,
    *,
    delta_types: tuple[type[Delta], ...] = CONTENT_DELTAS,
) -> Callable[[Observable[Any]], Observable[float]]:
    """Seconds between consecutive tokens: ``n - 1`` values for ``n`` tokens.

    Example:
        >>> events.pipe(ops.inter_token_gaps(), rx.max()).subscribe(print)  # the worst stall  # doctest: +SKIP
    """
    is_token = _token_test(delta_types)

    def setup(observer: abc.ObserverBase[float], now: Callable[[], float]) -> tuple[Callable[[Any], None], None]:
        last: float | None = None
        emit = observer.on_next

        def on_next(value: Any) -> None:
            nonlocal last
            if is_token(value):
                t = now()
                if last is not None:
                    emit(t - last)
                last = t

        return on_next, None

    return _timed(setup, scheduler)


def tokens_per_second(
    window: float = 1.0,
    scheduler: abc.SchedulerBase | None = None,
    *,
    delta_types: tuple[type[Delta], ...] = CONTENT_DELTAS,
) -> Callable[[Observable[Any]], Observable[float]]:
    """A rolling rate, recomputed at each token: tokens in the last ``window`` seconds / ``window``.

    A "token" is a content delta (see the module docstring). During the first ``window`` seconds
    the rate builds up from zero. Memory holds one float per token in the window.

    Example:
        >>> events.pipe(ops.tokens_per_second(window=2.0)).subscribe(print)  # doctest: +SKIP
    """
    if not window > 0:
        raise ValueError(f"window must be positive, got {window!r}")
    is_token = _token_test(delta_types)

    def setup(observer: abc.ObserverBase[float], now: Callable[[], float]) -> tuple[Callable[[Any], None], None]:
        times: deque[float] = deque()
        emit = observer.on_next

        def on_next(value: Any) -> None:
            if is_token(value):
                t = now()
                times.append(t)
                horizon = t - window
                while times[0] <= horizon:
                    times.popleft()
                emit(len(times) / window)

        return on_next, None

    return _timed(setup, scheduler)


def throughput(
    scheduler: abc.SchedulerBase | None = None,
    *,
    since: Literal["first_token", "subscribe"] = "first_token",
    delta_types: tuple[type[Delta], ...] = CONTENT_DELTAS,
) -> Callable[[Observable[Any]], Observable[float]]:
    """Output tokens per second, counted by the API, at each ``message_delta`` that reports usage.

    The rate is ``usage.output_tokens / elapsed``. With ``since="first_token"`` (the default),
    the time is measured from the first content delta, which gives the generation speed.
    With ``since="subscribe"`` it is measured from subscription, which gives the end-to-end
    rate including the wait for the first token. Nothing is emitted before the clock starts.

    Example:
        >>> stream.events.pipe(ops.throughput()).subscribe(lambda r: print(f"{r:.1f} tok/s"))  # doctest: +SKIP
    """
    if since not in ("first_token", "subscribe"):
        raise ValueError(f"since must be 'first_token' or 'subscribe', got {since!r}")
    is_token = _token_test(delta_types)

    def setup(observer: abc.ObserverBase[float], now: Callable[[], float]) -> tuple[Callable[[Any], None], None]:
        start: float | None = now() if since == "subscribe" else None
        emit = observer.on_next

        def on_next(value: Any) -> None:
            nonlocal start
            if start is None:
                if is_token(value):
                    start = now()
                return
            if type(value) is MessageDeltaEvent:
                tokens = value.usage.output_tokens
                elapsed = now() - start
                if tokens is not None and elapsed > 0:
                    emit(tokens / elapsed)

        return on_next, None

    return _timed(setup, scheduler)
