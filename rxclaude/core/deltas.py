"""Deltas of ``content_block_delta`` events (``delta_from_dict`` types them)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Union

from rxclaude.core.citations import Citation, citation_from_dict
from rxclaude.core.values import EMPTY, FrozenDict, Value, fast_init_module, finish

__all__ = [
    "CitationsDelta",
    "CompactionDelta",
    "Delta",
    "InputJSONDelta",
    "SignatureDelta",
    "TextDelta",
    "ThinkingDelta",
    "UnknownDelta",
    "delta_from_dict",
]

# -- deltas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta(Value):
    """A piece of text for a ``text`` block."""

    text: str
    type: str = "text_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class InputJSONDelta(Value):
    """A fragment of a tool block's input JSON (the first is often ``""``)."""

    partial_json: str
    type: str = "input_json_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class ThinkingDelta(Value):
    """A piece of thinking text."""

    thinking: str
    type: str = "thinking_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class SignatureDelta(Value):
    """The thinking block's signature (replaces, never appends)."""

    signature: str
    type: str = "signature_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class CitationsDelta(Value):
    """One citation for the current text block (they arrive before its text)."""

    citation: Citation
    type: str = "citations_delta"
    extra: FrozenDict = EMPTY


@finish
@dataclass(frozen=True, slots=True)
class CompactionDelta(Value):
    """(beta) The compaction summary (replaces the block's content)."""

    content: str | None = None
    encrypted_content: str | None = None
    type: str = "compaction_delta"
    extra: FrozenDict = EMPTY


@dataclass(frozen=True, slots=True)
class UnknownDelta(Value):
    """A delta type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


Delta = Union[TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta, CompactionDelta, UnknownDelta]
for _c in (TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta):
    finish(_c)


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
            return CitationsDelta(citation_from_dict(d["citation"]), extra=FrozenDict(rest) if rest else EMPTY)
        if t == "compaction_delta":
            return CompactionDelta.from_dict(d)
    except (KeyError, TypeError, AttributeError):
        pass
    return UnknownDelta(str(t), d)


fast_init_module(globals(), __name__)
