"""Build the final Message from typed events: the official SDK's rules, at linear cost.

Strategy: the SDK does ``block.text += delta`` (quadratic for long answers) and re-parses the
tool JSON on every fragment. Here each open block keeps a list of text parts and a list of JSON
fragments; they are joined (and the JSON parsed) only when someone asks for a value. A
:class:`MessageSnapshot` records how many parts each block had at that moment -- a few integers
-- and builds its Message only when read, so ``snapshots()`` costs O(blocks) per event, not
O(text). The rules themselves (what overwrites, what appends, which usage fields survive) are
those of ``accumulate_event`` in the official SDK; see ``api-reference.md`` §2.3.

Example::

    acc = MessageAccumulator()
    for event in events:
        acc.feed(event)
    message = acc.message()
"""

from __future__ import annotations

from array import array
from dataclasses import replace
from itertools import accumulate, islice
from typing import Any

from rxclaude.core.blocks import (
    TOOL_INPUT_BLOCKS,
    CompactionBlock,
    ContentBlock,
    TextBlock,
    ThinkingBlock,
    UnknownBlock,
)
from rxclaude.core.deltas import (
    CitationsDelta,
    CompactionDelta,
    InputJSONDelta,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
)
from rxclaude.core.errors import EventOrderError, IncompleteStreamError, ToolInputError
from rxclaude.core.events import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    Event,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    UnknownEvent,
)
from rxclaude.core.message import Message, Usage
from rxclaude.core.partial_json import PartialMode, parse_partial_json
from rxclaude.core.values import EMPTY, FrozenDict

__all__ = ["BlockState", "MessageAccumulator", "MessageSnapshot", "merge_usage"]

# message_delta usage fields that overwrite only when present (output_tokens always does).
_USAGE_IF_PRESENT = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "server_tool_use")
_USAGE_EXTRA_IF_PRESENT = ("output_tokens_details", "iterations", "fallback_credit")


def merge_usage(current: Usage, update: Usage) -> Usage:
    """Apply a ``message_delta`` usage to the running usage (values are cumulative totals).

    ``output_tokens`` always overwrites; input, cache and server-tool counts overwrite only when
    present, so the ``message_start`` values survive otherwise.

    Example:
        >>> merge_usage(Usage(input_tokens=16, output_tokens=1), Usage(output_tokens=38))
        Usage(input_tokens=16, output_tokens=38, cache_creation_input_tokens=None, \
cache_read_input_tokens=None, server_tool_use=None, service_tier=None, extra={})
    """
    changes: dict[str, Any] = {"output_tokens": update.output_tokens}
    for name in _USAGE_IF_PRESENT:
        value = getattr(update, name)
        if value is not None:
            changes[name] = value
    extra = None
    for name in _USAGE_EXTRA_IF_PRESENT:
        value = update.extra.get(name)
        if value is not None:
            if extra is None:
                extra = dict(current.extra)
            extra[name] = value
    if extra is not None:
        changes["extra"] = FrozenDict(extra)
    return replace(current, **changes)


_SEAL = 256  # pieces per sealed segment


