"""Immutable values for everything on the wire: frames, events, content blocks, deltas, usage.

Strategy: each known JSON object becomes a frozen, slotted dataclass whose fields are the
documented keys; keys we do not know yet are kept in ``extra`` and come back out of
``to_dict()``, so nothing the API sends is lost.  Unknown event, block, delta and citation
*types* become ``Unknown*`` values carrying the raw JSON.  JSON sub-trees we do not model
(tool ``input``, server-tool result ``content``, ``stop_details`` ...) stay plain JSON values;
treat them as read-only.

Example::

    >>> block = block_from_dict({"type": "text", "text": "hi", "future": 1})
    >>> block.text, block.to_dict()
    ('hi', {'type': 'text', 'text': 'hi', 'future': 1})
"""

from __future__ import annotations

import copy
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, Union

__all__ = [
    "BashCodeExecutionToolResultBlock",
    "CharLocation",
    "Citation",
    "CitationsDelta",
    "CodeExecutionToolResultBlock",
    "CompactionBlock",
    "CompactionDelta",
    "ContainerUploadBlock",
    "ContentBlock",
    "ContentBlockDeltaEvent",
    "ContentBlockLocation",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "Delta",
    "ErrorEvent",
    "Event",
    "Frame",
    "FrozenDict",
    "InputJSONDelta",
    "MCPToolResultBlock",
    "MCPToolUseBlock",
    "Message",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageStartEvent",
    "MessageStopEvent",
    "PageLocation",
    "PingEvent",
    "RedactedThinkingBlock",
    "SearchResultLocation",
    "ServerToolResultBlock",
    "ServerToolUseBlock",
    "SignatureDelta",
    "TextBlock",
    "TextDelta",
    "TextEditorCodeExecutionToolResultBlock",
    "ThinkingBlock",
    "ThinkingDelta",
    "ToolInput",
    "ToolSearchToolResultBlock",
    "ToolUseBlock",
    "UnknownBlock",
    "UnknownCitation",
    "UnknownDelta",
    "UnknownEvent",
    "Usage",
    "WebFetchToolResultBlock",
    "WebSearchResultLocation",
    "WebSearchToolResultBlock",
    "block_from_dict",
    "citation_from_dict",
    "delta_from_dict",
]



class FrozenDict(dict[str, Any]):
    """A read-only ``dict`` for ``extra`` fields (hashable by identity, JSON-serializable)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("rxclaude values are immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return FrozenDict(copy.deepcopy(dict(self), memo))


EMPTY = FrozenDict()
_V = TypeVar("_V", bound="_Value")


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


class _Value:
    """Shared JSON round-trip for the dataclasses below (fields + ``extra``)."""

    __slots__ = ()
    _known: ClassVar[frozenset[str]] = frozenset()
    _optional: ClassVar[frozenset[str]] = frozenset()  # fields dropped from to_dict() when absent

    @classmethod
    def from_dict(cls: type[_V], d: dict[str, Any]) -> _V:
        """Build from a JSON object; unknown keys go to ``extra``."""
        known = cls._known
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known and k != "type"}
        if extra:
            kwargs["extra"] = FrozenDict(extra)
        if cls._optional:
            absent = frozenset(n for n in cls._optional if n not in d)
            if absent:
                kwargs["absent"] = absent
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object this value stands for (a fresh, deep copy)."""
        out: dict[str, Any] = {}
        absent = getattr(self, "absent", ())
        for f in fields(self):  # type: ignore[arg-type]
            name = f.name
            if name in ("extra", "absent") or name in absent:
                continue
            out[name] = _jsonify(getattr(self, name))
        for k, v in self.extra.items():  # type: ignore[attr-defined]
            out[k] = copy.deepcopy(v)
        return out


def _jsonify(value: Any) -> Any:
    if isinstance(value, _Value):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_jsonify(v) for v in value]
    if isinstance(value, (dict, list)):
        return copy.deepcopy(value)
    return value


def _finish(cls: type[_V]) -> type[_V]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    cls._known = frozenset(names - {"extra", "type", "absent"})
    if "absent" in names:
        cls._optional = frozenset(
            f.name for f in fields(cls) if f.default is None  # type: ignore[arg-type]
        )
    return cls


# -- citations ---------------------------------------------------------------------------------


@_finish
@dataclass(frozen=True, slots=True)
class CharLocation(_Value):
    """A citation into a plain-text document (character offsets)."""

    cited_text: str = ""
    document_index: int = 0
    document_title: str | None = None
    start_char_index: int = 0
    end_char_index: int = 0
    file_id: str | None = None
    type: str = "char_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@_finish
