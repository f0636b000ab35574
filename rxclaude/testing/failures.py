"""Failing a scripted reply at a chosen point after HTTP 200, the way streams really fail.

Example::

    server.enqueue(
        fail_at(Reply.text("Hello, world"), "after_content", "error"),  # overloaded_error after the first delta
        Reply.text("Hello, world"),                                     # what the recovery gets
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from rxclaude.testing.replies import Reply
from rxclaude.testing.sse import frame_event

__all__ = ["FAILURES", "fail_at", "first_content_frame"]

Failure = Literal["error", "reset", "stall", "close"]
FAILURES: tuple[Failure, ...] = ("error", "reset", "stall", "close")
"""How a stream can fail after HTTP 200: an in-stream ``error`` event, a TCP reset, a silence
(the client's ``idle`` timeout ends it), a body that ends before ``message_stop``."""


def first_content_frame(reply: Reply, request: Mapping[str, Any] | None = None) -> int:
    """The index of the reply's first ``content_block_delta`` frame (the frame count if none).

    Example::

        first_content_frame(Reply.text("Hi"))    # 3: message_start, content_block_start, ping
    """
    frames = reply.frames(request)
    return next((i for i, f in enumerate(frames) if frame_event(f) == "content_block_delta"), len(frames))


def fail_at(
    reply: Reply,
    at: int | Literal["before_content", "after_content"],
    how: Failure = "error",
    *,
    request: Mapping[str, Any] | None = None,
    error_type: str = "overloaded_error",
    stall_seconds: float = 3600.0,
) -> Reply:
    """A copy of ``reply`` that fails after ``at`` frames: a frame count, ``"before_content"``
    (just before the first content delta) or ``"after_content"`` (just after it).

    ``how``: ``"error"`` (an ``event: error`` of ``error_type``, then the body ends), ``"reset"``
    (the TCP connection is aborted), ``"stall"`` (silence for ``stall_seconds``), ``"close"``
    (the body ends cleanly, without ``message_stop``). ``request`` is the body the reply will
    answer (a reset is placed by byte count, which can depend on the request's model).

    Example::

        fail_at(Reply.from_sse("tests/fixtures/text-basic-sonnet4.sse"), 7, "reset")
    """
    if isinstance(at, str):
        first = first_content_frame(reply, request)
        if at == "before_content":
            n = first
        elif at == "after_content":
            n = first + 1
        else:
            raise ValueError(f"at must be a frame count, 'before_content' or 'after_content', not {at!r}")
    else:
        n = at
    if n < 0:
        raise ValueError("at must be >= 0")
    if how == "error":
        return reply.with_faults(error_after=n, error_type=error_type)
    if how == "close":
        return reply.with_faults(close_after=n)
    if how == "stall":
        return reply.with_faults(stall_after=n, stall_seconds=stall_seconds)
    if how == "reset":
        frames = reply.frames(request)
        return reply.with_faults(reset_after_bytes=sum(len(f) for f in frames[:n]))
    raise ValueError(f"how must be one of {FAILURES}, not {how!r}")