class _Parts:
    """Append-only text pieces, stored compactly, joined on demand in linear time.

    Strategy: a million deltas would be a million ``str`` objects (~55 bytes each before any
    text). Every ``_SEAL`` pieces are sealed into one segment string plus their cumulative
    character offsets (8 bytes each), so memory is the text plus ~8 bytes per piece. Any
    prefix (``join(n)``, what a snapshot needs) is cut out of the segments by offset; the
    last full join is cached, so reading successive snapshots stays linear.
    """

    __slots__ = ("_cached", "_n", "ends", "items", "segs")

    def __init__(self) -> None:
        self.items: list[str] = []  # pending pieces, not sealed yet
        self.segs: list[str] = []  # sealed segments of _SEAL pieces each
        self.ends = array("q")  # cumulative end offset (chars) of every sealed piece
        self._n = 0
        self._cached = ""

    def __len__(self) -> int:
        return len(self.ends) + len(self.items)

    def append(self, piece: str) -> None:
        """Add one piece."""
        items = self.items
        items.append(piece)
        if len(items) >= _SEAL:
            self.seal()

    def seal(self) -> None:
        """Move the pending pieces into a segment."""
        ends = self.ends
        ends.extend(islice(accumulate(map(len, self.items), initial=ends[-1] if ends else 0), 1, None))
        self.segs.append("".join(self.items))
        self.items = []

    def join(self, upto: int) -> str:
        """The first ``upto`` pieces joined (extends the cached last join when it can)."""
        if upto == self._n:
            return self._cached
        if upto > self._n:
            text = self._cached + self._between(self._n, upto)
            self._n, self._cached = upto, text
            return text
        return self._between(0, upto)

    def _between(self, a: int, b: int) -> str:
        sealed = len(self.ends)
        out: list[str] = []
        if a < sealed:
            ends, segs = self.ends, self.segs
            hi_all = min(b, sealed)
            k = a // _SEAL
            while k * _SEAL < hi_all:
                first = k * _SEAL
                base = ends[first - 1] if first else 0
                lo, hi = max(a, first), min(hi_all, first + _SEAL)
                start = (ends[lo - 1] if lo else 0) - base
                out.append(segs[k][start : ends[hi - 1] - base])
                k += 1
        if b > sealed:
            out.append("".join(self.items[max(a, sealed) - sealed : b - sealed]))
        return "".join(out)


_View = tuple[int, int, int, "str | None", "CompactionDelta | None"]
_Header = tuple[Usage, "str | None", "str | None", FrozenDict, str, bool]


class BlockState:
    """One content block while it streams: the start value plus append-only buffers."""

    __slots__ = ("citations", "compaction", "index", "json", "parts", "signature", "start", "stopped")

    def __init__(self, index: int, start: ContentBlock) -> None:
        self.index = index
        self.start = start
        self.parts = _Parts()  # text or thinking pieces
        self.json = _Parts()  # partial_json fragments
        self.citations: list[Any] = []
        self.signature: str | None = None
        self.compaction: CompactionDelta | None = None
        self.stopped = False

    def view(self) -> _View:
        """A cheap, immutable marker of how far this block has grown."""
        return (len(self.parts), len(self.citations), len(self.json), self.signature, self.compaction)

    def build(self, view: _View | None = None, mode: PartialMode = "on") -> ContentBlock:
        """The block as a value, as it was at ``view`` (default: now)."""
        n_parts, n_cites, n_json, signature, compaction = view if view is not None else self.view()
        start = self.start
        if isinstance(start, TextBlock):
            if not n_parts and not n_cites:
                return start
            cites = start.citations
            if n_cites:
                cites = (cites or ()) + tuple(self.citations[:n_cites])
            return replace(start, text=start.text + self.parts.join(n_parts), citations=cites)
        if isinstance(start, ThinkingBlock):
            if not n_parts and signature is None:
                return start
            return replace(
                start,
                thinking=start.thinking + self.parts.join(n_parts),
                signature=start.signature if signature is None else signature,
            )
        if isinstance(start, TOOL_INPUT_BLOCKS):
            raw = self.json.join(n_json)
            if not raw:
                return start
            return replace(start, input=self.parse_input(raw, mode))
        if isinstance(start, CompactionBlock) and compaction is not None:
            return replace(
                start,
                content=compaction.content,
                encrypted_content=compaction.encrypted_content,
                absent=frozenset(),
            )
        return start

    def parse_input(self, raw: str, mode: PartialMode = "on") -> Any:
        """Parse (possibly unfinished) tool JSON, typing a failure as :class:`ToolInputError`."""
        try:
            return parse_partial_json(raw, mode)
        except ValueError as e:
            name = getattr(self.start, "name", "?")
            raise ToolInputError(
                f"tool block {self.index} ({name!r}) streamed invalid JSON: {e}; received: {raw[:200]!r}",
                index=self.index,
                json=raw,
            ) from None