@dataclass(frozen=True, slots=True)
class PageLocation(_Value):
    """A citation into a PDF (page numbers)."""

    cited_text: str = ""
    document_index: int = 0
    document_title: str | None = None
    start_page_number: int = 0
    end_page_number: int = 0
    file_id: str | None = None
    type: str = "page_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@_finish
@dataclass(frozen=True, slots=True)
class ContentBlockLocation(_Value):
    """A citation into a custom-content document (block indexes)."""

    cited_text: str = ""
    document_index: int = 0
    document_title: str | None = None
    start_block_index: int = 0
    end_block_index: int = 0
    file_id: str | None = None
    type: str = "content_block_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@_finish
@dataclass(frozen=True, slots=True)
class WebSearchResultLocation(_Value):
    """A citation of a web search result."""

    cited_text: str = ""
    url: str = ""
    title: str | None = None
    encrypted_index: str = ""
    type: str = "web_search_result_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@_finish
@dataclass(frozen=True, slots=True)
class SearchResultLocation(_Value):
    """A citation of a ``search_result`` content block."""

    cited_text: str = ""
    search_result_index: int = 0
    source: str = ""
    start_block_index: int = 0
    end_block_index: int = 0
    title: str | None = None
    type: str = "search_result_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UnknownCitation(_Value):
    """A citation type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


Citation = Union[
    CharLocation, PageLocation, ContentBlockLocation, WebSearchResultLocation, SearchResultLocation,
    UnknownCitation,
]
_CITATIONS: dict[str, Any] = {
    str(c.__dataclass_fields__["type"].default): c
    for c in (CharLocation, PageLocation, ContentBlockLocation, WebSearchResultLocation, SearchResultLocation)
}


def citation_from_dict(d: dict[str, Any]) -> Citation:
    """Type a citation JSON object (unknown ``type`` -> :class:`UnknownCitation`).

    Example:
        >>> citation_from_dict({"type": "char_location", "cited_text": "x"}).cited_text
        'x'
    """
    cls = _CITATIONS.get(d.get("type"))  # type: ignore[arg-type]
    if cls is None:
        return UnknownCitation(str(d.get("type")), d)
    return cls.from_dict(d)


# -- content blocks ----------------------------------------------------------------------------


@_finish
@dataclass(frozen=True, slots=True)
class TextBlock(_Value):
    """Text from the model; ``citations`` is ``None`` until a ``citations_delta`` arrives."""

    text: str = ""
    citations: tuple[Citation, ...] | None = None
    type: str = "text"
    extra: FrozenDict = EMPTY

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextBlock:
        extra = {k: v for k, v in d.items() if k not in ("type", "text", "citations")}
        c = d.get("citations")
        return cls(
            text=d.get("text", ""),
            citations=None if c is None else tuple(citation_from_dict(x) for x in c),
            extra=FrozenDict(extra) if extra else EMPTY,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": self.text}
        if self.citations is not None:
            out["citations"] = [c.to_dict() for c in self.citations]
        for k, v in self.extra.items():
            out[k] = copy.deepcopy(v)
        return out


@_finish
@dataclass(frozen=True, slots=True)
class ThinkingBlock(_Value):
    """Extended thinking; ``signature`` arrives in one ``signature_delta`` at the end."""

    thinking: str = ""
    signature: str = ""
    type: str = "thinking"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class RedactedThinkingBlock(_Value):
    """Encrypted thinking, complete at ``content_block_start`` (no deltas)."""

    data: str = ""
    type: str = "redacted_thinking"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class ToolUseBlock(_Value):
    """A client tool call; ``input`` is built from ``input_json_delta`` fragments."""

    id: str = ""
    name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "tool_use"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class ServerToolUseBlock(_Value):
    """A server tool call (web_search, web_fetch, code execution, tool search...)."""

    id: str = ""
    name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "server_tool_use"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class MCPToolUseBlock(_Value):
    """(beta) A call to a tool of an MCP server; ``input`` streams like ``tool_use``."""

    id: str = ""
    name: str = ""
    server_name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "mcp_tool_use"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class ServerToolResultBlock(_Value):
    """A server tool's result, complete at ``content_block_start``.

    ``content`` is the result JSON as sent (a list, an object, or an error object).
    Subclasses name the tool; an unknown ``*_tool_result`` type is a :class:`UnknownBlock`.
    """

    tool_use_id: str = ""
    content: Any = None
    type: str = "server_tool_result"
    extra: FrozenDict = EMPTY


def _result_block(type_name: str, doc: str) -> type[ServerToolResultBlock]:
    @_finish
    @dataclass(frozen=True, slots=True)
    class _Result(ServerToolResultBlock):
        type: str = type_name

    _Result.__doc__ = doc
    return _Result


WebSearchToolResultBlock = _result_block("web_search_tool_result", "Web search results (or an error).")
WebFetchToolResultBlock = _result_block("web_fetch_tool_result", "A fetched page as a document block.")
CodeExecutionToolResultBlock = _result_block("code_execution_tool_result", "Code execution output.")
BashCodeExecutionToolResultBlock = _result_block(
    "bash_code_execution_tool_result", "Bash code execution output (stdout, stderr, return_code)."
)
TextEditorCodeExecutionToolResultBlock = _result_block(
    "text_editor_code_execution_tool_result", "A text-editor code-execution result (or error)."
)
ToolSearchToolResultBlock = _result_block("tool_search_tool_result", "Tool search references.")
for _cls, _name in (
    (WebSearchToolResultBlock, "WebSearchToolResultBlock"),
    (WebFetchToolResultBlock, "WebFetchToolResultBlock"),
    (CodeExecutionToolResultBlock, "CodeExecutionToolResultBlock"),
    (BashCodeExecutionToolResultBlock, "BashCodeExecutionToolResultBlock"),
    (TextEditorCodeExecutionToolResultBlock, "TextEditorCodeExecutionToolResultBlock"),
    (ToolSearchToolResultBlock, "ToolSearchToolResultBlock"),
):
    _cls.__name__ = _cls.__qualname__ = _name


@_finish
@dataclass(frozen=True, slots=True)
class MCPToolResultBlock(_Value):
    """(beta) The result of an MCP tool call."""

    tool_use_id: str = ""
    is_error: bool = False
    content: Any = None
    type: str = "mcp_tool_result"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class ContainerUploadBlock(_Value):
    """A file uploaded into the code-execution container."""

    file_id: str = ""
    type: str = "container_upload"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class CompactionBlock(_Value):
    """(beta) A compaction summary; filled by one ``compaction_delta``."""

    content: str | None = None
    encrypted_content: str | None = None
    type: str = "compaction"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UnknownBlock(_Value):
    """A content block type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


