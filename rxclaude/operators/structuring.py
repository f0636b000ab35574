"""Structured output as a live stream: partial JSON values as they grow, then the typed value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable, abc

from rxclaude.core.blocks import TOOL_INPUT_BLOCKS
from rxclaude.core.deltas import InputJSONDelta, TextDelta
from rxclaude.core.errors import OutputValidationError
from rxclaude.core.events import ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent
from rxclaude.core.json_builder import JSONBuilder
from rxclaude.core.output import PartialOutput, output_validator
from rxclaude.operators.lifting import lift

__all__ = ["partial_output"]


def partial_output(
    schema: Any = None, *, tool: str | None = None, partial_strings: bool = False
) -> Callable[[Observable[Any]], Observable[PartialOutput[Any]]]:
    """A structured output as it grows: a :class:`~rxclaude.PartialOutput` each time the JSON
    so far changes, then one with ``done=True`` holding the complete value.

    The source is either the reply's text (``stream.text``: JSON fragments, as a request with
    ``output_config={"format": ...}`` streams them) or its events (``stream.events``): then the
    text deltas, or with ``tool="name"`` the input of the first block calling that (strict)
    tool. The final value comes when the source completes (at the tool block's end for
    ``tool``): with ``schema`` -- a pydantic model or any type ``pydantic.TypeAdapter`` takes, or
    a JSON schema ``dict`` (extra ``rxclaude[structured]``) -- it is validated and typed.
    Invalid JSON, JSON that ended early (``max_tokens``) or a value that does not match is an
    :class:`~rxclaude.OutputValidationError` carrying the raw text. Linear in the reply: each
    character is parsed once and each value copies only the containers still open; unfinished
    strings are left out unless ``partial_strings`` (then every change copies the growing
    string, as any view of it must).

    Example:
        >>> stream.text.pipe(ops.partial_output(Weather)).subscribe(lambda p: print(p.value))  # doctest: +SKIP
    """
    validator = output_validator(schema)  # a missing extra or a bad schema fails here, at once

    def setup(observer: abc.ObserverBase[PartialOutput[Any]]) -> tuple[Callable[[Any], None], Callable[[], None]]:
        builder = JSONBuilder(trailing_strings=partial_strings)
        parts: list[str] = []
        emit = observer.on_next
        block: int | None = None  # the tool block followed (``tool``)
        ended = False

        def take(fragment: str) -> None:
            if ended or not fragment:
                return
            parts.append(fragment)
            try:
                changed = builder.feed(fragment)
            except ValueError as e:
                raw = "".join(parts)
                raise OutputValidationError(f"the output is not valid JSON: {e}", raw=raw) from None
            if changed:
                emit(PartialOutput(builder.snapshot(), False))

        def finish() -> None:
            nonlocal ended
            if ended:
                return
            ended = True
            raw = "".join(parts)
            try:
                value = builder.close()
            except ValueError as e:
                raise OutputValidationError(f"the output is incomplete: {e}", raw=raw) from None
            if validator is not None:
                value = validator.validate(raw, value)
            emit(PartialOutput(value, True))

        def on_next(item: Any) -> None:
            nonlocal block
            if type(item) is str:
                take(item)
                return
            t = type(item)
            if t is ContentBlockDeltaEvent:
                delta = item.delta
                if tool is None:
                    if type(delta) is TextDelta:
                        take(delta.text)
                elif type(delta) is InputJSONDelta and item.index == block:
                    take(delta.partial_json)
            elif tool is not None and t is ContentBlockStartEvent:
                start = item.content_block
                if block is None and not ended and isinstance(start, TOOL_INPUT_BLOCKS) and start.name == tool:
                    block = item.index
            elif t is ContentBlockStopEvent and tool is not None and item.index == block:
                finish()

        def on_completed() -> None:
            if tool is not None and block is None:
                raise OutputValidationError(f"the reply has no call to the tool {tool!r}", raw="")
            finish()

        return on_next, on_completed

    return lift(setup)
