"""Recovering a stream that failed after HTTP 200: the policy and the splice, sans I/O.

A stream can fail after its status line: an in-stream ``error`` event (``overloaded_error``), a
connection reset, a stall, a body that ends before ``message_stop``. What can be done depends on
what subscribers already saw:

- **before content** (no block holds any text, thinking or tool input yet): request again and
  splice the new attempt in: its ``message_start`` and the starts of blocks already announced are
  swallowed, so subscribers see one stream;
- **continue**: send the partial reply back as an assistant prefill (complete, signed thinking
  blocks; text trimmed of trailing whitespace, which the API rejects) and splice the continuation
  into the same blocks -- the trimmed whitespace is matched against the continuation's first
  characters, so no character is repeated or lost, and there is no second ``message_start``;
- **restart**: request the whole reply again after telling every subscriber (a
  :class:`~rxclaude.core.events.RecoveryEvent` of kind ``"restart"``).

After any recovery the usage the stream reports sums every attempt (what was billed); each
attempt's own usage is kept in :class:`RecoveryAttempt`.

Example:
    >>> RecoveryPolicy.of("continue").after_content
    'continue'
    >>> prefill_for(Message(content=(TextBlock("Hello, wor"),)), open_index=0).trimmed
    ''
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rxclaude.core.accumulate import merge_usage
from rxclaude.core.blocks import ContentBlock, RedactedThinkingBlock, TextBlock, ThinkingBlock
from rxclaude.core.errors import (
    APIError,
    BadRequestError,
    IncompleteStreamError,
    StreamCancelledError,
    TransportError,
)
from rxclaude.core.message import Message, Usage
from rxclaude.core.models import find_model

__all__ = [
    "PREFILL_REFUSED",
    "Prefill",
    "RecoveryAttempt",
    "RecoveryPolicy",
    "Splicer",
    "TRAILING_WHITESPACE_REFUSED",
    "add_usage",
    "is_prefill_refusal",
    "prefill_for",
    "recoverable",
    "refuses_prefill",
]

PREFILL_REFUSED = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
"""The API's 400 message for a prefill sent to a model without prefill (Claude 4.6 and later)."""

TRAILING_WHITESPACE_REFUSED = "messages: final assistant content cannot end with trailing whitespace"
"""The API's 400 message for a prefill that ends in whitespace."""

AfterContent = Literal["fail", "continue", "restart"]
Fallback = Literal["fail", "restart"]

_MODEL_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d))?(?:\D|$)")


def refuses_prefill(model: str) -> bool | None:
    """Whether ``model`` refuses an assistant prefill: what the model table says
    (:mod:`rxclaude.core.models`), else by the id's version (Claude 4.6 and later refuse),
    ``None`` when neither says (try, and fall back on the API's refusal).

    Example:
        >>> refuses_prefill("claude-opus-4-7"), refuses_prefill("claude-sonnet-4-5-20250929")
        (True, False)
    """
    info = find_model(model)
    if info is not None:
        return not info.prefill
    m = _MODEL_VERSION.search(model)
    if m is None:
        return None
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    return (major, minor) >= (4, 6)


def is_prefill_refusal(error: BaseException) -> bool:
    """Whether ``error`` is the API's 400 refusing an assistant prefill.

    Example:
        >>> is_prefill_refusal(BadRequestError(PREFILL_REFUSED, status_code=400))
        True
    """
    return isinstance(error, BadRequestError) and "does not support assistant message prefill" in error.message


