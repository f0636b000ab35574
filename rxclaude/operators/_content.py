"""Content streams: text, thinking, citations, tool input, and type filters."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import orjson
from reactivex import Observable, abc

from .._accumulate import BlockState
from .._partial_json import PartialMode, StringTracker
from ..events import (
    TOOL_INPUT_BLOCKS,
    Citation,
    CitationsDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    Delta,
    Event,
    InputJSONDelta,
    TextDelta,
    ThinkingDelta,
    ToolInput,
)
from ._lift import lift

__all__ = ["citations", "deltas", "of_type", "text", "thinking", "tool_input"]


def _pluck(
    delta_type: type[Any], field: str, *, skip_empty: bool = False
) -> Callable[[Observable[Event]], Observable[Any]]:
    """One field of every ``content_block_delta`` whose delta is exactly ``delta_type``."""
    get = attrgetter(field)

    def setup(observer: abc.ObserverBase[Any]) -> tuple[Callable[[Event], None], None]:
        emit = observer.on_next

        def on_next(event: Event) -> None:
            if type(event) is ContentBlockDeltaEvent:
                delta = event.delta
                if type(delta) is delta_type:
                    value = get(delta)
                    if value or not skip_empty:
                        emit(value)

        return on_next, None

    return lift(setup)


def text() -> Callable[[Observable[Event]], Observable[str]]:
    """The text of every ``text_delta``, in order -- nothing else.

    Example:
        >>> stream.events.pipe(ops.text()).subscribe(lambda s: print(s, end=""))  # doctest: +SKIP
    """
    return _pluck(TextDelta, "text")


def thinking() -> Callable[[Observable[Event]], Observable[str]]:
    """The text of every ``thinking_delta`` (extended thinking), in order; empty ones skipped.

    Example:
        >>> stream.events.pipe(ops.thinking()).subscribe(print)  # doctest: +SKIP
    """
    return _pluck(ThinkingDelta, "thinking", skip_empty=True)


def citations() -> Callable[[Observable[Event]], Observable[Citation]]:
    """Every citation as it arrives (before the text it supports).

    Example:
        >>> stream.events.pipe(ops.citations()).subscribe(lambda c: print(c.cited_text))  # doctest: +SKIP
    """
    return _pluck(CitationsDelta, "citation")


def deltas(*delta_types: type[Delta]) -> Callable[[Observable[Event]], Observable[ContentBlockDeltaEvent]]:
    """Only ``content_block_delta`` events, optionally only of the given delta classes.

    Example:
        >>> events.pipe(ops.deltas(InputJSONDelta))  # doctest: +SKIP
    """
    wanted = tuple(delta_types)

    def setup(observer: abc.ObserverBase[ContentBlockDeltaEvent]) -> tuple[Callable[[Event], None], None]:
        emit = observer.on_next

        def on_next(event: Event) -> None:
            if type(event) is ContentBlockDeltaEvent and (not wanted or isinstance(event.delta, wanted)):
                emit(event)

        return on_next, None

    return lift(setup)


def of_type(*event_types: type[Any]) -> Callable[[Observable[Any]], Observable[Any]]:
    """Only values that are instances of the given classes (events, blocks, anything).

    Example:
        >>> events.pipe(ops.of_type(MessageDeltaEvent, MessageStopEvent))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[Any]) -> tuple[Callable[[Any], None], None]:
        emit = observer.on_next

        def on_next(value: Any) -> None:
            if isinstance(value, event_types):
                emit(value)

        return on_next, None

    return lift(setup)


def tool_input(*, partial_mode: PartialMode = "on") -> Callable[[Observable[Event]], Observable[ToolInput]]:
    """Each tool block's input, parsed as it grows, then once more with ``done=True``.

    The first value of a block is its start input (``{}``); a new value is emitted only when
    the parsed input changes. Unfinished strings are left out (``partial_mode="on"``, the
    official SDK's default) or kept (``"trailing-strings"``). At ``content_block_stop`` the
    input equals the full JSON; JSON that is invalid (not merely unfinished) is a
    :class:`~rxclaude.ToolInputError`. Linear in a long string value (a file's content): while
    fragments only extend an unfinished string that the default mode leaves out, the input is
    not parsed again, so an invalid character inside it is reported when that string ends.

    Example:
        >>> events.pipe(ops.tool_input()).subscribe(lambda t: print(t.name, t.input))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[ToolInput]) -> tuple[Callable[[Event], None], None]:
        emit = observer.on_next
        open_blocks: dict[int, tuple[BlockState, Any, StringTracker]] = {}
        drops_open_strings = partial_mode == "on"

        def on_next(event: Event) -> None:
            t = type(event)
            if t is ContentBlockDeltaEvent:
                delta = event.delta  # type: ignore[union-attr]
                if type(delta) is InputJSONDelta:
                    entry = open_blocks.get(event.index)  # type: ignore[union-attr]
                    if entry is None:
                        return
                    state, last, strings = entry
                    fragment = delta.partial_json
                    state.json.append(fragment)
                    was_inside = strings.inside
                    if not strings.feed(fragment) and was_inside and drops_open_strings:
                        # Still inside the same unfinished string, which this mode leaves out:
                        # the value cannot have changed, so the buffer is not parsed again (a
                        # long string value -- a file's content -- costs linear time, not
                        # quadratic).
                        return
                    raw = state.json.join(len(state.json))
                    if not raw:
                        return
                    value = state.parse_input(raw, partial_mode)
                    if value != last:
                        open_blocks[state.index] = (state, value, strings)
                        emit(_value(state, value, False))
            elif t is ContentBlockStartEvent:
                block = event.content_block  # type: ignore[union-attr]
                if isinstance(block, TOOL_INPUT_BLOCKS):
                    state = BlockState(event.index, block)  # type: ignore[union-attr]
                    open_blocks[state.index] = (state, block.input, StringTracker())
                    emit(_value(state, block.input, False))
            elif t is ContentBlockStopEvent:
                entry = open_blocks.pop(event.index, None)  # type: ignore[union-attr]
                if entry is not None:
                    state, last, _ = entry
                    raw = state.json.join(len(state.json))
                    if raw:
                        try:
                            last = orjson.loads(raw)
                        except orjson.JSONDecodeError:
                            last = state.parse_input(raw, partial_mode)
                    emit(_value(state, last, True))

        return on_next, None

    return lift(setup)


def _value(state: BlockState, value: Any, done: bool) -> ToolInput:
    block = state.start
    return ToolInput(state.index, getattr(block, "id", ""), getattr(block, "name", ""), value, done)
