"""The stream's events: one frozen value per ``event:`` type, and the ``Event`` union."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Union

from rxclaude.core.blocks import ContentBlock
from rxclaude.core.deltas import Delta
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, Usage
from rxclaude.core.values import EMPTY, FrozenDict, Value, fast_init_module, finish

__all__ = [
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ErrorEvent",
    "Event",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageStartEvent",
    "MessageStopEvent",
    "PingEvent",
    "RecoveryEvent",
    "UnknownEvent",
]

# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageStartEvent:
    """The first event: the message shell (empty ``content``) and the initial usage."""

    message: Message
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "message_start"


@dataclass(frozen=True, slots=True)
class ContentBlockStartEvent:
    """A block begins at ``index`` (server-tool results arrive complete here)."""

    index: int
    content_block: ContentBlock
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "content_block_start"


@dataclass(frozen=True, slots=True)
class ContentBlockDeltaEvent:
    """A delta for the block at ``index``; discriminate on ``delta.type``."""

    index: int
    delta: Delta
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "content_block_delta"


@dataclass(frozen=True, slots=True)
class ContentBlockStopEvent:
    """The block at ``index`` is complete."""

    index: int
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "content_block_stop"


@finish
@dataclass(frozen=True, slots=True)
class MessageDelta(Value):
    """The ``delta`` of a ``message_delta`` event."""

    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: Any = None
    container: Any = None
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class MessageDeltaEvent:
    """Top-level changes: stop reason and cumulative usage (``usage`` holds only what was sent)."""

    delta: MessageDelta
    usage: Usage
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "message_delta"


@dataclass(frozen=True, slots=True)
class MessageStopEvent:
    """The last event; the message is final. ``extra`` keeps e.g. Bedrock's invocation metrics."""

    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "message_stop"


@dataclass(frozen=True, slots=True)
class PingEvent:
    """A keep-alive; proof the connection is alive during long thinking."""

    type: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An in-stream ``error`` event as a value (``ops.parse()`` raises it as its typed error)."""

    error: dict[str, Any]
    raw: dict[str, Any]
    type: ClassVar[str] = "error"


@dataclass(frozen=True, slots=True)
class RecoveryEvent:
    """rxclaude's own event (``event: recovery``): the stream failed after HTTP 200 and was
    recovered (see :mod:`rxclaude.core.recovery`). ``kind`` is ``"retry"`` (before any content:
    nothing to undo), ``"continue"`` (the reply goes on in the same blocks) or ``"restart"``: the
    reply is requested again and everything delivered so far -- ``discarded_text`` for ``text``
    subscribers -- is void; the new ``message_start`` follows.

    Example:
        >>> RecoveryEvent("restart", 2, {"type": "overloaded_error"}, discarded_text="Hel").restart
        True
    """

    kind: str
    attempt: int
    error: dict[str, Any]
    discarded_text: str = ""
    extra: FrozenDict = EMPTY
    type: ClassVar[str] = "recovery"

    @property
    def restart(self) -> bool:
        """Whether what was delivered so far is void (clear the screen)."""
        return self.kind == "restart"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of its ``event: recovery`` frame."""
        out: dict[str, Any] = {"type": "recovery", "kind": self.kind, "attempt": self.attempt, "error": self.error}
        if self.discarded_text:
            out["discarded_text"] = self.discarded_text
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event type this version does not know (e.g. Vertex's ``vertex_event``)."""

    type: str
    data: Any
    frame: Frame | None = None


Event = Union[
    MessageStartEvent,
    ContentBlockStartEvent,
    ContentBlockDeltaEvent,
    ContentBlockStopEvent,
    MessageDeltaEvent,
    MessageStopEvent,
    PingEvent,
    ErrorEvent,
    RecoveryEvent,
    UnknownEvent,
]


fast_init_module(globals(), __name__)