class MessageAccumulator:
    """Feed typed events in order; read the message (or a snapshot) at any time.

    ``partial_mode="trailing-strings"`` keeps unfinished strings in tool input, as the SDK does
    under the ``fine-grained-tool-streaming-2025-05-14`` beta.

    Example:
        >>> acc = MessageAccumulator()
        >>> for ev in events: acc.feed(ev)        # doctest: +SKIP
        >>> acc.message().text                     # doctest: +SKIP
    """

    __slots__ = (
        "_blocks",
        "_extra",
        "_mode",
        "_model",
        "_start",
        "_stop_reason",
        "_stop_sequence",
        "_usage",
        "done",
        "events",
    )

    def __init__(self, *, partial_mode: PartialMode = "on") -> None:
        self._mode: PartialMode = partial_mode
        self._start: Message | None = None
        self._blocks: list[BlockState] = []
        self._usage = Usage()
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._extra: FrozenDict = EMPTY  # replaced, never mutated: snapshots share it
        self._model = ""
        self.done = False
        self.events = 0

    @property
    def started(self) -> bool:
        """Whether ``message_start`` has arrived."""
        return self._start is not None

    @property
    def usage(self) -> Usage:
        """The usage so far (cumulative rules applied)."""
        return self._usage

    @property
    def stop_reason(self) -> str | None:
        """The latest ``stop_reason`` (``None`` until a ``message_delta`` sets one)."""
        return self._stop_reason

    @property
    def blocks(self) -> list[BlockState]:
        """The block states, by index (read-only use)."""
        return self._blocks

    def feed(self, event: Event) -> None:
        """Apply one event.

        Raises:
            EventOrderError: the first event is not ``message_start``.
        """
        self.events += 1
        if type(event) is ContentBlockDeltaEvent:
            self._delta(event)
            return
        if self._start is None:
            if type(event) is MessageStartEvent:
                self._begin(event)
                return
            if type(event) is ErrorEvent or type(event) is PingEvent or type(event) is UnknownEvent:
                return  # liveness and provider extras (e.g. Vertex's vertex_event) may come first
            raise EventOrderError(f'Unexpected event order, got {event.type} before "message_start"')
        if type(event) is ContentBlockStartEvent:
            block = event.content_block
            self._blocks.append(BlockState(len(self._blocks), block))
            if block.type == "fallback" and isinstance(block, UnknownBlock):
                to = block.raw.get("to")
                if isinstance(to, dict) and isinstance(to.get("model"), str):
                    self._model = to["model"]
        elif type(event) is ContentBlockStopEvent:
            index = event.index
            if 0 <= index < len(self._blocks):
                self._blocks[index].stopped = True
        elif type(event) is MessageDeltaEvent:
            self._message_delta(event)
        elif type(event) is MessageStopEvent:
            self.done = True

    def _begin(self, event: MessageStartEvent) -> None:
        m = event.message
        self._start = m
        self._model = m.model
        self._usage = m.usage
        self._stop_reason = m.stop_reason
        self._stop_sequence = m.stop_sequence
        self._extra = m.extra
        for i, b in enumerate(m.content):  # always [] on the wire, but be faithful
            self._blocks.append(BlockState(i, b))

    def feed_text(self, index: int, text: str, thinking: bool = False) -> None:
        """Apply a plain text (or thinking) delta without its event object: the same as
        ``feed(ContentBlockDeltaEvent(index, TextDelta(text)))`` (or ``ThinkingDelta``).

        Example:
            >>> acc.feed_text(0, "Hello")  # doctest: +SKIP
        """
        self.events += 1
        try:
            state = self._blocks[index]  # empty before message_start
        except IndexError:
            state = self._block(index)  # raises the EventOrderError
        if thinking:
            if type(state.start) is ThinkingBlock:
                state.parts.append(text)
        elif type(state.start) is TextBlock:
            parts = state.parts  # _Parts.append, inlined: this is most of a long stream
            parts.items.append(text)
            if len(parts.items) >= _SEAL:
                parts.seal()

    def _block(self, index: int) -> BlockState:
        if self._start is None:
            raise EventOrderError('Unexpected event order, got content_block_delta before "message_start"')
        try:
            return self._blocks[index]
        except IndexError:
            raise EventOrderError(f"content_block_delta for block {index} before its start") from None

    def _delta(self, event: ContentBlockDeltaEvent) -> None:
        try:
            state = self._blocks[event.index]  # empty before message_start
        except IndexError:
            state = self._block(event.index)  # raises the EventOrderError
        delta = event.delta
        start = state.start
        if type(delta) is TextDelta:
            if type(start) is TextBlock:
                parts = state.parts  # _Parts.append, inlined: this is most of a long stream
                parts.items.append(delta.text)
                if len(parts.items) >= _SEAL:
                    parts.seal()
        elif type(delta) is InputJSONDelta:
            if isinstance(start, TOOL_INPUT_BLOCKS):
                state.json.append(delta.partial_json)
        elif type(delta) is ThinkingDelta:
            if type(start) is ThinkingBlock:
                state.parts.append(delta.thinking)
        elif type(delta) is SignatureDelta:
            if type(start) is ThinkingBlock:
                state.signature = delta.signature
        elif type(delta) is CitationsDelta:
            if type(start) is TextBlock:
                state.citations.append(delta.citation)
        elif type(delta) is CompactionDelta and type(start) is CompactionBlock:
            state.compaction = delta

    def _message_delta(self, event: MessageDeltaEvent) -> None:
        d = event.delta
        self._stop_reason = d.stop_reason
        self._stop_sequence = d.stop_sequence
        extra = dict(self._extra)
        extra["stop_details"] = d.stop_details
        if d.container is not None:
            extra["container"] = d.container
        for key in ("context_management", "input_transformations"):
            value = event.extra.get(key)
            if value is not None:
                extra[key] = value
        self._extra = FrozenDict(extra)
        self._usage = merge_usage(self._usage, event.usage)

    def snapshot(self, event: Event | None = None) -> MessageSnapshot:
        """The message as it is now, built lazily when read (O(blocks) to take)."""
        return MessageSnapshot(self, tuple(b.view() for b in self._blocks), event)

    def _header(self) -> _Header:
        return (self._usage, self._stop_reason, self._stop_sequence, self._extra, self._model, self.done)

    def message(self, *, incomplete: bool | None = None) -> Message:
        """The message so far as a value (``incomplete`` defaults to "no message_stop yet").

        Raises:
            IncompleteStreamError: not even ``message_start`` has arrived.
            ToolInputError: a tool block's JSON is invalid (not merely unfinished).
        """
        return self._build(None, self._header(), incomplete)

    def _build(self, views: tuple[_View, ...] | None, header: _Header, incomplete: bool | None) -> Message:
        usage, stop_reason, stop_sequence, extra, model, done = header
        start = self._start
        if start is None:
            raise IncompleteStreamError("the stream ended before message_start", partial=None)
        blocks = self._blocks if views is None else self._blocks[: len(views)]
        content = tuple(b.build(None if views is None else views[i], self._mode) for i, b in enumerate(blocks))
        return Message(
            id=start.id,
            model=model,
            content=content,
            usage=usage,
            role=start.role,
            stop_reason=stop_reason,
            stop_sequence=stop_sequence,
            type=start.type,
            extra=extra,
            incomplete=(not done) if incomplete is None else incomplete,
        )


