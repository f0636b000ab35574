"""Fallback and hedging: one logical request over several routes (clients, providers, models).

Strategy: :func:`fallback` returns a :class:`FallbackStream` -- a :class:`~rxclaude.MessageStream`,
so every stream, operator and sink works on it -- whose one source is a race between routes.
Each route's request runs as usual; what it sends before content (``message_start``, pings) is
held back. The first route to send content (a ``content_block_*`` event, or ``message_delta``
for an empty answer) *wins*: its held frames, then the rest of its body, go downstream, and
every other route's connection is closed at once (billing stops). A route that fails before
content hands over to the next route, if ``switch_on(error)`` says so. With ``hedge_after``, a
route that has sent no content ``hedge_after`` seconds after it started makes the next one
start *too*: the two race, the first to content wins. Every route's outcome, usage (what its
``message_start`` reported: a loser's input tokens are billed too) and request id stay readable
in :attr:`FallbackStream.attempts`.

Once a route has won, its stream is the answer, errors included: switching mid-answer would
duplicate text. A recovery policy that resumes after content (the recovery issue) wraps the
winning stream; this module only ever switches before content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reactivex import Observable, abc

from rxclaude.client import Client
from rxclaude.core.errors import (
    ContentError,
    IncompleteStreamError,
    RoutesExhaustedError,
    RxClaudeError,
    StreamCancelledError,
)
from rxclaude.core.events import ErrorEvent, MessageStartEvent
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.message import Usage
from rxclaude.core.parse import error_for, parse_frame
from rxclaude.plumbing import FrameSource, Once
from rxclaude.stream import MessageStream
from rxclaude.transport.base import Response

__all__ = ["Attempt", "FallbackStream", "Route", "fallback", "switch_on_any"]

Outcome = Literal["running", "won", "failed", "lost", "cancelled"]

_CONTENT = frozenset({"content_block_start", "content_block_delta", "message_delta", "message_stop"})


class Route:
    """One way to answer: a client (its provider, credentials, base URL) and parameter overrides.

    Example::

        Route(bedrock_client, model="anthropic.claude-sonnet-4-5-20250929-v1:0", name="bedrock")
    """

    __slots__ = ("client", "name", "params")

    def __init__(self, client: Client, *, name: str | None = None, **params: Any) -> None:
        self.client = client
        self.params: Mapping[str, Any] = dict(params)
        self.name = name or f"{client.provider.name}:{params.get('model', '')}".rstrip(":")

    def __repr__(self) -> str:
        return f"Route({self.name!r})"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one route did for a :class:`FallbackStream` (times in seconds from its start).

    ``outcome``: ``running``; ``won`` (its answer is the stream's); ``failed`` (before content,
    ``error`` says why); ``lost`` (another route won first: closed at once); ``cancelled`` (the
    stream was cancelled). ``usage`` is what its ``message_start`` reported (``None`` before).

    Example::

        billed = sum(a.usage.input_tokens or 0 for a in stream.attempts if a.usage and a.outcome == "lost")
    """

    route: Route
    started: float
    outcome: Outcome
    first_content: float | None = None
    usage: Usage | None = None
    request_id: str | None = None
    error: Exception | None = None


def switch_on_any(error: Exception) -> bool:
    """The default ``switch_on``: any failure before content but a bad request body (which
    every route would refuse) moves on to the next route.

    Example::

        fallback(routes, switch_on=lambda e: isinstance(e, rxclaude.OverloadedError), **params)
    """
    return isinstance(error, RxClaudeError) and not isinstance(error, (ContentError, StreamCancelledError))


