"""Message-level streams: snapshots, the final message, blocks, usage, stop reason."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from rxclaude.core.accumulate import MessageAccumulator, MessageSnapshot, merge_usage
from rxclaude.core.blocks import ContentBlock
from rxclaude.core.errors import IncompleteStreamError, RxClaudeError
from rxclaude.core.events import ContentBlockStopEvent, Event, MessageDeltaEvent, MessageStartEvent
from rxclaude.core.message import Message, Usage
from rxclaude.core.partial_json import PartialMode
from rxclaude.operators.lifting import Lifted, PlainStage, lift, lift_events

__all__ = ["blocks", "message", "snapshots", "stop_reason", "usage"]


def snapshots(*, partial_mode: PartialMode = "on") -> Callable[[Observable[Event]], Observable[MessageSnapshot]]:
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


def message(*, partial_mode: PartialMode = "on") -> Callable[[Observable[Event]], Observable[Message]]:
    """One final :class:`~rxclaude.Message` at ``message_stop``, then completion.

    A source that completes without ``message_stop`` raises
    :class:`~rxclaude.IncompleteStreamError` whose ``partial`` is the message so far; a source
    error (e.g. an in-stream :class:`~rxclaude.OverloadedError`) is forwarded with the partial
    message attached as ``error.partial``.

    Example:
        >>> final = await events.pipe(ops.message())  # doctest: +SKIP
    """

    def operator(source: Observable[Event]) -> Observable[Message]:
        return Lifted(source, lambda observer: _MessageStage(observer, partial_mode))

    return operator


class _MessageStage(PlainStage):
    """:func:`message`'s subscription: the accumulator, and the partial message on every failure."""

    __slots__ = ("_acc",)

    def __init__(self, observer: abc.ObserverBase[Message], partial_mode: PartialMode) -> None:
        acc = self._acc = MessageAccumulator(partial_mode=partial_mode)
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
            return self._acc.message(incomplete=True) if self._acc.started else None
        except RxClaudeError:
            return None

    def fail(self, error: Exception) -> None:
        if not self.stopped and isinstance(error, RxClaudeError) and getattr(error, "partial", None) is None:
            error.partial = self._partial()
        super().fail(error)

    def _incomplete(self) -> None:
        raise IncompleteStreamError("the stream ended before message_stop", partial=self._partial())


def blocks(*, partial_mode: PartialMode = "on") -> Callable[[Observable[Event]], Observable[ContentBlock]]:
    """Each content block, complete, at its ``content_block_stop``.

    Example:
        >>> events.pipe(ops.blocks()).subscribe(lambda b: print(b.type))  # doctest: +SKIP
    """

    def setup(observer: abc.ObserverBase[ContentBlock]) -> tuple[Callable[[Event], None], None]:
        acc = MessageAccumulator(partial_mode=partial_mode)
        emit = observer.on_next

        def on_next(event: Event) -> None:
            acc.feed(event)
            if type(event) is ContentBlockStopEvent:
                index = event.index
                if 0 <= index < len(acc.blocks):
                    emit(acc.blocks[index].build(None, partial_mode))

        return on_next, None

    return lift(setup)


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
