"""Frame -> typed event, with orjson.

Strategy: one ``orjson.loads`` per frame, then a dispatch on the JSON ``type`` (the event name
equals it on every provider; the frame's ``event`` is the fallback). One parser,
:func:`parse_lean`, serves every route: it takes a frame as its fields (``data`` as bytes or text)
and returns a plain text or thinking delta -- nearly every event of a long answer -- as a tuple,
so a consumer that only wants the text builds no event objects; :func:`parse_frame` is the same
parser with those tuples made into events. Unknown event types become
:class:`~rxclaude.core.events.UnknownEvent`; an ``error`` event becomes an
:class:`~rxclaude.core.events.ErrorEvent` that :func:`raise_for_error` turns into the typed error.
"""

from __future__ import annotations

from typing import Any

import orjson

from rxclaude.core.blocks import block_from_dict
from rxclaude.core.deltas import InputJSONDelta, SignatureDelta, TextDelta, ThinkingDelta, delta_from_dict
from rxclaude.core.errors import APIError, MalformedEventError, error_from_body
from rxclaude.core.events import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    Event,
    MessageDelta,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    UnknownEvent,
)
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, Usage
from rxclaude.core.values import EMPTY, FrozenDict

__all__ = ["PlainDelta", "delta_event", "error_for", "parse_frame", "parse_lean", "raise_for_error"]

_PING = PingEvent()
_STOP = MessageStopEvent()
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


PlainDelta = tuple[int, str, bool]
"""A plain text or thinking delta as ``(index, text, is_thinking)``: what :func:`parse_lean` returns
for the bulk of a long stream instead of two event objects."""


def parse_lean(event: str, data: bytes | str, id: str | None = None, retry: int | None = None) -> Event | PlainDelta:
    """Type one frame, given as its fields, as its event; a plain delta comes back as a :data:`PlainDelta`.

    The one parser behind every route. "Plain" means exactly ``{"type":"content_block_delta",
    "index":i,"delta":{"type":"text_delta"|"thinking_delta", <field>: str}}``; a delta with any
    other field is typed as usual, so nothing the API adds is lost. ``data`` may be the raw bytes
    of :meth:`rxclaude.SSEDecoder.push_fields` (no UTF-8 decoding for a plain delta; invalid UTF-8
    is replaced as the decoder's ``Frame`` would have it) or a ``Frame``'s text.

    Raises:
        MalformedEventError: the data is not a JSON object, or lacks a field its type requires.

    Example:
        >>> parse_lean("content_block_delta",
        ...     b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}')
        (0, 'Hi', False)
    """
    try:
        d = _loads(data)
    except _JSONDecodeError as e:
        if type(data) is bytes:  # not JSON, or not UTF-8: parse the text a Frame would hold
            return parse_lean(event, data.decode("utf-8", "replace"), id, retry)
        raise MalformedEventError(f"{event!r} frame data is not valid JSON: {e}", event=event, data=str(data)) from None
    if type(d) is not dict:
        raise MalformedEventError(f"{event!r} frame data is not a JSON object", event=event, data=_text(data))
    if len(d) == 3:
        try:  # the plain-delta check; subscripts are cheaper than .get(), a missing key is just not plain
            if d["type"] == "content_block_delta":
                delta = d["delta"]
                if type(delta) is dict and len(delta) == 2:
                    kind = delta["type"]
                    if kind == "text_delta":
                        text = delta["text"]
                        index = d["index"]
                        if type(text) is str and type(index) is int:
                            return (index, text, False)
                    elif kind == "thinking_delta":
                        text = delta["thinking"]
                        index = d["index"]
                        if type(text) is str and type(index) is int:
                            return (index, text, True)
        except KeyError:
            pass
    return _typed(d, event, data, id, retry)


def parse_frame(frame: Frame) -> Event:
    """Type one frame's JSON as its event (never raises for an unknown type).

    Raises:
        MalformedEventError: the data is not JSON, or lacks a field its type requires.

    Example:
        >>> parse_frame(Frame("content_block_stop", '{"type":"content_block_stop","index":0}'))
        ContentBlockStopEvent(index=0, extra={})
    """
    event = parse_lean(frame.event, frame.data, frame.id, frame.retry)
    return delta_event(event) if isinstance(event, tuple) else event


