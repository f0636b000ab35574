"""MessageStream: one request, many live derived streams.

Strategy: the request's cold frame Observable is subscribed once, by the stream itself, which
types each frame, feeds an internal :class:`~rxclaude.MessageAccumulator` (so the final -- or,
after a cancel or an error, the partial -- message and usage are never lost) and hands the
result to lock-free :class:`~rxclaude.operators.Broadcast` hubs: ``frames`` (raw),
``events`` (every typed event), ``text`` and ``thinking`` (the deltas' strings), and one for
every event but those deltas, which ``usage``, ``blocks``, ``tool_input``, ``citations`` and
``stop_reason`` are cheap operators over. ``message`` is an ``AsyncSubject`` that late
subscribers still get. The accumulator takes each frame in before any stream emits it (raw
frames included), so a callback reading ``current_message`` or ``usage_so_far`` sees that
frame's effect.

Nearly every event of a long answer is a text (or thinking) delta. While nobody subscribes to
``events`` (or ``snapshots``, which needs every event), such a delta goes from its JSON straight
to the accumulator and the ``text`` hub, with no event objects (and, from the stream's own
request, no ``Frame`` either while nobody subscribes to ``frames``: the transport hands over the
decoder's fields); the values every subscriber sees are the same either way
(``tests/test_stream_routes.py`` checks the routes against each other and against the
operators).

What a late subscriber sees (a deliberate choice, so no stream ever buffers without bound):
``frames``/``events``/``text``/... are *hot*: they carry what arrives after you subscribe, and
a subscriber that comes after the end gets the end at once. Subscribe before the request
starts (before ``connect()``, or inside ``async with`` before its first ``await``) to see it all.
``message``, ``final_message()``, ``final_text()``, ``current_message`` and ``usage_so_far``
always cover the whole response.

When the request stops: at the end; on ``cancel()``; on leaving ``async with``; and when the
last listener leaves -- a disposed subscription or a cancelled ``await`` -- while nothing else
listens. Each closes the TCP connection at once; the partial message and usage stay readable
(``current_message``, ``usage_so_far``, ``StreamCancelledError.partial``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar, cast

from reactivex import Observable, abc
from reactivex.subject import AsyncSubject

from rxclaude import operators as ops
from rxclaude.core.accumulate import MessageAccumulator, MessageSnapshot
from rxclaude.core.blocks import ContentBlock
from rxclaude.core.citations import Citation
from rxclaude.core.deltas import TextDelta, ThinkingDelta
from rxclaude.core.errors import IncompleteStreamError, RxClaudeError, StreamCancelledError
from rxclaude.core.events import ContentBlockDeltaEvent, ContentBlockStopEvent, ErrorEvent, Event
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, ToolInput, Usage
from rxclaude.core.parse import delta_event, error_for, parse_lean
from rxclaude.core.ratelimit import RateLimits
from rxclaude.operators import Broadcast
from rxclaude.plumbing import DirectObservable, FrameSource, Once
from rxclaude.transport.base import Response

__all__ = ["MessageStream"]

_T = TypeVar("_T")


class MessageStream:
    """One streaming request fanned out to any number of typed, live Observables.

    Example::

        async with client.messages.stream(model=..., max_tokens=1024, messages=[...]) as stream:
            stream.text.subscribe(lambda s: print(s, end=""))
            stream.usage.subscribe(lambda u: print(u.output_tokens))
            message = await stream.final_message()
    """

    def __init__(self, source: Observable[Frame], *, partial_mode: Any = "on") -> None:
        self._source: Observable[Frame] | None = source
        self._frames: Broadcast[Frame] = Broadcast()
        self._events: Broadcast[Event] = Broadcast()
        self._text: Broadcast[str] = Broadcast()
        self._thinking: Broadcast[str] = Broadcast()
        self._others: Broadcast[Event] = Broadcast()  # every event but text/thinking deltas
        self._hubs: tuple[Broadcast[Any], ...] = (self._frames, self._events, self._text, self._thinking, self._others)
        self._raw = False  # someone subscribes to frames
        self._typed = False  # someone subscribes to events: type every frame as its event
        self._message: AsyncSubject[Message] = AsyncSubject()
        self._acc = MessageAccumulator(partial_mode=partial_mode)
        self._partial_mode = partial_mode
        self._connection: abc.DisposableBase | None = None
        self._subscribers = 0
        self._cancelled = False
        self._finished = False
        self._error: Exception | None = None
        self._final: Message | None = None  # built once, at message_stop
        self._done = asyncio.Event() if _has_loop() else None
        self.response: Response | None = None

    # -- the streams: each access makes a small view; the stream keeps no reference to its views,
    #    so a finished stream is freed as soon as nobody holds it (no cycle to wait on the GC for)

    @property
    def frames(self) -> Observable[Frame]:
        """Raw SSE frames, as decoded."""
        return self._counted(self._frames)

    @property
    def events(self) -> Observable[Event]:
        """Typed events (pings included); an in-stream ``error`` ends it with its typed error."""
        return self._counted(self._events)

    @property
    def message(self) -> Observable[Message]:
        """The final message (one value), also for late subscribers."""
        return self._counted(self._message)

    @property
    def text(self) -> Observable[str]:
        """Text deltas only."""
        return self._counted(self._text)

    @property
    def thinking(self) -> Observable[str]:
        """Thinking deltas only (empty ones skipped)."""
        return self._counted(self._thinking)

    @property
    def tool_input(self) -> Observable[ToolInput]:
        """Each tool block's input as it grows (then once more with ``done=True``)."""
        return self._counted(self._others).pipe(ops.tool_input(partial_mode=self._partial_mode))

    @property
    def citations(self) -> Observable[Citation]:
        """Citations as they arrive."""
        return self._counted(self._others).pipe(ops.citations())

    @property
    def blocks(self) -> Observable[ContentBlock]:
        """Each content block, complete, at its ``content_block_stop``."""
        acc, mode = self._acc, self._partial_mode

        def setup(observer: abc.ObserverBase[ContentBlock]) -> tuple[Callable[[Event], None], None]:
            emit = observer.on_next

            def on_next(event: Event) -> None:
                if type(event) is ContentBlockStopEvent and 0 <= event.index < len(acc.blocks):
                    emit(acc.blocks[event.index].build(None, mode))  # fed before it is routed here

            return on_next, None

        return self._counted(self._others).pipe(ops.lift(setup))

    @property
    def usage(self) -> Observable[Usage]:
        """Cumulative usage after message_start and each message_delta."""
        return self._counted(self._others).pipe(ops.usage())

    @property
    def snapshots(self) -> Observable[MessageSnapshot]:
        """The message so far after each event (text joined only when read)."""
        return self.events.pipe(ops.snapshots(partial_mode=self._partial_mode))

    @property
    def stop_reason(self) -> Observable[str]:
        """The stop reason, once set."""
        return self._counted(self._others).pipe(ops.stop_reason())

    # -- fan-in from the connection -------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        self._take(frame.event, frame.data, frame.id, frame.retry, frame)

    def _take(
        self, event: str, data: bytes | str, id: str | None = None, retry: int | None = None, frame: Frame | None = None
    ) -> None:
        """Take one frame in, given as its fields (the transport's lane, no Frame built) or as a Frame.

        The stream takes each frame in (accumulator first) before anyone sees it, raw frames
        included: a callback reading ``current_message`` gets the state with this frame in it.
        A ``Frame`` is built only when someone subscribes to ``frames``.
        """
        if frame is None and self._raw:
            frame = Frame(event, data.decode("utf-8", "replace") if type(data) is bytes else str(data), id, retry)
        if self._finished:
            if frame is not None:
                self._frames.on_next(frame)  # after message_stop raw frames still flow
            return
        try:
            parsed = parse_lean(event, data, id, retry)
            if isinstance(parsed, tuple):
                if not self._typed:  # a plain text/thinking delta that no one needs as an event
                    index, text, thinking = parsed
                    self._acc.feed_text(index, text, thinking)
                    if frame is not None:
                        self._frames.on_next(frame)
                    if not thinking:
                        self._text.on_next(text)
                    elif text:
                        self._thinking.on_next(text)
                    return
                parsed = delta_event(parsed)
        except Exception as e:  # malformed JSON, a delta out of order
            if frame is not None:
                self._frames.on_next(frame)  # the frame that ended the stream, then the error
            self._fail(_untraced(e))
            return
        self._on_event(parsed, frame)

    def _on_event(self, event: Event, frame: Frame | None) -> None:
        """Take in one typed event; ``frame`` is its raw frame (``None`` when nobody wants it)."""
        error: Exception | None = None
        if type(event) is ErrorEvent:  # an in-stream ``error``: its typed error ends the stream
            error = error_for(event, status_code=self.status or 200)
            if error.request_id is None:
                error.request_id = self.request_id
        else:
            try:
                self._acc.feed(event)
            except Exception as e:  # events out of order
                error = _untraced(e)
        if error is not None:
            if self._raw and frame is not None:
                self._frames.on_next(frame)  # the frame that ended the stream, then the error
            self._fail(error)
            return
        if self._raw and frame is not None:
            self._frames.on_next(frame)
        self._events.on_next(event)
        if type(event) is ContentBlockDeltaEvent:
            delta = event.delta
            if type(delta) is TextDelta:
                self._text.on_next(delta.text)
                return
            if type(delta) is ThinkingDelta:
                if delta.thinking:
                    self._thinking.on_next(delta.thinking)
                return
        self._others.on_next(event)
        if self._acc.done and not self._finished:
            self._finish_ok()

    def _fail(self, error: Exception) -> None:
        if self._finished:
            self._frames.on_error(error)  # after message_stop only raw frames still flow
            return
        if isinstance(error, RxClaudeError) and error.partial is None:
            try:
                error.partial = self.current_message
            except Exception:  # pragma: no cover - the partial is a courtesy; ending must not fail
                pass
        self._finished = True
        self._error = error
        self._connection_dispose()
        try:
            for hub in self._hubs:
                hub.on_error(error)
            self._message.on_error(error)
        finally:
            self._signal_done()

    def _on_completed(self) -> None:
        self._frames.on_completed()
        if self._finished:
            return
        if self._acc.done:
            self._finish_ok()
            return
        self._fail(IncompleteStreamError("the stream ended before message_stop", partial=self.current_message))

    def _finish_ok(self) -> None:
        try:
            message = self._acc.message()
        except Exception as e:  # e.g. ToolInputError on invalid tool JSON
            self._fail(_untraced(e))
            return
        self._final = message
        self._finished = True
        try:
            for hub in self._hubs[1:]:  # raw frames go on until the body ends (_on_completed)
                hub.on_completed()
            self._message.on_next(message)
            self._message.on_completed()
        finally:
            self._signal_done()

    def _signal_done(self) -> None:
        if self._done is not None:
            self._done.set()

    # -- lifecycle ------------------------------------------------------------------------------

    def connect(self) -> MessageStream:
        """Send the request (once); returns ``self``. Needs a running asyncio loop."""
        if self._connection is None and not self._finished and self._source is not None:
            if self._done is None:
                self._done = asyncio.Event()
            source, intake = self._source, _Intake(self)
            self._source = None  # subscribed once (a re-entrant call returns); no cycle through it
            if isinstance(source, FrameSource):
                self._connection = source.attach_sink(intake)  # frames as their fields: the lean route
            elif isinstance(source, DirectObservable):
                self._connection = source.attach(cast(abc.ObserverBase[Frame], intake))
            else:
                self._connection = source.subscribe(cast(abc.ObserverBase[Frame], intake))
            if self._finished:  # a synchronous source ended (or failed) the stream while subscribing
                self._connection_dispose()
        return self

    @property
    def started(self) -> bool:
        """Whether the request has been sent."""
        return self._source is None

    @property
    def done(self) -> bool:
        """Whether the stream has ended (completed, failed or cancelled)."""
        return self._finished

    def cancel(self) -> None:
        """Stop now: close the connection; partial message and usage stay available.

        Subscribers of the derived streams complete; ``message``/``final_message()`` raise
        :class:`~rxclaude.StreamCancelledError` whose ``partial`` is the message so far.
        """
        if self._finished:
            return
        self._cancelled = True
        self._connection_dispose()
        self._finished = True
        error = StreamCancelledError("the stream was cancelled", partial=self.current_message)
        self._error = error
        try:
            for hub in self._hubs:
                hub.on_completed()
            self._message.on_error(error)
        finally:
            self._signal_done()

    def _connection_dispose(self) -> None:
        connection, self._connection = self._connection, None  # (it holds the request's task)
        if connection is not None:
            connection.dispose()

    @property
    def error(self) -> Exception | None:
        """What ended the stream short of its end: its typed error, or
        :class:`~rxclaude.StreamCancelledError` after :meth:`cancel`; ``None`` otherwise.
        ``final_message()`` raises it; this reads it without raising (after ``await wait()``)."""
        return self._error

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` ended the stream."""
        return self._cancelled

    async def __aenter__(self) -> MessageStream:
        return self.connect()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cancel()

    def __await__(self) -> Generator[Any, None, Message]:
        return self.final_message().__await__()

    async def wait(self) -> None:
        """Wait until the stream ended, whatever the outcome (never raises but ``CancelledError``).

        A waiter counts as a subscriber: if it is cancelled (``asyncio.wait_for`` timing out, a
        task cancelled) and nothing else listens, the request is cancelled too, so no connection
        goes on streaming unread. ``asyncio.shield(stream.wait())`` keeps it running.
        """
        self.connect()
        if self._done is None:  # made outside a loop and ended (cancelled) before it started
            self._done = asyncio.Event()
            if self._finished:
                self._done.set()
        self._subscribers += 1
        try:
            await self._done.wait()
        except asyncio.CancelledError:
            if self._subscribers == 1 and self.started and not self._finished:
                self.cancel()
            raise
        finally:
            self._subscribers -= 1

    async def final_message(self) -> Message:
        """Start if needed, wait for the end, and return the final :class:`Message`.

        Raises the stream's typed error (with ``.partial``), or
        :class:`~rxclaude.StreamCancelledError` after :meth:`cancel`.
        """
        await self.wait()
        if self._error is not None:
            raise self._error
        assert self._final is not None
        return self._final

    async def final_text(self) -> str:
        """``(await final_message()).text``."""
        return (await self.final_message()).text

    # -- state ----------------------------------------------------------------------------------

    @property
    def current_message(self) -> Message | None:
        """The message so far (``incomplete=True`` until ``message_stop``), or ``None``."""
        if self._final is not None:
            return self._final
        if not self._acc.started:
            return None
        try:
            return self._acc.message()
        except RxClaudeError:
            return None

    @property
    def usage_so_far(self) -> Usage | None:
        """The latest cumulative usage, or ``None`` before ``message_start``."""
        return self._acc.usage if self._acc.started else None

    @property
    def request_id(self) -> str | None:
        """The ``request-id`` response header."""
        return self.response.request_id if self.response else None

    @property
    def status(self) -> int | None:
        """The HTTP status."""
        return self.response.status if self.response else None

    @property
    def headers(self) -> Any:
        """The response headers (case-insensitive)."""
        return self.response.headers if self.response else None

    @property
    def rate_limits(self) -> RateLimits | None:
        """The parsed ``anthropic-ratelimit-*`` and ``retry-after`` headers."""
        return RateLimits.from_headers(self.response.headers) if self.response else None

    @property
    def retry_after(self) -> float | None:
        """Seconds the ``retry-after-ms`` / ``retry-after`` response header asks to wait, or ``None``."""
        limits = self.rate_limits
        return limits.retry_after if limits is not None else None

    def _set_response(self, response: Response) -> None:
        self.response = response

    # -- subscriber counting: the last one leaving cancels the request ---------------------------

    def _counted(self, source: Observable[_T]) -> Observable[_T]:
        return _Counted(self, source)

    def _add(self, source: Observable[_T], guarded: _Guarded[_T]) -> abc.DisposableBase:
        """Subscribe one guarded subscriber; the last one leaving, while streaming, cancels."""
        self._subscribers += 1
        if isinstance(source, Broadcast):
            inner = source.attach(guarded)  # _Guarded already does what AutoDetachObserver would
            self._recount()
        else:
            inner = source.subscribe(guarded)
        released = False

        def dispose() -> None:
            nonlocal released
            if released:
                return
            released = True
            guarded.stop()  # nothing more reaches it, even from a delivery already under way
            inner.dispose()
            self._recount()
            self._subscribers -= 1
            if self._subscribers == 0 and self.started and not self._finished and not self._acc.done:
                self.cancel()  # (a subscriber leaving at message_stop does not cancel a whole message)

        guarded.release = dispose  # a subscriber whose callback raised leaves like one that disposed
        return Once(dispose)

    def _recount(self) -> None:
        self._raw = self._frames.observer_count > 0
        self._typed = self._events.observer_count > 0

    def _ipython_display_(self) -> None:
        """``display(stream)`` (or a stream as a cell's last value) in Jupyter: the live view of
        :func:`rxclaude.sinks.notebook` -- text, thinking, usage, a Stop button that cancels --
        starting the stream if needed. Without a running event loop (a terminal IPython between
        cells) or without the ``ipywidgets`` extra: the repr, and the stream is left alone."""
        if not _has_loop():
            print(repr(self))
            return
        try:
            from rxclaude.sinks import notebook

            notebook(self)
        except ImportError:
            print(repr(self))

    def __repr__(self) -> str:
        state = (
            "cancelled"
            if self._cancelled
            else "done"
            if self._finished
            else ("streaming" if self.started else "not started")
        )
        return f"<MessageStream {state} request_id={self.request_id!r}>"


class _Counted(DirectObservable[_T]):
    """One of a MessageStream's streams: each subscriber guarded and counted.

    Subscribing builds the :class:`_Guarded` observer straight from the callbacks (it already
    does what reactivex's ``AutoDetachObserver`` would), so a value reaches a subscriber
    through the hub's loop and one guard.
    """

    def __init__(self, stream: MessageStream, source: Observable[_T]) -> None:
        super().__init__()
        self._stream = stream
        self._source = source

    def _observe(
        self,
        on_next: abc.OnNext[_T] | None,
        on_error: abc.OnError | None,
        on_completed: abc.OnCompleted | None,
        scheduler: abc.SchedulerBase | None,
    ) -> abc.DisposableBase:
        return self._stream._add(self._source, _Guarded(on_next, on_error, on_completed))

    def _subscribe_core(
        self, observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._observe(observer.on_next, observer.on_error, observer.on_completed, scheduler)


class _Guarded(abc.ObserverBase[_T]):
    """A subscriber that can never break the stream or the other subscribers.

    A callback that raises would otherwise escape into ``cancel()`` (TS SDK #383: ``abort()``
    throwing) or into the connection's task, skipping the other subscribers and leaving
    ``final_message()`` waiting forever. An ``on_next`` that raises ends that subscriber: its
    ``on_error`` gets the exception, the loop's exception handler is told (a bug in a callback
    is never silent), and it stops counting as a listener. So is an exception an
    ``on_error``/``on_completed`` raises reported. A subscriber without ``on_error`` does not
    hear of the stream's own error; ``final_message()`` raises it.
    """

    __slots__ = ("_on_completed", "_on_error", "_on_next", "_stopped", "release")

    def __init__(
        self, on_next: abc.OnNext[_T] | None, on_error: abc.OnError | None, on_completed: abc.OnCompleted | None
    ) -> None:
        self._on_next = on_next
        self._on_error = on_error
        self._on_completed = on_completed
        self._stopped = False
        self.release: Callable[[], None] | None = None

    def on_next(self, value: _T) -> None:
        if self._stopped:
            return
        on_next = self._on_next
        if on_next is None:
            return
        try:
            on_next(value)
        except Exception as e:  # a bug in the subscriber's callback
            _report(e, "a MessageStream subscriber's on_next raised; it was unsubscribed")
            if self._stopped:  # it already got its end (its callback cancelled the stream, say)
                return
            self._stopped = True
            if self._on_error is not None:
                try:
                    self._on_error(e)
                except Exception as again:
                    if again is not e:
                        _report(again, "a MessageStream subscriber's on_error raised")
            release, self.release = self.release, None
            if release is not None:
                release()

    def stop(self) -> None:
        """Unsubscribed: no value or end reaches this subscriber any more."""
        self._stopped = True
        self.release = None

    def on_error(self, error: Exception) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.release = None  # ended: nothing to release, and no cycle back to the stream
        if self._on_error is None:
            return
        try:
            self._on_error(error)
        except Exception as e:
            if e is not error:
                _report(e, "a MessageStream subscriber's on_error raised")

    def on_completed(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.release = None
        if self._on_completed is None:
            return
        try:
            self._on_completed()
        except Exception as e:
            _report(e, "a MessageStream subscriber's on_completed raised")


class _Intake:
    """The stream's own observer of its source: the bound methods, no wrapper between.

    A :class:`~rxclaude.core.frame.FrameSink`. Attached as it is only to a
    :class:`~rxclaude.plumbing.FrameSource` or another :class:`DirectObservable` (the stream's own
    request, which calls ``on_next`` only before its one terminal call); any other source is
    subscribed through ``subscribe()`` and its guards. ``on_fields`` takes each frame as the SSE
    decoder's fields (``SSEDecoder.push_fields``), so no Frame is built unless one is needed.
    """

    __slots__ = ("on_completed", "on_error", "on_fields", "on_next")

    def __init__(self, stream: MessageStream) -> None:
        self.on_next = stream._on_frame
        self.on_fields = stream._take  # the transport's Frame-free lane (FrameSink.on_fields)
        self.on_error = stream._fail
        self.on_completed = stream._on_completed


def _report(error: Exception, message: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        logging.getLogger("rxclaude").error(message, exc_info=error)
        return
    loop.call_exception_handler({"message": message, "exception": error})


def _untraced(error: Exception) -> Exception:
    """``error`` (a bad frame or event, caught while the stream takes a frame in) without its
    tracebacks, nor those of the exceptions it was raised from. Their frames lead back, caller
    by caller, to the request's read loop, which holds the stream: the stream keeps its error,
    so it would wait for the cyclic GC. The message already says which event and data;
    ``final_message()`` raises it with a fresh traceback.
    """
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        e.__traceback__ = None
        e = e.__cause__ or e.__context__
    return error


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
