"""MessageStream edge cases: re-entrant subscribers, leaving at the end, odd data, display.

A controllable source stands in for the request (like the transport, subscribing only registers
the observer), so each case drives the frames one by one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from reactivex import abc
from reactivex import operators as rx
from reactivex.disposable import Disposable

import rxclaude
from rxclaude.core.errors import MalformedEventError, OverloadedError, StreamCancelledError
from rxclaude.core.frame import Frame
from rxclaude.plumbing import DirectObservable
from rxclaude.transport.http import _pushing


def frame(d: dict[str, Any]) -> Frame:
    return Frame(str(d["type"]), json.dumps(d))


START = frame(
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    }
)
BLOCK = frame({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
END_BLOCK = frame({"type": "content_block_stop", "index": 0})
DELTA = frame(
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }
)
STOP = frame({"type": "message_stop"})


def text(piece: Any) -> Frame:
    return frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})


class Source:
    """Like the transport's request: subscribing registers the observer, nothing more."""

    def __init__(self) -> None:
        self.observer: Any = None
        self.disposed = 0

        def subscribe(observer: abc.ObserverBase[Frame], scheduler: Any = None) -> abc.DisposableBase:
            self.observer = observer
            return Disposable(self._dispose)

        self.observable: DirectObservable[Frame] = DirectObservable(subscribe)

    def _dispose(self) -> None:
        self.disposed += 1

    def send(self, *frames: Frame) -> None:
        for f in frames:
            self.observer.on_next(f)


WHOLE = (START, BLOCK, text("hi"), END_BLOCK, DELTA, STOP)


async def test_a_frames_subscriber_leaving_at_message_stop_does_not_cancel_the_message() -> None:
    source = Source()
    stream = rxclaude.MessageStream(source.observable)
    seen: list[tuple[str, Any]] = []

    def look(f: Frame) -> None:  # the stream has taken the frame in before anyone sees it
        current = stream.usage_so_far
        seen.append((f.event, current.output_tokens if current else None))

    stream.frames.pipe(rx.take_while(lambda f: f.event != "message_stop", inclusive=True)).subscribe(look)
    stream.connect()
    source.send(*WHOLE)
    message = await asyncio.wait_for(stream.final_message(), 5)
    assert message.text == "hi" and not stream.cancelled and source.disposed == 0
    assert seen[0] == ("message_start", 1) and ("message_delta", 5) in seen


async def test_a_subscriber_disposed_by_another_gets_nothing_more() -> None:
    source = Source()
    stream = rxclaude.MessageStream(source.observable)
    subscriptions: dict[str, abc.DisposableBase] = {}
    got: list[str] = []
    ends: list[str] = []

    def first(piece: str) -> None:
        if piece == "b":
            subscriptions["second"].dispose()  # during the delivery of "b"

    subscriptions["first"] = stream.text.subscribe(first, None, lambda: subscriptions["third"].dispose())
    subscriptions["second"] = stream.text.subscribe(got.append)
    subscriptions["third"] = stream.text.subscribe(None, None, lambda: ends.append("third"))
    stream.connect()
    source.send(START, BLOCK, text("a"), text("b"), text("c"))
    stream.cancel()
    assert got == ["a"]
    assert ends == []  # disposed during the end by an earlier subscriber: no end either


async def test_a_callback_that_cancels_then_raises_gets_one_end() -> None:
    reported: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["exception"]))
    try:
        source = Source()
        stream = rxclaude.MessageStream(source.observable)
        log: list[Any] = []

        def bad(piece: str) -> None:
            stream.cancel()
            raise ValueError("after cancelling")

        stream.text.subscribe(bad, lambda e: log.append(type(e).__name__), lambda: log.append("completed"))
        stream.connect()
        source.send(START, BLOCK, text("a"))
        assert log == ["completed"]
        assert [type(e) for e in reported] == [ValueError]  # the bug is still reported
        with pytest.raises(StreamCancelledError):
            await stream.final_message()
    finally:
        loop.set_exception_handler(None)


async def test_text_that_is_not_a_string_is_a_malformed_event_and_the_stream_ends() -> None:
    source = Source()
    stream = rxclaude.MessageStream(source.observable)
    stream.events.subscribe(lambda e: None, lambda e: None)  # the typed route
    stream.connect()
    source.send(START, BLOCK, text(5))
    with pytest.raises(MalformedEventError, match=r"string delta\.text"):
        await asyncio.wait_for(stream.final_message(), 5)


async def test_an_in_stream_error_keeps_the_partial_and_ends_every_stream() -> None:
    source = Source()
    stream = rxclaude.MessageStream(source.observable)
    texts: list[str] = []
    stream.text.subscribe(texts.append, lambda e: texts.append(type(e).__name__))
    stream.connect()
    source.send(
        START,
        BLOCK,
        text("a"),
        frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
    with pytest.raises(OverloadedError) as info:
        await asyncio.wait_for(stream.final_message(), 5)
    assert info.value.partial is not None and info.value.partial.text == "a"
    assert texts == ["a", "OverloadedError"]


def test_connect_from_a_callback_while_subscribing_is_harmless() -> None:
    class Eager(DirectObservable[Frame]):
        """A source that emits while being subscribed (a callback reconnects meanwhile)."""

    def subscribe(observer: abc.ObserverBase[Frame], scheduler: Any = None) -> abc.DisposableBase:
        observer.on_next(START)
        return Disposable()

    stream = rxclaude.MessageStream(Eager(subscribe))
    stream.frames.subscribe(lambda f: stream.connect())
    stream.connect()
    assert stream.started and stream.usage_so_far is not None


def test_displaying_a_stream_without_a_running_loop_leaves_it_alone(capsys: pytest.CaptureFixture[str]) -> None:
    stream = rxclaude.MessageStream(Source().observable)
    stream._ipython_display_()
    assert not stream.started and not stream.done
    assert "<MessageStream not started" in capsys.readouterr().out


def test_a_decoder_with_feed_only_still_works_in_the_transport() -> None:
    class FeedOnly:
        def feed(self, data: bytes) -> list[Frame]:
            return rxclaude.SSEDecoder().feed(data)

        def close(self) -> list[Frame]:
            return []

    seen: list[Frame] = []
    _pushing(FeedOnly(), seen.append)(b"event: ping\ndata: {}\n\n")
    assert seen == [Frame("ping", "{}")]