class MessageSnapshot:
    """The message as it was after one event; its text is joined only when you read it.

    ``usage``, ``stop_reason`` and ``event`` are free; ``message`` (and everything delegated to
    it: ``content``, ``text``, ``to_dict()`` ...) is built on first access and cached.
    """

    __slots__ = ("_acc", "_header", "_message", "_views", "event")

    def __init__(
        self,
        acc: MessageAccumulator,
        views: tuple[_View, ...],
        event: Event | None = None,
    ) -> None:
        self._acc = acc
        self._views = views
        self._message: Message | None = None
        self._header = acc._header()
        self.event = event

    @property
    def usage(self) -> Usage:
        """The usage at this point (free: no text is joined)."""
        return self._header[0]

    @property
    def stop_reason(self) -> str | None:
        """The stop reason at this point (free)."""
        return self._header[1]

    @property
    def message(self) -> Message:
        """The full :class:`Message` at this point (built once, then cached)."""
        if self._message is None:
            self._message = self._acc._build(self._views, self._header, None)
        return self._message

    @property
    def content(self) -> tuple[ContentBlock, ...]:
        """The content blocks at this point."""
        return self.message.content

    @property
    def text(self) -> str:
        """All text so far."""
        return self.message.text

    def to_dict(self) -> dict[str, Any]:
        """The message at this point as API JSON."""
        return self.message.to_dict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.message, name)

    def __repr__(self) -> str:
        return f"<MessageSnapshot blocks={len(self._views)} stop_reason={self.stop_reason!r}>"