ContentBlock = Union[
    TextBlock, ThinkingBlock, RedactedThinkingBlock, ToolUseBlock, ServerToolUseBlock, MCPToolUseBlock,
    ServerToolResultBlock, MCPToolResultBlock, ContainerUploadBlock, CompactionBlock, UnknownBlock,
]
_BLOCKS: dict[str, Any] = {
    str(c.__dataclass_fields__["type"].default): c
    for c in (
        TextBlock, ThinkingBlock, RedactedThinkingBlock, ToolUseBlock, ServerToolUseBlock, MCPToolUseBlock,
        WebSearchToolResultBlock, WebFetchToolResultBlock, CodeExecutionToolResultBlock,
        BashCodeExecutionToolResultBlock, TextEditorCodeExecutionToolResultBlock, ToolSearchToolResultBlock,
        MCPToolResultBlock, ContainerUploadBlock, CompactionBlock,
    )
}
TOOL_INPUT_BLOCKS = (ToolUseBlock, ServerToolUseBlock, MCPToolUseBlock)


def block_from_dict(d: dict[str, Any]) -> ContentBlock:
    """Type a content-block JSON object (unknown ``type`` -> :class:`UnknownBlock`).

    Example:
        >>> block_from_dict({"type": "tool_use", "id": "t1", "name": "f", "input": {}}).name
        'f'
    """
    cls = _BLOCKS.get(d.get("type"))  # type: ignore[arg-type]
    if cls is None:
        return UnknownBlock(str(d.get("type")), d)
    return cls.from_dict(d)


# -- deltas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta(_Value):
    """A piece of text for a ``text`` block."""

    text: str
    type: str = "text_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class InputJSONDelta(_Value):
    """A fragment of a tool block's input JSON (the first is often ``""``)."""

    partial_json: str
    type: str = "input_json_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class ThinkingDelta(_Value):
    """A piece of thinking text."""

    thinking: str
    type: str = "thinking_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class SignatureDelta(_Value):
    """The thinking block's signature (replaces, never appends)."""

    signature: str
    type: str = "signature_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class CitationsDelta(_Value):
    """One citation for the current text block (they arrive before its text)."""

    citation: Citation
    type: str = "citations_delta"
    extra: FrozenDict = EMPTY