def recoverable(error: BaseException) -> bool:
    """Whether a failure after HTTP 200 may be recovered from: a retryable API error (in-stream
    ``overloaded_error``, ``api_error``, ``rate_limit_error``...), a lost or stalled connection,
    a body that ended before ``message_stop``. A malformed stream, a cancel, a total timeout or
    a request the API refused are not.

    Example:
        >>> from rxclaude.core.errors import OverloadedError
        >>> recoverable(OverloadedError("Overloaded", status_code=200, in_stream=True))
        True
    """
    if isinstance(error, StreamCancelledError):
        return False
    if isinstance(error, APIError):
        return error.retryable
    if isinstance(error, TransportError):
        return type(error).__name__ != "TotalTimeoutError"
    return type(error) is IncompleteStreamError


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """What a stream does when it fails after HTTP 200.

    Attributes:
        before_content: retry transparently while no content has been delivered (default on).
        after_content: ``"fail"`` (default: the typed error, as before), ``"continue"`` (prefill
            the partial reply; models that accept prefill only) or ``"restart"`` (request the
            whole reply again; subscribers are told first).
        fallback: what ``"continue"`` does when it cannot continue (the model refuses prefill,
            a thinking block has no signature yet, a tool call was cut short): ``"restart"``
            (default) or ``"fail"``.
        max_recoveries: recoveries per stream; ``None`` means the client's ``max_retries``.

    Example:
        >>> RecoveryPolicy.of(None).after_content, RecoveryPolicy.of("restart").before_content
        ('fail', True)
    """

    before_content: bool = True
    after_content: AfterContent = "fail"
    fallback: Fallback = "restart"
    max_recoveries: int | None = None

    def __post_init__(self) -> None:
        if self.after_content not in ("fail", "continue", "restart"):
            raise ValueError(f"after_content must be 'fail', 'continue' or 'restart', not {self.after_content!r}")
        if self.fallback not in ("fail", "restart"):
            raise ValueError(f"fallback must be 'fail' or 'restart', not {self.fallback!r}")
        if self.max_recoveries is not None and self.max_recoveries < 0:
            raise ValueError("max_recoveries must be >= 0")

    @classmethod
    def of(cls, value: RecoveryPolicy | str | bool | None) -> RecoveryPolicy:
        """A policy from a shorthand: ``None``/``True`` (the default), ``False`` (no recovery at
        all), ``"continue"``, ``"restart"``, ``"fail"``, or a policy (returned as is)."""
        if isinstance(value, RecoveryPolicy):
            return value
        if value is None or value is True:
            return _DEFAULT
        if value is False:
            return _OFF
        if value in ("fail", "continue", "restart"):
            return cls(after_content=value)  # type: ignore[arg-type]
        raise ValueError(f"recovery must be a RecoveryPolicy, a bool, 'fail', 'continue' or 'restart', not {value!r}")

    @property
    def enabled(self) -> bool:
        """Whether any recovery can happen."""
        return self.before_content or self.after_content != "fail"


_DEFAULT = RecoveryPolicy()
_OFF = RecoveryPolicy(before_content=False)


@dataclass(frozen=True, slots=True)
class RecoveryAttempt:
    """One request of a stream: what it was for, how it ended, what it cost.

    Attributes:
        number: 1 for the first request.
        kind: ``"first"``, ``"retry"`` (before content), ``"continue"`` or ``"restart"``.
        request_id: the ``request-id`` of its response.
        message_id: the ``id`` of its ``message_start``.
        usage: its own usage (the last counts it reported; a failed attempt may have been
            billed a few more output tokens than it reported).
        error: what ended it short of ``message_stop`` (``None`` for the delivered one).
    """

    number: int
    kind: str
    request_id: str | None = None
    message_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    error: Exception | None = None


_USAGE_SUMS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def add_usage(a: Usage, b: Usage) -> Usage:
    """The sum of two usages (token counts added; ``None`` stays ``None`` only if both are).

    Example:
        >>> add_usage(Usage(input_tokens=10, output_tokens=3), Usage(input_tokens=12, output_tokens=5)).output_tokens
        8
    """
    out: dict[str, Any] = {}
    for name in _USAGE_SUMS:
        x, y = getattr(a, name), getattr(b, name)
        out[name] = None if x is None and y is None else (x or 0) + (y or 0)
    return Usage(**out, service_tier=b.service_tier or a.service_tier)


