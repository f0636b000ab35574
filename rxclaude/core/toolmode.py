"""How each tool block's input streams: validated by the API, or eager (unvalidated).

Strategy: a custom tool with ``"eager_input_streaming": true`` in the request's ``tools``
streams its input as the model writes it, without the API buffering and validating the JSON
(the fine-grained tool streaming that went GA as a per-tool field). ``false`` keeps the
buffered, validated stream. A tool that leaves the field unset -- and every server or MCP tool
-- follows the ``fine-grained-tool-streaming-2025-05-14`` beta header, sent by the client or
with the request. Eager input is parsed in ``"trailing-strings"`` mode (an unfinished string
value is shown as it grows) and may end as invalid JSON (the docs say so; ``max_tokens`` cuts
it mid-value): that never fails the stream. The block keeps the raw string in
``invalid_json`` and :func:`rxclaude.operators.tool_input` reports it as a value. Validated
input that is not JSON is a corrupt stream, and stays a :class:`~rxclaude.ToolInputError`.

Example:
    >>> modes = ToolInputModes.for_request(
    ...     {"tools": [{"name": "write", "eager_input_streaming": True, "input_schema": {}}]})
    >>> modes.mode_for("tool_use", "write"), modes.mode_for("tool_use", "other")
    ('trailing-strings', 'on')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from rxclaude.core.partial_json import PartialMode
from rxclaude.core.values import EMPTY, FrozenDict

__all__ = ["FINE_GRAINED_BETA", "InputMode", "ToolInputModes", "lenient", "mode_for_block"]

FINE_GRAINED_BETA = "fine-grained-tool-streaming-2025-05-14"


@dataclass(frozen=True, slots=True)
class ToolInputModes:
    """The partial-JSON mode of each tool block, from the request and its beta headers.

    ``default`` applies to server and MCP tool blocks and to custom tools without the field;
    ``tools`` maps a custom tool's name to its own mode.
    """

    default: PartialMode = "on"
    tools: FrozenDict = field(default=EMPTY)

    @classmethod
    def for_request(cls, params: Mapping[str, Any], betas: Sequence[str] = ()) -> ToolInputModes:
        """The modes for a Messages request's ``tools`` and the betas it is sent with.

        Example:
            >>> ToolInputModes.for_request({}, ["fine-grained-tool-streaming-2025-05-14"]).default
            'trailing-strings'
        """
        header = any(FINE_GRAINED_BETA in str(b) for b in betas)
        default: PartialMode = "trailing-strings" if header else "on"
        tools: dict[str, PartialMode] = {}
        declared = params.get("tools")
        if isinstance(declared, Sequence) and not isinstance(declared, (str, bytes)):
            for tool in declared:
                if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                    continue
                eager = tool.get("eager_input_streaming")
                if eager is True:
                    tools[tool["name"]] = "trailing-strings"
                elif eager is False:
                    tools[tool["name"]] = "on"
        return cls(default, FrozenDict(tools) if tools else EMPTY)

    def mode_for(self, block_type: str, name: Any) -> PartialMode:
        """The mode of a tool block of this type and name."""
        if block_type == "tool_use" and type(name) is str:
            mode = self.tools.get(name)
            if mode is not None:
                return mode
        return self.default


InputMode = Union[PartialMode, ToolInputModes]
"""What ``partial_mode=`` takes: one mode for every tool block, or :class:`ToolInputModes`."""


def mode_for_block(mode: InputMode, block: Any) -> PartialMode:
    """The partial mode of one tool block.

    Example:
        >>> mode_for_block("on", None)
        'on'
    """
    if isinstance(mode, ToolInputModes):
        return mode.mode_for(getattr(block, "type", ""), getattr(block, "name", None))
    return mode


def lenient(mode: PartialMode) -> bool:
    """Whether input in this mode was unvalidated, so invalid JSON is a value, not an error."""
    return mode == "trailing-strings"
