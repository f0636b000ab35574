"""Admission control shared by a client: requests wait for room in the rate-limit buckets.

Example::

    admission = rxclaude.Admission(max_concurrency=32)      # limits learnt from the headers
    async with rxclaude.Client(admission=admission) as client:
        admission.state.subscribe(print)                     # BudgetSnapshot values over time
        async for result in client.messages.map(requests):
            ...

Strategy: the arithmetic lives in :mod:`rxclaude.core.budget` (a :class:`~rxclaude.core.budget.Budget`
per model class, the clock passed in); this module only waits. Each request's frames go through
:meth:`Admission.frames`: on subscription a task computes the request's :class:`Cost` (its input
tokens estimated, or counted by ``count_tokens``; ``max_tokens`` reserved), queues FIFO for
its model class until the budget admits it, then subscribes to the real request. Its response
headers re-sync the buckets, its ``message_delta`` usage gives back the unused reservation, a 429
(before the first byte) empties the buckets until ``retry-after`` and the request queues again,
and an overload (529, or ``overloaded_error`` in the stream) pauses admission on its own
backoff. Only the head of a model class's queue is woken when something changes, so a thousand
waiting requests cost one wake-up per change, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from reactivex import Observable, abc

from rxclaude.core.budget import Budget, BudgetSnapshot, Cost, Limits, Ticket, estimate_input_tokens, model_class
from rxclaude.core.errors import APIError, OverloadedError, RateLimitError
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.ratelimit import RateLimits
from rxclaude.core.retry import RetryPolicy
from rxclaude.plumbing import Broadcast, FrameSource, Once
from rxclaude.transport.base import Response

__all__ = ["Admission"]

OnResponse = Callable[[Response], None]

#: Builds one attempt of a request: ``send(on_response)`` is a cold Observable of its frames.
Send = Callable[[Callable[[Response], None]], Observable[Frame]]
Counter = Callable[[Mapping[str, Any]], Awaitable[int]]


class Admission:
    """Rate-limit admission for every request of a client (opt-in: ``Client(admission=...)``).

    Args:
        limits: per-minute :class:`~rxclaude.core.budget.Limits`, one for every model class or a
            mapping ``{"sonnet": Limits(...), ...}``; kinds left ``None`` are learnt from the
            first response's ``anthropic-ratelimit-*-limit`` headers.
        period: seconds in the API's rate-limit window (60; tests and benches scale it down).
        max_concurrency: requests in flight at once, per model class.
        max_retries: how often a request refused with 429 or 529 queues again.
        count_tokens: ``async (params) -> int`` giving exact input tokens (e.g. ``lambda p:
            client.messages.count_tokens(**p)``: one more request each, under that endpoint's
            own limit); by default :func:`~rxclaude.core.budget.estimate_input_tokens`.
        token_rounding: the granularity of the ``*-tokens-remaining`` headers (the API: 1000).
        clock: seconds, monotonic (``time.monotonic``).

    Example::

        admission = Admission(Limits(requests=50, input_tokens=30_000, output_tokens=8_000))
    """

    def __init__(
        self,
        limits: Limits | Mapping[str, Limits] | None = None,
        *,
        period: float = 60.0,
        max_concurrency: int | None = 64,
        max_retries: int = 8,
        count_tokens: Counter | None = None,
        token_rounding: int = 1000,
        overload_backoff: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self.period = period
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.count_tokens = count_tokens
        self.token_rounding = token_rounding
        self.overload_backoff = overload_backoff
        self.clock = clock
        self._budgets: dict[str, Budget] = {}
        self._queues: dict[str, deque[asyncio.Event]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._state: Broadcast[BudgetSnapshot] = Broadcast()

    # -- the budgets ---------------------------------------------------------------------------

    def budget(self, model: str) -> Budget:
        """The budget of ``model``'s class (made on first use).

        Example::

            admission.budget("claude-sonnet-4-6").snapshot(admission.clock())
        """
        name = model_class(model)
        budget = self._budgets.get(name)
        if budget is None:
            limits = self._limits
            if isinstance(limits, Mapping):
                limits = limits.get(name)
            budget = Budget(
                limits or Limits(),
                name=name,
                period=self.period,
                max_concurrency=self.max_concurrency,
                token_rounding=self.token_rounding,
                overload_backoff=self.overload_backoff,
                now=self.clock(),
            )
            self._budgets[name] = budget
            self._queues[name] = deque()
        return budget

    @property
    def budgets(self) -> Mapping[str, Budget]:
        """Every model class's budget so far."""
        return dict(self._budgets)

    @property
    def state(self) -> Observable[BudgetSnapshot]:
        """A hot Observable of :class:`~rxclaude.core.budget.BudgetSnapshot` values: one after
        every change (admission, end of a request, header re-sync, 429, overload).

        Example::

            points = []
            admission.state.subscribe(points.append)
        """
        return self._state

    def snapshot(self, model: str) -> BudgetSnapshot:
        """The budget of ``model``'s class now."""
        return self.budget(model).snapshot(self.clock())

    def _changed(self, budget: Budget) -> None:
        if self._state.observer_count:
            self._state.on_next(budget.snapshot(self.clock()))
        self._wake(budget)

    def _wake(self, budget: Budget) -> None:
        queue = self._queues[budget.name]
        if queue:
            queue[0].set()

    # -- waiting -------------------------------------------------------------------------------

    async def cost(self, params: Mapping[str, Any]) -> Cost:
        """What a request takes: its input tokens (counted or estimated) and ``max_tokens``.

        Example::

            cost = await admission.cost({"model": m, "max_tokens": 512, "messages": msgs})
        """
        if self.count_tokens is not None:
            counted = {k: v for k, v in params.items() if k in _COUNTED_FIELDS}
            input_tokens = int(await self.count_tokens(counted))
        else:
            input_tokens = estimate_input_tokens(params)
        max_tokens = params.get("max_tokens")
        return Cost(input_tokens=input_tokens, output_tokens=max_tokens if isinstance(max_tokens, int) else 0)

    async def acquire(self, model: str, cost: Cost) -> Ticket:
        """Wait (FIFO per model class) until the budget admits ``cost``; the ticket holds what it took.

        Example::

            ticket = await admission.acquire(params["model"], await admission.cost(params))
        """
        budget = self.budget(model)
        queue = self._queues[budget.name]
        turn = asyncio.Event()
        queue.append(turn)
        budget.waiting += 1
        admitted: Ticket | float = math.inf
        try:
            while True:
                if queue[0] is turn:
                    admitted = budget.admit(cost, self.clock())
                    if isinstance(admitted, Ticket):
                        queue.popleft()
                        budget.waiting -= 1
                        self._changed(budget)  # the next in line may fit too
                        return admitted
                    self._arm(budget, admitted)
                turn.clear()
                await turn.wait()
        finally:
            if not isinstance(admitted, Ticket):  # cancelled while waiting: give the turn away
                budget.waiting -= 1
                head = bool(queue) and queue[0] is turn
                with contextlib.suppress(ValueError):
                    queue.remove(turn)
                if head:
                    self._wake(budget)

    def _arm(self, budget: Budget, wait: float) -> None:
        """Wake the head of the queue after ``wait`` seconds (unless something changes first)."""
        timer = self._timers.pop(budget.name, None)
        if timer is not None:
            timer.cancel()
        if math.isfinite(wait):
            loop = asyncio.get_running_loop()
            self._timers[budget.name] = loop.call_later(max(wait, 0.0), self._wake, budget)

    # -- what happened to a request ------------------------------------------------------------

    def settle(self, model: str, ticket: Ticket, *, output_tokens: int | None, input_tokens: int | None = None) -> None:
        """The request ended (``output_tokens`` from its last usage; ``None`` if unknown)."""
        budget = self.budget(model)
        budget.settle(ticket, output_tokens=output_tokens, input_tokens=input_tokens, now=self.clock())
        self._changed(budget)

    def release(self, model: str, ticket: Ticket) -> None:
        """The request was refused or never sent: its whole cost comes back."""
        budget = self.budget(model)
        budget.release(ticket, self.clock())
        self._changed(budget)

    def sync(self, model: str, ticket: Ticket | None, headers: Mapping[str, str]) -> None:
        """Re-sync ``model``'s buckets from a response's headers."""
        limits = RateLimits.from_headers(headers)
        budget = self.budget(model)
        budget.sync(ticket, limits, self.clock())
        self._changed(budget)

    def rate_limited(self, model: str, retry_after: float | None) -> None:
        """A 429: the buckets stay empty for ``retry_after`` seconds."""
        budget = self.budget(model)
        budget.rate_limited(retry_after, self.clock())
        self._changed(budget)

    def overloaded(self, model: str) -> float:
        """A 529 or an in-stream ``overloaded_error``: admission pauses; returns the pause."""
        budget = self.budget(model)
        pause = budget.overloaded(self.clock())
        self._changed(budget)
        return pause

    # -- one request's frames ------------------------------------------------------------------

    def retry_policy(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy`` without retries of 429 and 529: under admission those queue again instead.

        Example::

            transport_retry = admission.retry_policy(client.retry)
        """
        return _AdmittedRetry(policy.max_retries, policy.initial_delay, policy.max_delay, policy.max_retry_after)

    def frames(
        self, params: Mapping[str, Any], send: Send, *, on_response: OnResponse | None = None
    ) -> Observable[Frame]:
        """The frames of ``send``'s request, started only once the budget admits it.

        ``send(on_response)`` must not retry 429 or 529 itself: those come back here, are
        counted, and the request queues again (up to ``max_retries`` times) while nothing was
        streamed yet. Disposing cancels the wait or the request and gives the reservation back.
        """

        def open(
            observer: FrameObserver, sink: FrameSink | None, scheduler: abc.SchedulerBase | None
        ) -> abc.DisposableBase:
            loop = asyncio.get_running_loop()
            attempt = _Attempt(self, params, send, observer, sink, on_response)
            task = loop.create_task(attempt.run())
            return Once(lambda: attempt.dispose(task))

        return FrameSource(open)  # a sink (a MessageStream) keeps the lean route through it


@dataclass(frozen=True, slots=True)
class _AdmittedRetry(RetryPolicy):
    """The transport's retries, less 429 and 529 (the admission sees those and queues again)."""

    def should_retry(self, status: int, headers: Mapping[str, str]) -> bool:
        return status not in (429, 529) and RetryPolicy.should_retry(self, status, headers)


_COUNTED_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


class _Attempt:
    """One request under admission: acquire, stream, settle; again after a 429 or 529."""

    def __init__(
        self,
        admission: Admission,
        params: Mapping[str, Any],
        send: Send,
        observer: FrameObserver,
        sink: FrameSink | None,
        on_response: OnResponse | None,
    ) -> None:
        self.admission = admission
        self.on_response = on_response
        self.sink = sink
        self.params = params
        self.model = str(params.get("model", ""))
        self.send = send
        self.observer: FrameObserver | None = observer
        self.ticket: Ticket | None = None
        self.inner: abc.DisposableBase | None = None
        self.done: asyncio.Future[Exception | None] | None = None
        self.started = False
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None

    def dispose(self, task: asyncio.Task[None]) -> None:
        self.observer = None
        task.cancel()
        if self.inner is not None:
            self.inner.dispose()
            self.inner = None
        self._finish(None)

    def _finish(self, error: Exception | None) -> None:
        ticket, self.ticket = self.ticket, None
        if ticket is not None:
            if error is None or self.started:
                self.admission.settle(
                    self.model, ticket, output_tokens=self.output_tokens, input_tokens=self.input_tokens
                )
            else:
                self.admission.release(self.model, ticket)

    async def run(self) -> None:
        admission = self.admission
        try:
            cost = await admission.cost(self.params)
            retries = 0
            while True:
                self.ticket = await admission.acquire(self.model, cost)
                error = await self._once()
                if error is None:
                    self._finish(None)
                    self._emit_completed()
                    return
                refused = not self.started and isinstance(error, APIError) and not error.in_stream
                if refused and isinstance(error, RateLimitError):
                    self._finish(error)
                    admission.rate_limited(self.model, _retry_after(error))
                elif isinstance(error, OverloadedError):
                    self._finish(error)
                    admission.overloaded(self.model)
                else:
                    self._finish(error)
                    self._emit_error(error)
                    return
                if not refused or retries >= admission.max_retries:
                    self._emit_error(error)
                    return
                retries += 1
        except asyncio.CancelledError:
            self._finish(None)
            raise
        except Exception as e:  # count_tokens failed, or a bug: the subscriber hears of it
            self._finish(e)
            self._emit_error(e)

    async def _once(self) -> Exception | None:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self.started = False
        self.output_tokens = None
        ticket = self.ticket
        model = self.model

        def on_response(response: Response) -> None:
            self.admission.sync(model, ticket, response.headers)
            if response.status < 400:
                self.admission.budget(model).succeeded()
            if self.on_response is not None:
                self.on_response(response)

        source = self.send(on_response)
        if self.sink is not None and isinstance(source, FrameSource):
            self.inner = source.attach_sink(_ForwardFields(self, self.sink))
        else:
            self.inner = source.subscribe(_Forward(self))
        try:
            return await self.done
        finally:
            self.inner = None

    def _emit_completed(self) -> None:
        if self.observer is not None:
            self.observer.on_completed()

    def _emit_error(self, error: Exception) -> None:
        if self.observer is not None:
            self.observer.on_error(error)

    # called by _Forward
    def on_frame(self, event: str, data: str | bytes) -> None:
        self.started = True
        if event == "message_delta":
            usage = _usage(data)
            if usage is not None:
                self.output_tokens = usage
        elif event == "message_start":
            self.input_tokens = _input_tokens(data)
        elif event == "error" and (
            "overloaded_error" in data if isinstance(data, str) else b"overloaded_error" in data
        ):
            self.admission.overloaded(self.model)

    def end(self, error: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(error)


class _Forward(abc.ObserverBase[Frame]):
    """Passes frames on and tells the attempt what it needs to know of them."""

    def __init__(self, attempt: _Attempt) -> None:
        self.attempt = attempt

    def on_next(self, value: Frame) -> None:
        self.attempt.on_frame(value.event, value.data)
        if self.attempt.observer is not None:
            self.attempt.observer.on_next(value)

    def on_error(self, error: Exception) -> None:
        self.attempt.end(error)

    def on_completed(self) -> None:
        self.attempt.end(None)


class _ForwardFields(_Forward):
    """The same for a downstream :class:`~rxclaude.core.frame.FrameSink`: frames as their fields."""

    def __init__(self, attempt: _Attempt, sink: FrameSink) -> None:
        super().__init__(attempt)
        self._fields = sink.on_fields

    def on_fields(self, event: str, data: bytes, id: str | None, retry: int | None) -> None:
        self.attempt.on_frame(event, data)
        if self.attempt.observer is not None:
            self._fields(event, data, id, retry)


def _usage(data: str | bytes) -> int | None:
    try:
        usage = orjson.loads(data).get("usage") or {}
        value = usage.get("output_tokens")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _input_tokens(data: str | bytes) -> int | None:
    try:
        usage = (orjson.loads(data).get("message") or {}).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None
    value = usage.get("input_tokens")
    created = usage.get("cache_creation_input_tokens") or 0
    if not isinstance(value, int):
        return None
    return value + (created if isinstance(created, int) else 0)


def _retry_after(error: APIError) -> float | None:
    from rxclaude.core.ratelimit import retry_after_seconds

    return retry_after_seconds(error.headers) if error.headers is not None else None
