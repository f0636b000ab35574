"""The relay's wire format: SSE events with ids, and error bodies in the API's shape.

Example:
    >>> encode_frame("ping", '{"type": "ping"}', 3)
    b'event: ping\\ndata: {"type": "ping"}\\nid: 3\\n\\n'
    >>> error_body("not_found_error", "no such stream")
    '{"type":"error","error":{"type":"not_found_error","message":"no such stream"}}'
"""

from __future__ import annotations

import re
from typing import Final

import orjson

from rxclaude.core.errors import APIError, RxClaudeError

__all__ = ["KEEPALIVE", "encode_frame", "error_body", "upstream_error_body"]

KEEPALIVE: Final = b": keep-alive\n\n"
"""The comment an idle client gets every ``keepalive`` seconds."""
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def encode_frame(event: str, data: str, id: int) -> bytes:
    """One SSE event as the relay writes it: ``event``, one ``data`` line per line, ``id``, blank line.

    Line breaks (``\\n``, ``\\r\\n``, ``\\r``) in ``data`` split it into ``data`` lines, which the
    client joins back with ``\\n``; an event name cannot hold one, so they are removed from it.

    Example:
        >>> encode_frame("ping", '{"type": "ping"}', 3)
        b'event: ping\\ndata: {"type": "ping"}\\nid: 3\\n\\n'
    """
    if "\n" in event or "\r" in event:
        event = _LINE_BREAK.sub("", event)
    if "\n" in data or "\r" in data:
        lines = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(data))
        return f"event: {event}\n{lines}id: {id}\n\n".encode("utf-8", "replace")
    return f"event: {event}\ndata: {data}\nid: {id}\n\n".encode("utf-8", "replace")


def error_body(error_type: str, message: str) -> str:
    """An error in the API's shape: ``{"type":"error","error":{"type":...,"message":...}}``.

    Example:
        >>> error_body("api_error", "boom")
        '{"type":"error","error":{"type":"api_error","message":"boom"}}'
    """
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}}).decode()


def upstream_error_body(error: Exception) -> str:
    """The ``error`` event for an upstream failure; only the library's own messages are passed on.

    Example:
        >>> upstream_error_body(KeyError("secret"))
        '{"type":"error","error":{"type":"api_error","message":"the upstream stream failed (KeyError)"}}'
    """
    error_type = getattr(error, "type", None)
    if not isinstance(error_type, str) or not error_type:
        error_type = "api_error"
    if isinstance(error, APIError):
        message = error.message
    elif isinstance(error, RxClaudeError):
        message = str(error) or type(error).__name__
    else:  # a foreign source's exception: its text could hold anything
        message = f"the upstream stream failed ({type(error).__name__})"
    return error_body(error_type, message)
