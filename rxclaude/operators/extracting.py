"""Content streams: text, thinking, citations, tool input, and type filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import attrgetter
from typing import Any

import orjson
from reactivex import Observable, abc

from rxclaude.core.accumulate import BlockState
from rxclaude.core.blocks import TOOL_INPUT_BLOCKS
from rxclaude.core.citations import Citation
from rxclaude.core.deltas import CitationsDelta, Delta, InputJSONDelta, TextDelta, ThinkingDelta
from rxclaude.core.events import ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent, Event
from rxclaude.core.message import ToolInput
from rxclaude.core.partial_json import PartialMode, StringTracker, last_string, split_string_body, with_last_string
from rxclaude.operators.lifting import lift, lift_plain

__all__ = ["citations", "deltas", "of_type", "text", "thinking", "tool_input"]


def _pluck(
    delta_type: type[Any], field: str, *, skip_empty: bool = False
) -> Callable[[Observable[Event]], Observable[Any]]:
    """One field of every ``content_block_delta`` whose delta is exactly ``delta_type``."""
    get = attrgetter(field)
    wants_thinking = delta_type is ThinkingDelta
    plain_too = delta_type is TextDelta or wants_thinking  # plain deltas carry this field

    def setup(
        observer: abc.ObserverBase[Any],
    ) -> tuple[Callable[[Event], None], None, Callable[[int, str, bool], None]]:
        emit = observer.on_next

        def on_next(event: Event) -> None:
            if type(event) is ContentBlockDeltaEvent:
                delta = event.delta
                if type(delta) is delta_type:
                    value = get(delta)
                    if value or not skip_empty:
                        emit(value)

        def on_plain(index: int, text: str, thinking: bool) -> None:
            if plain_too and thinking is wants_thinking and (text or not skip_empty):
                emit(text)

        return on_next, None, on_plain

    return lift_plain(setup)


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
    :class:`~rxclaude.ToolInputError`. Linear in a long string value (a file's content): a
    fragment that only extends an unfinished string is not parsed again (the default mode leaves
    that string out; ``"trailing-strings"`` extends it in place), so an invalid character inside
    it is reported when that string ends.

    Example:
        >>> events.pipe(ops.tool_input()).subscribe(lambda t: print(t.name, t.input))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[ToolInput]) -> tuple[Callable[[Event], None], None]:
        emit = observer.on_next
        open_blocks: dict[int, _OpenInput] = {}
        trailing = partial_mode == "trailing-strings"

        def on_next(event: Event) -> None:
            if type(event) is ContentBlockDeltaEvent:
                delta = event.delta
                if type(delta) is InputJSONDelta:
                    entry = open_blocks.get(event.index)
                    if entry is None:
                        return
                    fragment = delta.partial_json
                    entry.state.json.append(fragment)
                    strings = entry.strings
                    was_inside = strings.inside
                    if not strings.feed(fragment) and was_inside:
                        # The buffer only grew inside the same unfinished string: the value
                        # stays the same (the default mode leaves the string out, and every
                        # mode leaves out an unfinished key), or only that string grows, which
                        # is patched in. No re-parse: a long string value (a file's content)
                        # costs linear time, not quadratic.
                        if not trailing or strings.is_key:
                            return
                        if entry.tail is not None:
                            value = entry.extend(fragment)
                            if value is not None:
                                if value is not entry.last:
                                    entry.last = value
                                    emit(_value(entry.state, value, False))
                                return
                    raw = entry.state.json.join(len(entry.state.json))
                    if not raw:
                        return
                    value = entry.state.parse_input(raw, partial_mode)
                    entry.tail = None
                    if trailing and strings.inside and not strings.is_key and strings.opened_at is not None:
                        entry.follow(value, fragment[strings.opened_at :])
                    if value != entry.last:
                        entry.last = value
                        emit(_value(entry.state, value, False))
            elif type(event) is ContentBlockStartEvent:
                block = event.content_block
                if isinstance(block, TOOL_INPUT_BLOCKS):
                    state = BlockState(event.index, block)
                    open_blocks[state.index] = _OpenInput(state, block.input)
                    emit(_value(state, block.input, False))
            elif type(event) is ContentBlockStopEvent:
                entry = open_blocks.pop(event.index, None)
                if entry is not None:
                    state, last = entry.state, entry.last
                    raw = state.json.join(len(state.json))
                    if raw:
                        try:
                            last = orjson.loads(raw)
                        except orjson.JSONDecodeError:
                            last = state.parse_input(raw, partial_mode)
                    emit(_value(state, last, True))

        return on_next, None

    return lift(setup)


class _OpenInput:
    """A tool block whose input is still arriving: its buffer, the last value emitted, where its
    strings stand, and (``"trailing-strings"``) the decoded text of the string it ends inside."""

    __slots__ = ("last", "state", "strings", "tail")

    def __init__(self, state: BlockState, value: Any) -> None:
        self.state = state
        self.last = value
        self.strings = StringTracker()
        self.tail: tuple[str, str] | None = None  # (decoded so far, an unfinished escape)

    def follow(self, value: Any, body: str) -> None:
        """Patch the open string from now on, if ``value`` ends with it (``body``: its raw text)."""
        done, pending = split_string_body(body)
        try:
            text = json.loads('"' + done + '"')
        except ValueError:
            return
        if last_string(value) == text:
            self.tail = (text, pending)

    def extend(self, fragment: str) -> Any:
        """The value with ``fragment`` added to the open string; ``None`` if it cannot be patched
        (an invalid escape, say), and the buffer must be parsed."""
        assert self.tail is not None
        text, pending = self.tail
        done, pending = split_string_body(pending + fragment)
        if not done:
            self.tail = (text, pending)
            return self.last
        try:
            longer = text + json.loads('"' + done + '"')
        except ValueError:
            return None
        value = with_last_string(self.last, text, longer)
        if value is not None:
            self.tail = (longer, pending)
        return value


def _value(state: BlockState, value: Any, done: bool) -> ToolInput:
    block = state.start
    return ToolInput(state.index, getattr(block, "id", ""), getattr(block, "name", ""), value, done)
