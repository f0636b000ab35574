"""Bytes -> frames -> typed events: the first two stages of every pipeline."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from reactivex import Observable, abc

from rxclaude.core.events import ErrorEvent, Event
from rxclaude.core.frame import Frame, FrameObserver, FrameSink
from rxclaude.core.parse import delta_event, error_for, parse_frame, parse_lean
from rxclaude.core.sse import SSEDecoder
from rxclaude.operators.lifting import Stage, lift
from rxclaude.plumbing import EventSource, FrameSource, PlainObserver

__all__ = ["frames", "parse"]


def frames(
    *, max_frame_size: int = 16 * 1024 * 1024, on_comment: Callable[[str], None] | None = None
) -> Callable[[Observable[bytes]], Observable[Frame]]:
    """Decode a stream of byte chunks (any chunking) into SSE :class:`~rxclaude.Frame` values.

    ``on_comment`` sees comment lines (keep-alives); a frame over ``max_frame_size`` bytes is a
    :class:`~rxclaude.FrameTooLargeError`. At completion, an event without its closing blank
    line is dropped, as the SSE spec says.

    Example:
        >>> reactivex.of(b"event: ping\\ndata: {}\\n\\n").pipe(ops.frames())  # doctest: +SKIP
    """

    def operator(source: Observable[bytes]) -> Observable[Frame]:
        def open(
            observer: FrameObserver, sink: FrameSink | None, scheduler: abc.SchedulerBase | None
        ) -> abc.DisposableBase:
            decoder = SSEDecoder(max_frame_size=max_frame_size, on_comment=on_comment)
            if sink is not None:
                feed = functools.partial(decoder.push_fields, emit=sink.on_fields)  # no Frame built
            else:
                feed = functools.partial(decoder.push, emit=observer.on_next)

            def on_completed() -> None:
                for frame in decoder.close():
                    observer.on_next(frame)

            stage: Stage[bytes] = Stage(cast(abc.ObserverBase[Any], observer), feed, on_completed)
            return stage.subscribe_to(source, scheduler)

        return FrameSource(open)

    return operator


def parse() -> Callable[[Observable[Frame]], Observable[Event]]:
    """Type each frame as its event; an ``error`` event ends the stream with its typed error.

    Pings are kept (they prove liveness); unknown event types pass through as
    :class:`~rxclaude.core.events.UnknownEvent`. Malformed JSON is a
    :class:`~rxclaude.MalformedEventError`; ``{"type":"error"...}`` with ``overloaded_error``
    is an :class:`~rxclaude.OverloadedError`, even though the HTTP status was 200.

    Example:
        >>> frames.pipe(ops.parse(), ops.text()).subscribe(print)  # doctest: +SKIP
    """

    def operator(source: Observable[Frame]) -> Observable[Event]:
        if isinstance(source, FrameSource):
            return _ParsedFrames(source)  # the lean route: frames reach the parser as their fields
        return lift(_parse_frames)(source)

    return operator


def _parse_frames(observer: abc.ObserverBase[Event]) -> tuple[Callable[[Frame], None], None]:
    emit = observer.on_next

    def on_next(frame: Frame) -> None:
        event = parse_frame(frame)
        if type(event) is ErrorEvent:
            raise error_for(event)
        emit(event)

    return on_next, None


class _ParsedFrames(EventSource):
    """``parse()`` of a :class:`~rxclaude.plumbing.FrameSource`: attached to it as a
    :class:`~rxclaude.core.frame.FrameSink`, so frames come as their fields and none is built; a
    :class:`~rxclaude.plumbing.PlainObserver` gets plain deltas without their events either."""

    def __init__(self, source: FrameSource) -> None:
        super().__init__()
        self._source = source

    def _subscribe_core(
        self, observer: abc.ObserverBase[Event], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        sink = _ParseSink(observer, None)
        return sink.stage.hold(self._source.attach_sink(sink, scheduler))

    def attach_plain(self, observer: PlainObserver, scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        sink = _ParseSink(cast(abc.ObserverBase[Event], observer), observer.on_plain)
        return sink.stage.hold(self._source.attach_sink(sink, scheduler))


class _ParseSink:
    """A :class:`~rxclaude.core.frame.FrameSink` that types each frame and passes its event on."""

    __slots__ = ("_emit", "_plain", "stage")

    def __init__(self, observer: abc.ObserverBase[Event], plain: Callable[[int, str, bool], None] | None) -> None:
        self._emit = observer.on_next
        self._plain = plain
        step, _ = _parse_frames(observer)
        self.stage: Stage[Frame] = Stage(observer, step, None)  # the guard, the end, and Frames

    def on_fields(self, event: str, data: bytes, id: str | None, retry: int | None) -> None:
        stage = self.stage
        if stage.stopped:
            return
        try:
            parsed = parse_lean(event, data, id, retry)
            if isinstance(parsed, tuple):
                plain = self._plain
                if plain is not None:
                    plain(*parsed)
                else:
                    self._emit(delta_event(parsed))
            elif type(parsed) is ErrorEvent:
                raise error_for(parsed)
            else:
                self._emit(parsed)
        except Exception as e:
            stage.fail(e)

    def on_next(self, frame: Frame) -> None:
        self.stage.on_next(frame)

    def on_error(self, error: Exception) -> None:
        self.stage.on_error(error)

    def on_completed(self) -> None:
        self.stage.on_completed()
