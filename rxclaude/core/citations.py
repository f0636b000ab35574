"""Citations: where a piece of text comes from (``citation_from_dict`` types them)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Union

from rxclaude.core.values import EMPTY, FrozenDict, Value, fast_init_module, finish

__all__ = [
    "CharLocation",
    "Citation",
    "ContentBlockLocation",
    "PageLocation",
    "SearchResultLocation",
    "UnknownCitation",
    "WebSearchResultLocation",
    "citation_from_dict",
]

# -- citations ---------------------------------------------------------------------------------


@finish
@dataclass(frozen=True, slots=True)
class CharLocation(Value):
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


@finish
@dataclass(frozen=True, slots=True)
class PageLocation(Value):
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


@finish
@dataclass(frozen=True, slots=True)
class ContentBlockLocation(Value):
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


@finish
@dataclass(frozen=True, slots=True)
class WebSearchResultLocation(Value):
    """A citation of a web search result."""

    cited_text: str = ""
    url: str = ""
    title: str | None = None
    encrypted_index: str = ""
    type: str = "web_search_result_location"
    extra: FrozenDict = EMPTY
    absent: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@finish
@dataclass(frozen=True, slots=True)
class SearchResultLocation(Value):
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
class UnknownCitation(Value):
    """A citation type this version does not know; ``raw`` is its JSON."""

    type: str
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


Citation = Union[
    CharLocation,
    PageLocation,
    ContentBlockLocation,
    WebSearchResultLocation,
    SearchResultLocation,
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
    kind = d.get("type")
    cls = _CITATIONS.get(kind) if type(kind) is str else None  # a non-string type is unknown, not a crash
    if cls is None:
        return UnknownCitation(str(kind), d)
    return cls.from_dict(d)


fast_init_module(globals(), __name__)