class FallbackStream(MessageStream):
    """A :class:`~rxclaude.MessageStream` answered by the first of several routes to send content.

    Example::

        stream = rxclaude.fallback([Route(a), Route(b)], hedge_after=2.0, model=m, max_tokens=64, messages=msgs)
        print(await stream.final_text(), stream.winner)
    """

    _race: _Race | None = None

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Each route started so far, in start order, as it stands now."""
        race = self._race
        return () if race is None else tuple(r.snapshot() for r in race.runners)

    @property
    def winner(self) -> Attempt | None:
        """The route whose answer this is, once one sent content."""
        race = self._race
        return None if race is None or race.winner is None else race.winner.snapshot()


def fallback(
    routes: Sequence[Route | Client],
    *,
    hedge_after: float | None = None,
    switch_on: Callable[[Exception], bool] = switch_on_any,
    **params: Any,
) -> FallbackStream:
    """One logical streaming request over ``routes``, tried in order until one sends content.

    ``params`` are the Messages parameters; a :class:`Route`'s own override them (another
    model). ``hedge_after``: seconds a route may go without content before the next one starts
    alongside it (hedging); ``None`` starts the next only when one fails. All routes failing
    raises :class:`~rxclaude.RoutesExhaustedError`.

    Example::

        stream = rxclaude.fallback(
            [Route(client, model="claude-opus-5-5"), Route(client, model="claude-sonnet-5-5"), Route(bedrock)],
            hedge_after=1.5, max_tokens=512, messages=[{"role": "user", "content": "Hi"}],
        )
        async with stream:
            stream.text.subscribe(print)
    """
    chosen = tuple(r if isinstance(r, Route) else Route(r) for r in routes)
    if not chosen:
        raise ValueError("fallback() needs at least one route")
    if hedge_after is not None and hedge_after < 0:
        raise ValueError("hedge_after must be >= 0 seconds")
    holder: list[FallbackStream] = []

    def open(
        observer: FrameObserver, sink: FrameSink | None, scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            observer.on_error(RuntimeError("rxclaude.fallback() streams run on an asyncio loop: use `async def` code"))
            return Once()
        race = _Race(holder[0], observer, sink, chosen, params, hedge_after, switch_on)
        holder[0]._race = race
        holder.clear()  # the stream holds the race; nothing here holds the stream any more
        race.start_next()
        return Once(race.dispose)

    first = chosen[0].client
    partial_mode = "trailing-strings" if "fine-grained-tool-streaming-2025-05-14" in first.betas else "on"
    stream = FallbackStream(FrameSource(open), partial_mode=partial_mode)
    holder.append(stream)
    return stream


class _Race:
    """One subscription's routes: starts them, picks the winner, closes the rest."""

    def __init__(
        self,
        stream: FallbackStream,
        downstream: FrameObserver,
        sink: FrameSink | None,
        routes: tuple[Route, ...],
        params: Mapping[str, Any],
        hedge_after: float | None,
        switch_on: Callable[[Exception], bool],
    ) -> None:
        self.stream: FallbackStream | None = stream
        self.downstream = downstream
        self.on_fields = sink.on_fields if sink is not None else None  # the lean route, when asked for
        self.routes = routes
        self.params = params
        self.hedge_after = hedge_after
        self.switch_on = switch_on
        self.runners: list[_Runner] = []
        self.winner: _Runner | None = None
        self.finished = False
        self.errors: list[Exception] = []
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self._timer: asyncio.TimerHandle | None = None

    def now(self) -> float:
        return self.loop.time() - self.t0

    def start_next(self) -> bool:
        """Start the next untried route; ``False`` if none is left."""
        if self.finished or self.winner is not None or len(self.runners) >= len(self.routes):
            return False
        route = self.routes[len(self.runners)]
        runner = _Runner(self, route)
        self.runners.append(runner)
        self._arm()
        runner.start({**self.params, **route.params})
        return True

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.hedge_after is not None and len(self.runners) < len(self.routes):
            self._timer = self.loop.call_later(self.hedge_after, self._hedge)

    def _hedge(self) -> None:
        self._timer = None
        self.start_next()

    def commit(self, runner: _Runner) -> None:
        self.winner = runner
        runner.outcome = "won"
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for other in self.runners:
            if other is not runner and other.outcome == "running":
                other.stop("lost")
        stream, self.stream = self.stream, None
        if stream is not None and runner.response is not None:
            stream._set_response(runner.response)

    def failed(self, runner: _Runner, error: Exception) -> None:
        self.errors.append(error)
        try:
            switch = self.switch_on(error)
        except Exception as e:  # a bug in the predicate ends the stream with it, never a hang
            e.__context__ = error
            self.fail(e)
            return
        if not switch:
            self.fail(error)
            return
        if self.start_next() or any(r.outcome == "running" for r in self.runners):
            return
        exhausted = RoutesExhaustedError(tuple(self.errors))
        exhausted.__cause__ = error
        self.fail(exhausted)

    def fail(self, error: Exception) -> None:
        if self.finished:
            return
        self.finished = True
        self.dispose("cancelled")
        if self.stream is not None and self.runners:
            last = self.runners[-1]
            if last.response is not None:
                self.stream._set_response(last.response)  # status and request id of the failure
        self.stream = None
        downstream = self.downstream
        self.release()
        downstream.on_error(error)

    def release(self) -> None:
        """The race is over: let go of the stream (it keeps the race for ``attempts``; no cycle)."""
        self.downstream = _DONE
        self.on_fields = None
        self.stream = None

    def dispose(self, outcome: Outcome = "cancelled") -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for runner in self.runners:
            if runner.outcome in ("running", "won") and runner.connection is not None:
                runner.stop(outcome if runner.outcome == "running" else "won")
        self.stream = None