def _usage_dict_plus(prior: Usage, current: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(current)
    for name in _USAGE_SUMS:
        extra = getattr(prior, name)
        if extra:
            value = out.get(name)
            out[name] = (value if isinstance(value, int) else 0) + extra
    return out


@dataclass(frozen=True, slots=True)
class Prefill:
    """The assistant turn that lets the model continue a partial reply.

    Attributes:
        message: ``{"role": "assistant", "content": [...]}`` to append to ``messages``.
        trimmed: the trailing whitespace cut from the last text (already delivered; the
            continuation's first characters are matched against it).
        base: the index, in the delivered message, of the continuation's first block.
        open_text: whether that first block continues a delivered text block.
    """

    message: dict[str, Any]
    trimmed: str
    base: int
    open_text: bool


def prefill_for(message: Message, open_index: int | None) -> Prefill | str:
    """The prefill that continues ``message`` (a partial reply), or why there is none.

    ``open_index`` is the index of the block that was still streaming (``None`` if the failure
    came between blocks). Sent back: complete text blocks, thinking blocks with their signature,
    redacted thinking, and the open text block trimmed of trailing whitespace. Anything else cut
    short (thinking without signature, tool input, server tool calls) cannot be continued.

    Example:
        >>> p = prefill_for(Message(content=(TextBlock("Hi there. "),)), open_index=0)
        >>> p.message["content"], repr(p.trimmed), p.base
        ([{'type': 'text', 'text': 'Hi there.'}], "' '", 0)
    """
    content: list[dict[str, Any]] = []
    blocks: tuple[ContentBlock, ...] = message.content
    for i, block in enumerate(blocks):
        is_open = i == open_index
        if isinstance(block, TextBlock):
            if is_open and i != len(blocks) - 1:
                return "the open text block is not the last block"
            content.append(block.to_dict())
        elif isinstance(block, ThinkingBlock):
            if is_open or not block.signature:
                return "a thinking block has no signature yet"
            content.append(block.to_dict())
        elif isinstance(block, RedactedThinkingBlock) and not is_open:
            content.append(block.to_dict())
        else:
            return f"a {block.type!r} block cannot be sent back as a prefill"
    if not content or content[-1]["type"] != "text":
        return "the partial reply does not end in text"
    last = content[-1]
    text = last["text"]
    stripped = text.rstrip()
    trimmed = text[len(stripped) :]
    if stripped:
        last["text"] = stripped
    else:
        content.pop()  # an empty text block is refused; the continuation still maps onto it
        if not content or content[-1]["type"] == "text":
            return "the partial reply has no text to continue"
    open_text = open_index == len(blocks) - 1
    base = len(blocks) - 1 if open_text else len(blocks)
    return Prefill({"role": "assistant", "content": content}, trimmed, base, open_text)


class Splicer:
    """Rewrites the events of a recovery attempt so they continue the delivered stream.

    ``kind``: ``"retry"`` (before content), ``"continue"`` or ``"restart"``. ``announced`` is
    the type and name of each block already started (``retry``); ``started`` whether a
    ``message_start`` was delivered (if not, the attempt is delivered whole); ``prior`` the
    usage of the attempts before (added to every usage this attempt reports). :meth:`feed` takes one event's name and
    JSON object and returns the events to deliver instead (possibly none); :attr:`diverged` is
    set when a ``retry`` cannot be spliced invisibly (the model began a different block), and the
    caller must then tell subscribers (a restart).

    Example:
        >>> s = Splicer("continue", prior=Usage(), base=0, open_text=True, trimmed=" ")
        >>> s.feed("message_start", {"type": "message_start", "message": {}})
        []
        >>> s.feed("content_block_delta", {"type": "content_block_delta", "index": 0,
        ...     "delta": {"type": "text_delta", "text": " world"}})[0][1]["delta"]["text"]
        'world'
    """

    __slots__ = (
        "_announced",
        "_base",
        "_held",
        "_open",
        "_pending",
        "_prior",
        "_shift",
        "_swallowed",
        "diverged",
        "kind",
        "message_id",
        "usage",
    )

    def __init__(
        self,
        kind: str,
        *,
        prior: Usage,
        base: int = 0,
        open_text: bool = False,
        trimmed: str = "",
        announced: tuple[tuple[str, str | None], ...] = (),
        started: bool = True,
    ) -> None:
        self.kind = kind if started else "restart"  # nothing delivered: deliver all of it
        self._prior = prior
        self._base = base
        self._open = open_text
        self._pending = trimmed
        self._announced = announced
        self._shift = 0  # +1 once a continuation that did not start with text closed the open block
        self._swallowed: list[tuple[str, dict[str, Any]]] = []
        self._held: dict[str, Any] | None = None
        self.diverged = False
        self.message_id: str | None = None
        self.usage = Usage()
        """This attempt's own usage, as it reported it (before ``prior`` is added)."""

    def feed(self, name: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The events to deliver for this event of the recovery attempt."""
        if name == "message_start":
            message = data.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("id"), str):
                    self.message_id = message["id"]
                if isinstance(message.get("usage"), dict):
                    self.usage = Usage.from_dict(message["usage"])
                    if self.kind == "restart":
                        start_usage = _usage_dict_plus(self._prior, message["usage"])
                        data = {**data, "message": {**message, "usage": start_usage}}
            if self.kind == "restart":
                return [(name, data)]
            self._swallowed.append((name, data))
            return []  # one message for subscribers
        if name == "message_delta":
            usage = data.get("usage")
            if isinstance(usage, dict):
                self.usage = merge_usage(self.usage, Usage.from_dict(usage))
                if self._prior != Usage():
                    data = {**data, "usage": _usage_dict_plus(self._prior, usage)}
            return [(name, data)]
        index = data.get("index")
        if self.kind == "restart" or type(index) is not int or name not in _BLOCK_EVENTS:
            return [(name, data)]
        out: list[tuple[str, dict[str, Any]]] = []
        if self.kind == "retry":
            if name == "content_block_start" and index < len(self._announced):
                block = data.get("content_block")
                if isinstance(block, dict) and (block.get("type"), block.get("name")) == self._announced[index]:
                    self._swallowed.append((name, data))
                    return []
                # the model began differently: not invisible any more; the caller announces a
                # restart and delivers this attempt from its message_start
                self.diverged, self.kind = True, "restart"
                swallowed, self._swallowed = self._swallowed, []
                return [e for n, d in (*swallowed, (name, data)) for e in self.feed(n, d)]
            return [(name, data)]
        # continue
        if name == "content_block_start" and index == 0:
            block = data.get("content_block")
            is_text = isinstance(block, dict) and block.get("type") == "text" and not block.get("text")
            if self._open:
                if is_text:
                    return []  # the continuation goes on in the open block
                out.append(("content_block_stop", {"type": "content_block_stop", "index": self._base}))
                self._open, self._shift, self._pending = False, 1, ""
            elif is_text:
                self._held = data  # shown once it has text: it may only end the finished block
                return []
        mapped = self._base + self._shift + index
        if name == "content_block_delta" and index == 0:
            delta = data.get("delta")
            if self._pending and isinstance(delta, dict) and delta.get("type") == "text_delta":
                text = delta.get("text")
                if isinstance(text, str):
                    n, pending = 0, self._pending
                    while n < len(text) and n < len(pending) and text[n] == pending[n]:
                        n += 1
                    self._pending = pending[n:] if n == len(text) else ""
                    if n:
                        if n == len(text):
                            return out  # already shown
                        data = {**data, "delta": {**delta, "text": text[n:]}}
            if self._held is not None:
                if isinstance(delta, dict) and delta.get("type") == "text_delta" and not delta.get("text"):
                    return out
                out.append(("content_block_start", {**self._held, "index": mapped}))
                self._held = None
        elif name == "content_block_stop" and index == 0 and self._held is not None:
            self._held, self._shift = None, self._shift - 1  # an empty continuation: no block
            return out
        if mapped != index:
            data = {**data, "index": mapped}
        out.append((name, data))
        return out


_BLOCK_EVENTS = frozenset(("content_block_start", "content_block_delta", "content_block_stop"))
