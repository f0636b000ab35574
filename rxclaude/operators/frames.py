"""Bytes -> frames -> typed events: the first two stages of every pipeline."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from rxclaude.core.events import ErrorEvent, Event
from rxclaude.core.frame import Frame
from rxclaude.core.parse import error_for, parse_frame
from rxclaude.core.sse import SSEDecoder
from rxclaude.operators.lift import lift

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

    def setup(observer: abc.ObserverBase[Frame]) -> tuple[Callable[[bytes], None], Callable[[], None]]:
        decoder = SSEDecoder(max_frame_size=max_frame_size, on_comment=on_comment)
        push, emit = decoder.push, observer.on_next

        def on_next(chunk: bytes) -> None:
            push(chunk, emit)

        def on_completed() -> None:
            for frame in decoder.close():
                emit(frame)

        return on_next, on_completed

    return lift(setup)


def parse() -> Callable[[Observable[Frame]], Observable[Event]]:
    """Type each frame as its event; an ``error`` event ends the stream with its typed error.

    Pings are kept (they prove liveness); unknown event types pass through as
    :class:`~rxclaude.core.events.UnknownEvent`. Malformed JSON is a
    :class:`~rxclaude.MalformedEventError`; ``{"type":"error"...}`` with ``overloaded_error``
    is an :class:`~rxclaude.OverloadedError`, even though the HTTP status was 200.

    Example:
        >>> frames.pipe(ops.parse(), ops.text()).subscribe(print)  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[Event]) -> tuple[Callable[[Frame], None], None]:
        emit = observer.on_next

        def on_next(frame: Frame) -> None:
            event = parse_frame(frame)
            if type(event) is ErrorEvent:
                raise error_for(event)
            emit(event)

        return on_next, None

    return lift(setup)