def delta_event(plain: PlainDelta) -> ContentBlockDeltaEvent:
    """The event a :data:`PlainDelta` stands for.

    Example:
        >>> delta_event((0, "Hi", False)).delta.text
        'Hi'
    """
    index, text, thinking = plain
    return ContentBlockDeltaEvent(index, ThinkingDelta(text) if thinking else TextDelta(text))


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if type(data) is bytes else str(data)


def _typed(d: dict[str, Any], event: str, data: bytes | str, id: str | None, retry: int | None) -> Event:
    t = d.get("type", event)
    if t == "content_block_delta":
        delta = d.get("delta")
        index = d.get("index")
        if type(delta) is dict and type(index) is int:
            value = delta_from_dict(delta)
            field = _STRING_FIELDS.get(type(value))
            if field is not None and type(getattr(value, field)) is not str:
                raise _missing(event, data, f"string delta.{field}")  # text that is not text breaks every join
            return ContentBlockDeltaEvent(index, value, _rest(d, "index", "delta"))
        raise _missing(event, data, "index and delta")
    try:
        handler = _HANDLERS.get(t)
        if handler is None:
            return UnknownEvent(str(t), d, Frame(event, _text(data), id, retry))
        return handler(d)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise _missing(event, data, _REQUIRED.get(t, "its fields")) from None


def _missing(event: str, data: bytes | str, what: str) -> MalformedEventError:
    return MalformedEventError(f"{event!r} event lacks a valid {what}", event=event, data=_text(data))


def _rest(d: dict[str, Any], *known: str) -> FrozenDict:
    rest = {k: v for k, v in d.items() if k not in known and k != "type"}
    return FrozenDict(rest) if rest else EMPTY


def _message_start(d: dict[str, Any]) -> Event:
    m = d["message"]
    if type(m) is not dict:
        raise TypeError
    return MessageStartEvent(Message.from_dict(m), _rest(d, "message"))


def _block_start(d: dict[str, Any]) -> Event:
    index, block = d["index"], d["content_block"]
    if type(index) is not int or type(block) is not dict:
        raise TypeError
    return ContentBlockStartEvent(index, block_from_dict(block), _rest(d, "index", "content_block"))


def _block_stop(d: dict[str, Any]) -> Event:
    index = d["index"]
    if type(index) is not int:
        raise TypeError
    return ContentBlockStopEvent(index, _rest(d, "index")) if len(d) > 2 else ContentBlockStopEvent(index)


def _message_delta(d: dict[str, Any]) -> Event:
    delta = d.get("delta") or {}
    usage = d.get("usage") or {}
    return MessageDeltaEvent(MessageDelta.from_dict(delta), Usage.from_dict(usage), _rest(d, "delta", "usage"))


def _message_stop(d: dict[str, Any]) -> Event:
    return MessageStopEvent(_rest(d)) if len(d) > 1 else _STOP


def _ping(d: dict[str, Any]) -> Event:
    return _PING


def _error(d: dict[str, Any]) -> Event:
    error = d.get("error")
    return ErrorEvent(error if type(error) is dict else {}, d)


_STRING_FIELDS = {
    TextDelta: "text",
    ThinkingDelta: "thinking",
    InputJSONDelta: "partial_json",
    SignatureDelta: "signature",
}
_HANDLERS = {
    "message_start": _message_start,
    "content_block_start": _block_start,
    "content_block_stop": _block_stop,
    "message_delta": _message_delta,
    "message_stop": _message_stop,
    "ping": _ping,
    "error": _error,
}
_REQUIRED = {
    "message_start": "message object",
    "content_block_start": "index and content_block",
    "content_block_stop": "index",
}


def error_for(event: ErrorEvent, *, status_code: int | None = 200) -> APIError:
    """The typed exception for an in-stream ``error`` event.

    Example:
        >>> e = error_for(ErrorEvent({"type": "overloaded_error", "message": "Overloaded"},
        ...     {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        >>> type(e).__name__
        'OverloadedError'
    """
    return error_from_body(event.raw, status_code=status_code, in_stream=True)


def raise_for_error(event: Event) -> Event:
    """Return ``event`` unchanged, or raise the typed error if it is an ``error`` event."""
    if type(event) is ErrorEvent:
        raise error_for(event)
    return event