@_finish
@dataclass(frozen=True, slots=True)
class CompactionDelta(_Value):
    """(beta) The compaction summary (replaces the block's content)."""

    content: str | None = None
    encrypted_content: str | None = None
    type: str = "compaction_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class UnknownDelta(_Value):
    """A delta type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


Delta = Union[
    TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta, CompactionDelta, UnknownDelta
]
for _c in (TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta):
    _finish(_c)


def delta_from_dict(d: dict[str, Any]) -> Delta:
    """Type a delta JSON object (unknown ``type`` -> :class:`UnknownDelta`).

    Example:
        >>> delta_from_dict({"type": "text_delta", "text": "Hi"})
        TextDelta(text='Hi', type='text_delta', extra={})
    """
    t = d.get("type")
    try:
        if t == "text_delta":
            return TextDelta(d["text"]) if len(d) == 2 else TextDelta.from_dict(d)
        if t == "input_json_delta":
            return InputJSONDelta(d["partial_json"]) if len(d) == 2 else InputJSONDelta.from_dict(d)
        if t == "thinking_delta":
            return ThinkingDelta.from_dict(d)
        if t == "signature_delta":
            return SignatureDelta.from_dict(d)
        if t == "citations_delta":
            rest = {k: v for k, v in d.items() if k not in ("type", "citation")}
            return CitationsDelta(
                citation_from_dict(d["citation"]), extra=FrozenDict(rest) if rest else EMPTY
            )
        if t == "compaction_delta":
            return CompactionDelta.from_dict(d)
    except (KeyError, TypeError, AttributeError):
        pass
    return UnknownDelta(str(t), d)


# -- usage and message -------------------------------------------------------------------------


@_finish
@dataclass(frozen=True, slots=True)
class Usage(_Value):
    """Token counts; ``message_delta`` values are cumulative totals, not increments.

    ``estimated`` is ``True`` only on usage reported for a stream cut short, where
    ``output_tokens`` may be the last count the server sent rather than the final one.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    server_tool_use: Any = None
    service_tier: str | None = None
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
        for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                     "cache_read_input_tokens", "server_tool_use", "service_tier"):
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
            x or 0 for x in (self.input_tokens, self.output_tokens, self.cache_creation_input_tokens,
                             self.cache_read_input_tokens)
        )


@dataclass(frozen=True, slots=True)
class Message(_Value):
    """An assistant message, as the non-streamed API returns it.

    ``incomplete`` is ``True`` for a message cut short (cancel, error, dropped connection):
    its blocks hold what arrived, ``stop_reason`` is ``None``.

    Example:
        >>> m = Message(id="msg_1", model="claude-sonnet-4-5", content=(TextBlock("Hi"),))
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
    def container(self) -> Any:
        """The code-execution ``container`` (``id``, ``expires_at``), or ``None``."""
        return self.extra.get("container")


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


@_finish
@dataclass(frozen=True, slots=True)
class MessageDelta(_Value):
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
class UnknownEvent:
    """An event type this version does not know (e.g. Vertex's ``vertex_event``)."""

    type: str
    data: Any
    frame: Frame | None = None


Event = Union[
    MessageStartEvent, ContentBlockStartEvent, ContentBlockDeltaEvent, ContentBlockStopEvent,
    MessageDeltaEvent, MessageStopEvent, PingEvent, ErrorEvent, UnknownEvent,
]


# -- values derived by operators ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolInput:
    """A tool block's input as parsed so far (``done`` once its ``content_block_stop`` arrived).

    Example:
        >>> ToolInput(1, "toolu_1", "weather", {"location": "Par"}, done=False).name
        'weather'
    """

    index: int
    id: str
    name: str
    input: Any
    done: bool = False


def _fast_init(cls: type) -> None:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots directly.

    The generated frozen ``__init__`` calls ``object.__setattr__`` per field, which costs about
    2x more than writing through the slot descriptors; events are built millions of times.
    Semantics are unchanged: same signature, same defaults, still frozen afterwards.
    """
    fs = fields(cls)
    if any(f.default_factory is not MISSING or not f.init for f in fs):
        return
    ns: dict[str, Any] = {}
    params, body = [], []
    for f in fs:
        slot = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        ns[f"_set_{f.name}"] = slot.__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            ns[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010


for _obj in list(globals().values()):
    if isinstance(_obj, type) and _obj.__module__ == __name__ and "__dataclass_fields__" in _obj.__dict__:
        _fast_init(_obj)