class _Runner:
    """One route's request: holds its frames back until it wins, then passes them through."""

    def __init__(self, race: _Race, route: Route) -> None:
        self.race = race
        self.route = route
        self.started = race.now()
        self.outcome: Outcome = "running"
        self.first_content: float | None = None
        self.usage: Usage | None = None
        self.response: Response | None = None
        self.error: Exception | None = None
        self.connection: abc.DisposableBase | None = None
        self.held: list[tuple[str, bytes, str | None, int | None] | Frame] = []

    def snapshot(self) -> Attempt:
        return Attempt(
            route=self.route,
            started=self.started,
            outcome=self.outcome,
            first_content=self.first_content,
            usage=self.usage,
            request_id=self.response.request_id if self.response is not None else None,
            error=self.error,
        )

    def start(self, params: Mapping[str, Any]) -> None:
        try:
            source: Observable[Frame] = self.route.client._frames(params, on_response=self._on_response)
        except Exception as e:  # the request could not be built (validation): this route fails
            self._failed(e)
            return
        if isinstance(source, FrameSource):
            self.connection = source.attach_sink(self)  # frames as their fields where the decoder can
        else:
            self.connection = source.subscribe(self.on_next, self.on_error, self.on_completed)

    def stop(self, outcome: Outcome) -> None:
        self.outcome = outcome
        connection, self.connection = self.connection, None
        self.held.clear()
        if connection is not None:
            connection.dispose()  # cancels the request's task: the connection closes at once

    def _on_response(self, response: Response) -> None:
        self.response = response

    # -- frames ---------------------------------------------------------------------------------

    def on_fields(self, event: str, data: bytes, id: str | None, retry: int | None) -> None:
        race = self.race
        if race.winner is self:
            if race.on_fields is not None:
                race.on_fields(event, data, id, retry)
            else:
                race.downstream.on_next(Frame(event, data.decode("utf-8", "replace"), id, retry))
            return
        if self.outcome != "running":
            return
        self._before_content(event, data, (event, data, id, retry))

    def on_next(self, frame: Frame) -> None:
        race = self.race
        if race.winner is self:
            race.downstream.on_next(frame)
            return
        if self.outcome != "running":
            return
        self._before_content(frame.event, frame.data, frame)

    def _before_content(
        self, event: str, data: bytes | str, item: tuple[str, bytes, str | None, int | None] | Frame
    ) -> None:
        if event in _CONTENT:
            self.first_content = self.race.now()
            self.held.append(item)
            self.race.commit(self)
            held, self.held = self.held, []
            for each in held:
                if self.race.winner is not self:
                    return  # the downstream cancelled while taking the held frames
                if isinstance(each, Frame):
                    self.on_next(each)
                else:
                    self.on_fields(*each)
            return
        if event == "error" or event == "message_start":
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            try:
                typed = parse_frame(Frame(event, text))
            except Exception as e:  # a malformed frame: this route fails
                self._fail_now(e)
                return
            if isinstance(typed, ErrorEvent):
                error = error_for(typed, status_code=self.response.status if self.response else 200)
                if error.request_id is None and self.response is not None:
                    error.request_id = self.response.request_id
                self._fail_now(error)
                return
            if isinstance(typed, MessageStartEvent):
                self.usage = typed.message.usage
        self.held.append(item)

    def _fail_now(self, error: Exception) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.dispose()
        self._failed(error)

    def _failed(self, error: Exception) -> None:
        self.outcome = "failed"
        self.error = error
        self.held.clear()
        self.race.failed(self, error)

    def on_error(self, error: Exception) -> None:
        if self.race.winner is self:
            downstream = self.race.downstream
            self.race.release()
            downstream.on_error(error)  # after content: the answer's own error
        elif self.outcome == "running":
            self.connection = None
            self._failed(error)

    def on_completed(self) -> None:
        if self.race.winner is self:
            downstream = self.race.downstream
            self.race.release()
            downstream.on_completed()
        elif self.outcome == "running":
            self.connection = None
            self._failed(IncompleteStreamError("the route's stream ended before any content"))


class _Done:
    """Where a finished race's stray notifications go."""

    def on_next(self, frame: Frame, /) -> None:
        pass

    def on_error(self, error: Exception, /) -> None:
        pass

    def on_completed(self) -> None:
        pass


_DONE = _Done()
