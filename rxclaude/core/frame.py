"""``Frame``: one dispatched Server-Sent Event, exactly as the WHATWG spec defines it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rxclaude.core.values import fast_init_module

__all__ = [
    "Frame",
    "FrameObserver",
    "FrameSink",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """One dispatched Server-Sent Event, exactly as the WHATWG spec defines it.

    Attributes:
        event: the event type (``"message"`` when the stream named none).
        data: the ``data`` lines joined with ``"\\n"``.
        id: the last-event-ID buffer: the latest ``id`` seen, persisting across frames.
        retry: the reconnection time in ms, when this frame carried a valid ``retry`` field.

    Example:
        >>> Frame("ping", '{"type": "ping"}')
        Frame(event='ping', data='{"type": "ping"}', id=None, retry=None)
    """

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class FrameObserver(Protocol):
    """What takes a body's frames: ``on_next`` each, then one of ``on_error``/``on_completed``.

    Any reactivex ``Observer[Frame]`` is one.
    """

    def on_next(self, frame: Frame, /) -> None: ...

    def on_error(self, error: Exception, /) -> None: ...

    def on_completed(self) -> None: ...


class FrameSink(FrameObserver, Protocol):
    """A :class:`FrameObserver` that also takes a frame as its fields, ``data`` still raw bytes.

    Where the decoder can (:meth:`rxclaude.SSEDecoder.push_fields`), a frame source hands a sink
    each frame through ``on_fields`` and builds no :class:`Frame`; ``Frame(event,
    data.decode("utf-8", "replace"), id, retry)`` is the frame it stands for. Other decoders
    (Bedrock's eventstream) still call ``on_next``. See ``FrameSource.attach_sink``.
    """

    def on_fields(self, event: str, data: bytes, id: str | None, retry: int | None, /) -> None: ...


fast_init_module(globals(), __name__)
