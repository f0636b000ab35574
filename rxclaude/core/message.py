"""The message and its usage: ``Message``, ``Usage``, ``MessageDelta``, and ``ToolInput``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rxclaude.core.blocks import ContentBlock, TextBlock, ThinkingBlock, ToolUseBlock, block_from_dict
from rxclaude.core.values import EMPTY, FrozenDict, Value, fast_init_module, finish

__all__ = [
    "Message",
    "ToolInput",
    "Usage",
]

# -- usage and message -------------------------------------------------------------------------


@finish
@dataclass(frozen=True, slots=True)
class Usage(Value):
    """Token counts; ``message_delta`` values are cumulative totals, not increments.

    Every field is ``None`` when the API did not send it. A stream cut short (cancel, error)
    keeps the last counts the server sent: ``output_tokens`` is then a lower bound.
    ``cache_creation`` splits ``cache_creation_input_tokens`` by TTL
    (``{"ephemeral_5m_input_tokens": .., "ephemeral_1h_input_tokens": ..}``); ``service_tier``
    is ``"standard"``, ``"priority"`` or ``"batch"``; ``speed`` is ``"standard"`` or
    ``"fast"``; ``inference_geo`` is where inference ran. Keys this version does not know
    (``output_tokens_details``, ``iterations`` ...) are kept in ``extra``.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    server_tool_use: Any = None
    service_tier: str | None = None
    cache_creation: Any = None
    speed: str | None = None
    inference_geo: str | None = None
    extra: FrozenDict = EMPTY

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Usage:
        known = cls._known
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known}
        if extra:
            kwargs["extra"] = FrozenDict(extra)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "server_tool_use",
            "service_tier",
            "cache_creation",
            "speed",
            "inference_geo",
        ):
            v = getattr(self, name)
            if v is not None:
                out[name] = copy.deepcopy(v)
        for k, v in self.extra.items():
            out[k] = copy.deepcopy(v)
        return out

    @property
    def total_tokens(self) -> int:
        """Input (including cache reads and writes) plus output tokens."""
        return sum(
            x or 0
            for x in (
                self.input_tokens,
                self.output_tokens,
                self.cache_creation_input_tokens,
                self.cache_read_input_tokens,
            )
        )


@dataclass(frozen=True, slots=True)
class Message(Value):
    """An assistant message, as the non-streamed API returns it.

    ``incomplete`` is ``True`` for a message cut short (cancel, error, dropped connection):
    its blocks hold what arrived, ``stop_reason`` is ``None``.

    Example:
        >>> m = Message(id="msg_1", model="claude-sonnet-5-5", content=(TextBlock("Hi"),))
        >>> m.text, m.to_dict()["content"]
        ('Hi', [{'type': 'text', 'text': 'Hi'}])
    """

    id: str = ""
    model: str = ""
    content: tuple[ContentBlock, ...] = ()
    usage: Usage = field(default_factory=Usage)
    role: str = "assistant"
    stop_reason: str | None = None
    stop_sequence: str | None = None
    type: str = "message"
    extra: FrozenDict = EMPTY
    incomplete: bool = False

    _known: ClassVar[frozenset[str]] = frozenset(
        {"id", "model", "content", "usage", "role", "stop_reason", "stop_sequence"}
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        """Build from the API's JSON message (unknown keys, e.g. ``stop_details``, -> ``extra``)."""
        extra = {k: v for k, v in d.items() if k not in cls._known and k != "type"}
        return cls(
            id=d.get("id", ""),
            model=d.get("model", ""),
            content=tuple(block_from_dict(b) for b in d.get("content") or ()),
            usage=Usage.from_dict(d.get("usage") or {}),
            role=d.get("role", "assistant"),
            stop_reason=d.get("stop_reason"),
            stop_sequence=d.get("stop_sequence"),
            extra=FrozenDict(extra) if extra else EMPTY,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the non-streamed Messages API response."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "role": self.role,
            "model": self.model,
            "content": [b.to_dict() for b in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
        }
        for k, v in self.extra.items():
            out[k] = copy.deepcopy(v)
        out["usage"] = self.usage.to_dict()
        return out

    def to_param(self) -> dict[str, Any]:
        """This reply as the ``assistant`` turn of the next request's ``messages``: every block
        as the API sent it, in order -- thinking and redacted thinking with their signatures,
        server tool calls and their results -- which the API checks in a tool loop.

        Example:
            >>> Message(content=(ThinkingBlock("Hm.", "sig"), TextBlock("Hi"))).to_param()["content"]
            [{'thinking': 'Hm.', 'signature': 'sig', 'type': 'thinking'}, {'type': 'text', 'text': 'Hi'}]
        """
        return {"role": self.role, "content": [b.to_dict() for b in self.content]}

    @property
    def text(self) -> str:
        """All ``text`` blocks joined."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def thinking(self) -> str:
        """All ``thinking`` blocks joined."""
        return "".join(b.thinking for b in self.content if isinstance(b, ThinkingBlock))

    @property
    def tool_uses(self) -> tuple[ToolUseBlock, ...]:
        """The client ``tool_use`` blocks, in order."""
        return tuple(b for b in self.content if isinstance(b, ToolUseBlock))

    @property
    def stop_details(self) -> Any:
        """``stop_details`` (set on refusals), or ``None``."""
        return self.extra.get("stop_details")

    @property
    def diagnostics(self) -> Any:
        """Request-level ``diagnostics`` (``{"cache_miss_reason": ...}``: why the prompt cache
        could not reuse the prefix of ``diagnostics.previous_message_id``), or ``None``."""
        return self.extra.get("diagnostics")

    @property
    def container(self) -> Any:
        """The code-execution ``container`` (``id``, ``expires_at``), or ``None``."""
        return self.extra.get("container")


# -- values derived by operators ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolInput:
    """A tool block's input as parsed so far (``done`` once its ``content_block_stop`` arrived).

    ``error`` is set only on a ``done`` value whose input streamed unvalidated and is not valid
    JSON: a :class:`~rxclaude.ToolInputError` whose ``json`` is the raw string (``input`` is
    then what could be read of it, else ``{}``). Answer such a call with a ``tool_result``
    whose ``is_error`` is true.

    Example:
        >>> ToolInput(1, "toolu_1", "weather", {"location": "Par"}, done=False).name
        'weather'
    """

    index: int
    id: str
    name: str
    input: Any
    done: bool = False
    error: Any = field(default=None, compare=False)


fast_init_module(globals(), __name__)
