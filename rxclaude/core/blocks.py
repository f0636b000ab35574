"""Content blocks of a message (``block_from_dict`` types them).

Example::

    >>> block = block_from_dict({"type": "text", "text": "hi", "future": 1})
    >>> block.text, block.to_dict()
    ('hi', {'type': 'text', 'text': 'hi', 'future': 1})
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Union

from rxclaude.core.citations import Citation, citation_from_dict
from rxclaude.core.values import EMPTY, FrozenDict, Value, fast_init_module, finish

__all__ = [
    "BashCodeExecutionToolResultBlock",
    "CodeExecutionToolResultBlock",
    "CompactionBlock",
    "ContainerUploadBlock",
    "ContentBlock",
    "MCPToolResultBlock",
    "MCPToolUseBlock",
    "RedactedThinkingBlock",
    "ServerToolResultBlock",
    "ServerToolUseBlock",
    "TOOL_INPUT_BLOCKS",
    "TextBlock",
    "TextEditorCodeExecutionToolResultBlock",
    "ThinkingBlock",
    "ToolSearchToolResultBlock",
    "ToolUseBlock",
    "UnknownBlock",
    "WebFetchToolResultBlock",
    "WebSearchToolResultBlock",
    "block_from_dict",
]

# -- content blocks ----------------------------------------------------------------------------


@finish
@dataclass(frozen=True, slots=True)
class TextBlock(Value):
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


@finish
@dataclass(frozen=True, slots=True)
class ThinkingBlock(Value):
    """Extended thinking; ``signature`` arrives in one ``signature_delta`` at the end."""

    thinking: str = ""
    signature: str = ""
    type: str = "thinking"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class RedactedThinkingBlock(Value):
    """Encrypted thinking, complete at ``content_block_start`` (no deltas)."""

    data: str = ""
    type: str = "redacted_thinking"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class ToolUseBlock(Value):
    """A client tool call; ``input`` is built from ``input_json_delta`` fragments."""

    id: str = ""
    name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "tool_use"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class ServerToolUseBlock(Value):
    """A server tool call (web_search, web_fetch, code execution, tool search...)."""

    id: str = ""
    name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "server_tool_use"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class MCPToolUseBlock(Value):
    """(beta) A call to a tool of an MCP server; ``input`` streams like ``tool_use``."""

    id: str = ""
    name: str = ""
    server_name: str = ""
    input: Any = field(default_factory=dict)
    type: str = "mcp_tool_use"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class ServerToolResultBlock(Value):
    """A server tool's result, complete at ``content_block_start``.

    ``content`` is the result JSON as sent (a list, an object, or an error object).
    Subclasses name the tool; an unknown ``*_tool_result`` type is a :class:`UnknownBlock`.
    """

    tool_use_id: str = ""
    content: Any = None
    type: str = "server_tool_result"
    extra: FrozenDict = EMPTY


def _result_block(type_name: str, doc: str) -> type[ServerToolResultBlock]:
    @finish
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


@finish
@dataclass(frozen=True, slots=True)
class MCPToolResultBlock(Value):
    """(beta) The result of an MCP tool call."""

    tool_use_id: str = ""
    is_error: bool = False
    content: Any = None
    type: str = "mcp_tool_result"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class ContainerUploadBlock(Value):
    """A file uploaded into the code-execution container."""

    file_id: str = ""
    type: str = "container_upload"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class CompactionBlock(Value):
    """(beta) A compaction summary; filled by one ``compaction_delta``."""

    content: str | None = None
    encrypted_content: str | None = None
    type: str = "compaction"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class UnknownBlock(Value):
    """A content block type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


ContentBlock = Union[
    TextBlock,
    ThinkingBlock,
    RedactedThinkingBlock,
    ToolUseBlock,
    ServerToolUseBlock,
    MCPToolUseBlock,
    ServerToolResultBlock,
    MCPToolResultBlock,
    ContainerUploadBlock,
    CompactionBlock,
    UnknownBlock,
]
_BLOCKS: dict[str, Any] = {
    str(c.__dataclass_fields__["type"].default): c
    for c in (
        TextBlock,
        ThinkingBlock,
        RedactedThinkingBlock,
        ToolUseBlock,
        ServerToolUseBlock,
        MCPToolUseBlock,
        WebSearchToolResultBlock,
        WebFetchToolResultBlock,
        CodeExecutionToolResultBlock,
        BashCodeExecutionToolResultBlock,
        TextEditorCodeExecutionToolResultBlock,
        ToolSearchToolResultBlock,
        MCPToolResultBlock,
        ContainerUploadBlock,
        CompactionBlock,
    )
}
TOOL_INPUT_BLOCKS = (ToolUseBlock, ServerToolUseBlock, MCPToolUseBlock)


def block_from_dict(d: dict[str, Any]) -> ContentBlock:
    """Type a content-block JSON object (unknown ``type`` -> :class:`UnknownBlock`).

    Example:
        >>> block_from_dict({"type": "tool_use", "id": "t1", "name": "f", "input": {}}).name
        'f'
    """
    kind = d.get("type")
    cls = _BLOCKS.get(kind) if type(kind) is str else None  # a non-string type is unknown, not a crash
    if cls is None:
        return UnknownBlock(str(kind), d)
    return cls.from_dict(d)


fast_init_module(globals(), __name__)
