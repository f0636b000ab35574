"""``Frame``: one dispatched Server-Sent Event, exactly as the WHATWG spec defines it."""

from __future__ import annotations

from dataclasses import dataclass

from rxclaude.core.values import fast_init_module

__all__ = [
    "Frame",
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


fast_init_module(globals(), __name__)
