"""Message-level streams: snapshots, the final message, blocks, usage, stop reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from reactivex import Observable, abc

from rxclaude.core.accumulate import MessageAccumulator, MessageSnapshot, merge_usage
from rxclaude.core.blocks import ContentBlock
from rxclaude.core.errors import IncompleteStreamError, RxClaudeError
from rxclaude.core.events import (
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    Event,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
)
from rxclaude.core.message import Message, Usage
from rxclaude.core.toolmode import InputMode
from rxclaude.operators.lifting import Lifted, PlainStage, lift, lift_events

__all__ = ["BlockEmitter", "blocks", "message", "snapshots", "stop_reason", "usage"]


def snapshots(*, partial_mode: InputMode = "on") -> Callable[[Observable[Event]], Observable[MessageSnapshot]]:
    """The message so far, after every event.

    Taking a snapshot costs a few integers per block; its text is joined only when you read
    ``snapshot.message`` / ``.text`` / ``.content``, so a million deltas never cost a million
    copies of the text.

    Example:
        >>> events.pipe(ops.snapshots()).subscribe(lambda s: print(len(s.text)))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[MessageSnapshot]) -> tuple[Callable[[Event], None], None]:
        acc = MessageAccumulator(partial_mode=partial_mode)
        emit = observer.on_next

        def on_next(event: Event) -> None:
            acc.feed(event)
            if acc.started:
                emit(acc.snapshot(event))

        return on_next, None

    return lift(setup)


def message(
    *, partial_mode: InputMode = "on", incomplete: Literal["error", "emit"] = "error"
) -> Callable[[Observable[Event]], Observable[Message]]:
    """One final :class:`~rxclaude.Message` at ``message_stop``, then completion.

    A source that completes without ``message_stop`` raises
    :class:`~rxclaude.IncompleteStreamError` whose ``partial`` is the message so far; with
    ``incomplete="emit"`` it gives that partial message instead (``incomplete=True``), which is
    what a replayed recording of a cancelled stream holds. A source error (e.g. an in-stream
    :class:`~rxclaude.OverloadedError`) is forwarded with the partial message attached as
    ``error.partial``.

    Example:
        >>> final = await events.pipe(ops.message())  # doctest: +SKIP
    """

    def operator(source: Observable[Event]) -> Observable[Message]:
        return Lifted(source, lambda observer: _MessageStage(observer, partial_mode, incomplete == "emit"))

    return operator


class _MessageStage(PlainStage):
    """:func:`message`'s subscription: the accumulator, and the partial message on every failure."""

    __slots__ = ("_acc", "_emit_partial", "_out")

    def __init__(self, observer: abc.ObserverBase[Message], partial_mode: InputMode, emit_partial: bool) -> None:
        acc = self._acc = MessageAccumulator(partial_mode=partial_mode)
        self._emit_partial = emit_partial
        self._out = observer
        feed = acc.feed

        def step(event: Event) -> None:
            feed(event)
            if acc.done:
                final = acc.message()
                self.stop()
                observer.on_next(final)
                observer.on_completed()

        super().__init__(observer, step, self._incomplete, acc.feed_text)

    def _partial(self) -> Message | None:
        try:
            return self._acc.message(incomplete=True, tolerant=True) if self._acc.started else None
        except RxClaudeError:
            return None

    def fail(self, error: Exception) -> None:
        if not self.stopped and isinstance(error, RxClaudeError) and getattr(error, "partial", None) is None:
            error.partial = self._partial()
        super().fail(error)

    def _incomplete(self) -> None:
        partial = self._partial()
        if self._emit_partial and partial is not None:  # message(incomplete="emit")
            self._out.on_next(partial)
            return
        raise IncompleteStreamError("the stream ended before message_stop", partial=partial)


def blocks(*, partial_mode: InputMode = "on") -> Callable[[Observable[Event]], Observable[ContentBlock]]:
    """Each content block, complete, at its ``content_block_stop``, in order.

    Blocks that arrive already filled in ``message_start`` come first: each at its own stop
    if one comes, else when a later block starts or the message ends.

    Example:
        >>> events.pipe(ops.blocks()).subscribe(lambda b: print(b.type))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[ContentBlock]) -> tuple[Callable[[Event], None], None]:
        acc = MessageAccumulator(partial_mode=partial_mode)
        emitter = BlockEmitter(acc, observer.on_next, partial_mode)

        def on_next(event: Event) -> None:
            acc.feed(event)
            emitter.after(event)

        return on_next, None

    return lift(setup)


class BlockEmitter:
    """Emits each block of an accumulator once, complete and in order (``blocks()``'s rule).

    Call :meth:`after` with every event but text/thinking deltas, after the accumulator took it.

    Example:
        >>> emitter = BlockEmitter(acc, print)  # doctest: +SKIP
    """

    __slots__ = ("_acc", "_emit", "_mode", "_pending")

    def __init__(self, acc: MessageAccumulator, emit: Callable[[ContentBlock], None], mode: InputMode = "on") -> None:
        self._acc = acc
        self._emit = emit
        self._mode = mode
        self._pending: list[int] = []  # message_start's blocks not emitted yet

    def _flush(self, before: int | None = None) -> None:
        pending, blocks = self._pending, self._acc.blocks
        while pending and (before is None or pending[0] < before):
            self._emit(blocks[pending.pop(0)].build(None, self._mode))

    def after(self, event: Event) -> None:
        """Take one event (already fed to the accumulator)."""
        t = type(event)
        if t is ContentBlockStopEvent:
            index = event.index  # type: ignore[union-attr]
            self._flush(index)
            if self._pending and self._pending[0] == index:
                self._pending.pop(0)
            if 0 <= index < len(self._acc.blocks):
                self._emit(self._acc.blocks[index].build(None, self._mode))
        elif t is ContentBlockStartEvent:
            self._flush(event.index)  # type: ignore[union-attr]
        elif t is MessageStartEvent:
            self._pending = list(range(self._acc.prefilled))
        elif t is MessageDeltaEvent or t is MessageStopEvent:
            self._flush()


def usage() -> Callable[[Observable[Event]], Observable[Usage]]:
    """The cumulative :class:`~rxclaude.Usage` after ``message_start`` and each ``message_delta``.

    Example:
        >>> events.pipe(ops.usage()).subscribe(lambda u: print(u.output_tokens))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[Usage]) -> tuple[Callable[[Event], None], None]:
        current: Usage | None = None
        emit = observer.on_next

        def on_next(event: Event) -> None:
            nonlocal current
            if type(event) is MessageStartEvent:
                current = event.message.usage
                emit(current)
            elif type(event) is MessageDeltaEvent and current is not None:
                current = merge_usage(current, event.usage)
                emit(current)

        return on_next, None

    return lift_events(setup)


def stop_reason() -> Callable[[Observable[Event]], Observable[str]]:
    """The ``stop_reason`` (``end_turn``, ``tool_use``, ``max_tokens``, ``refusal``...) when set.

    Example:
        >>> events.pipe(ops.stop_reason()).subscribe(print)  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[str]) -> tuple[Callable[[Event], None], None]:
        emit = observer.on_next

        def on_next(event: Event) -> None:
            if type(event) is MessageDeltaEvent and event.delta.stop_reason is not None:
                emit(event.delta.stop_reason)

        return on_next, None

    return lift_events(setup)
