"""``MessageStream`` against the mock server: one request, many hot streams; start, cancel, late subscribers.

What a late subscriber sees (documented in :mod:`rxclaude.stream`): ``frames``, ``events``,
``text`` and the other derived streams are hot -- a subscriber gets only what arrives after it
subscribed, and one that comes after the end gets the end at once. ``message``,
``final_message()``, ``final_text()``, ``current_message`` and ``usage_so_far`` always cover the
whole response.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import rxclaude
from rxclaude import Client, Timeouts
from rxclaude.core.blocks import TextBlock, ThinkingBlock, ToolUseBlock
from rxclaude.core.citations import WebSearchResultLocation
from rxclaude.core.errors import OverloadedError, StreamCancelledError
from rxclaude.testing import MockServer, Reply, split_frames

KEY = "fake-key-test-stream-0123456789"
MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
FIXTURES = Path(__file__).parent / "fixtures"
CITATIONS = FIXTURES / "web-search-citations-sonnet4.sse"
SLOW = Reply.text([f"tok{i} " for i in range(200)]).with_faults(tokens_per_second=40)
RICH = Reply.text(
    ["Let me ", "check ", "the weather."],
    thinking=["The user ", "wants ", "weather."],
    tool_uses=[{"name": "weather", "input": {"city": "Rome", "days": [1, 2]}}],
    input_tokens=21,
    output_tokens=42,
    seed=3,
)

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float = 10.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


async def until(predicate: Any, seconds: float = 10.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await within(poll(), seconds)


async def no_tasks(client: Client) -> None:
    await until(lambda: client.transport.open_requests == 0, 5.0)


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[Client]:
    async with Client(api_key=KEY, base_url=server.url) as c:
        yield c


NAMES = (
    "frames",
    "events",
    "text",
    "thinking",
    "tool_input",
    "citations",
    "blocks",
    "usage",
    "snapshots",
    "stop_reason",
    "message",
)


def subscribe_all(stream: rxclaude.MessageStream) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    values: dict[str, list[Any]] = {}
    ends: dict[str, Any] = {}
    for name in NAMES:
        values[name] = []
        getattr(stream, name).subscribe(
            values[name].append,
            lambda e, name=name: ends.__setitem__(name, e),
            lambda name=name: ends.__setitem__(name, "completed"),
        )
    return values, ends


# -- one request, every stream ------------------------------------------------------------------


async def test_one_request_feeds_every_stream(server: MockServer, client: Client) -> None:
    server.enqueue(RICH)
    stream = client.messages.stream(**PARAMS)
    values, ends = subscribe_all(stream)
    message = await within(stream.final_message())

    assert len(server.requests) == 1
    assert ends == dict.fromkeys(NAMES, "completed")
    expected = RICH.message(PARAMS)
    assert message.to_dict()["content"][0]["thinking"] == expected["content"][0]["thinking"]
    assert [f.event for f in values["frames"]] == [
        f.split(b"\n", 1)[0].removeprefix(b"event: ").decode() for f in RICH.frames(PARAMS)
    ]
    assert len(values["events"]) == len(values["frames"])
    assert values["events"][0].type == "message_start" and values["events"][-1].type == "message_stop"
    assert values["text"] == ["Let me ", "check ", "the weather."]
    assert values["thinking"] == ["The user ", "wants ", "weather."]
    tool = values["tool_input"]
    assert tool[-1].done and tool[-1].name == "weather" and tool[-1].input == {"city": "Rome", "days": [1, 2]}
    assert all(not t.done for t in tool[:-1]) and len({t.index for t in tool}) == 1
    assert values["citations"] == []
    blocks = values["blocks"]
    assert [type(b) for b in blocks] == [ThinkingBlock, TextBlock, ToolUseBlock]
    assert blocks[1].text == "Let me check the weather." and blocks[0].thinking == "The user wants weather."
    assert blocks[2].input == {"city": "Rome", "days": [1, 2]} and blocks[2].name == "weather"
    assert values["usage"][0].input_tokens == 21
    assert values["usage"][-1].output_tokens == 42 and values["usage"][-1] == message.usage
    assert len(values["snapshots"]) == len(values["events"])
    assert values["snapshots"][-1].text == message.text
    assert values["stop_reason"] == ["tool_use"]
    assert values["message"] == [message]

    assert message.text == "Let me check the weather."
    assert message.thinking == "The user wants weather."
    assert message.tool_uses[0].input == {"city": "Rome", "days": [1, 2]}
    assert message.stop_reason == "tool_use" and not message.incomplete
    assert message.to_dict() == expected  # the mock's own accumulation of the same frames
    assert await within(stream.final_text()) == message.text


async def test_citations_from_a_recorded_stream(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.from_sse(CITATIONS))
    stream = client.messages.stream(**PARAMS)
    values, ends = subscribe_all(stream)
    message = await within(stream.final_message())

    assert ends["citations"] == "completed"
    citations = values["citations"]
    assert len(citations) == 7
    assert all(isinstance(c, WebSearchResultLocation) for c in citations)
    assert citations[0].url == "https://worldpopulationreview.com/cities/japan/tokyo"
    in_message = [c for b in message.content if isinstance(b, TextBlock) for c in (b.citations or ())]
    assert in_message == citations
    assert len(values["frames"]) == len(split_frames(CITATIONS.read_bytes()))
    assert message.id == "msg_019wEazncxZZExmW7sTECaeK" and message.stop_reason == "end_turn"
    assert message.text.startswith("Based on the search results, the current population of Tokyo")
    assert len(message.text) == 1122
    assert message.usage.input_tokens == 13520 and message.usage.output_tokens == 415
    assert values["tool_input"][-1].input == {"query": "Tokyo population 2026 current"}
    assert values["stop_reason"] == ["end_turn"]


async def test_response_metadata(server: MockServer, client: Client) -> None:
    server.enqueue(
        Reply.text("hi").with_headers(
            {
                "anthropic-ratelimit-requests-remaining": "49",
                "anthropic-ratelimit-tokens-limit": "80000",
                "retry-after": "7",
            }
        )
    )
    stream = client.messages.stream(**PARAMS)
    assert stream.request_id is None and stream.status is None and stream.rate_limits is None
    await within(stream.final_message())
    record = server.requests[0]
    assert stream.request_id == record.request_id and stream.request_id.startswith("req_")
    assert stream.status == 200
    assert stream.headers["Request-Id"] == record.request_id  # case-insensitive
    assert stream.headers["content-type"].startswith("text/event-stream")
    limits = stream.rate_limits
    assert limits is not None
    assert limits.requests.remaining == 49 and limits.tokens.limit == 80000
    assert limits.requests.reset is not None  # the mock's RFC 3339 reset time
    assert limits.retry_after == 7.0 and stream.retry_after == 7.0
    assert stream.response is not None and stream.response.retries == 0
    assert record.request_id in repr(stream)


# -- starting -----------------------------------------------------------------------------------


async def test_nothing_is_sent_until_started(server: MockServer, client: Client) -> None:
    stream = client.messages.stream(**PARAMS)
    stream.text.subscribe(lambda _: None)
    await asyncio.sleep(0.05)
    assert server.requests == [] and not stream.started and not stream.done
    assert stream.current_message is None and stream.usage_so_far is None
    assert stream.connect() is stream and stream.connect() is stream  # once
    assert stream.started
    await within(stream.final_message())
    assert len(server.requests) == 1 and stream.done


@pytest.mark.parametrize("how", ["connect", "async_with", "final_message", "final_text", "await"])
async def test_ways_to_start(server: MockServer, client: Client, how: str) -> None:
    server.enqueue(Reply.text("started"))
    stream = client.messages.stream(**PARAMS)
    if how == "connect":
        stream.connect()
        await within(stream.wait())
        text = (await stream.final_message()).text
    elif how == "async_with":
        async with stream as s:
            assert s is stream and stream.started
            text = await within(s.final_text())
    elif how == "final_message":
        text = (await within(stream.final_message())).text
    elif how == "final_text":
        text = await within(stream.final_text())
    else:
        text = (await within(stream)).text
    assert text == "started"
    assert len(server.requests) == 1


# -- late subscribers ---------------------------------------------------------------------------


async def test_late_subscribers_see_only_later_values(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text([f"t{i} " for i in range(60)]).with_faults(tokens_per_second=100))
    stream = client.messages.stream(**PARAMS)
    early: list[str] = []
    late: list[str] = []
    stream.text.subscribe(early.append)
    stream.connect()
    await until(lambda: len(early) >= 5)
    stream.text.subscribe(late.append)
    message = await within(stream.final_message())

    assert "".join(early) == message.text  # subscribed before the start: everything
    assert 0 < len(late) < len(early)
    assert early[-len(late) :] == late  # the late one: a suffix, nothing replayed

    # after the end: hot streams end at once, ``message`` and ``final_message()`` stay whole
    after: list[Any] = []
    ended: list[str] = []
    stream.text.subscribe(after.append, on_completed=lambda: ended.append("text"))
    stream.events.subscribe(after.append, on_completed=lambda: ended.append("events"))
    got: list[rxclaude.Message] = []
    stream.message.subscribe(got.append, on_completed=lambda: ended.append("message"))
    assert after == [] and ended == ["text", "events", "message"]
    assert got == [message]
    assert await within(stream.final_message()) == message
    assert stream.current_message == message and stream.usage_so_far == message.usage
    assert len(server.requests) == 1


# -- cancellation: the connection closes, the partial stays -------------------------------------


async def _started(server: MockServer, stream: rxclaude.MessageStream, texts: list[str], n: int = 5) -> None:
    await until(lambda: len(texts) >= n)
    assert server.requests[-1].disconnected is False


async def _assert_cancelled(
    server: MockServer, client: Client, stream: rxclaude.MessageStream, texts: list[str]
) -> None:
    await server.requests[-1].wait_disconnected(5)  # the server saw the TCP connection close
    await no_tasks(client)
    assert stream.cancelled and stream.done
    partial = stream.current_message
    assert partial is not None and partial.incomplete and partial.stop_reason is None
    assert partial.text == "".join(texts) != ""
    usage = stream.usage_so_far
    assert usage is not None and (usage.input_tokens or 0) > 0
    with pytest.raises(StreamCancelledError) as info:
        await within(stream.final_message())
    assert info.value.partial == partial and info.value.partial.incomplete
    assert info.value.partial.text == "".join(texts)
    count = len(texts)
    await asyncio.sleep(0.05)
    assert len(texts) == count  # nothing after the cancel
    assert not server.requests[-1].completed


async def test_cancel(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    ends: list[str] = []
    stream.text.subscribe(texts.append, lambda e: ends.append(repr(e)), lambda: ends.append("completed"))
    stream.connect()
    await _started(server, stream, texts)
    stream.cancel()
    assert ends == ["completed"]  # derived streams complete, they do not fail
    await _assert_cancelled(server, client, stream, texts)
    stream.cancel()  # idempotent


async def test_leaving_async_with_cancels(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    texts: list[str] = []
    async with client.messages.stream(**PARAMS) as stream:
        stream.text.subscribe(texts.append)
        await _started(server, stream, texts)
    await _assert_cancelled(server, client, stream, texts)


async def test_leaving_async_with_on_error_cancels(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    texts: list[str] = []
    with pytest.raises(KeyError):
        async with client.messages.stream(**PARAMS) as stream:
            stream.text.subscribe(texts.append)
            await _started(server, stream, texts)
            raise KeyError("user code failed")
    await _assert_cancelled(server, client, stream, texts)


async def test_disposing_the_last_subscription_cancels(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    usages: list[Any] = []
    a = stream.text.subscribe(texts.append)
    b = stream.usage.subscribe(usages.append)
    stream.connect()
    await _started(server, stream, texts)
    b.dispose()
    await asyncio.sleep(0.05)
    assert not stream.cancelled and not server.requests[-1].disconnected  # one still listens
    a.dispose()
    a.dispose()
    await _assert_cancelled(server, client, stream, texts)


async def test_the_last_subscriber_raising_leaves_and_cancels(server: MockServer, client: Client) -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        server.enqueue(SLOW)
        stream = client.messages.stream(**PARAMS)
        texts: list[str] = []
        errors: list[Exception] = []

        def bad(piece: str) -> None:
            texts.append(piece)
            if len(texts) == 5:
                raise ValueError("bug in the only callback")

        stream.text.subscribe(bad, errors.append)
        stream.connect()
        await until(lambda: len(texts) >= 5)
        await _assert_cancelled(server, client, stream, texts)  # nobody listens any more: stop billing
        assert [str(e) for e in errors] == ["bug in the only callback"]
        assert [type(c["exception"]) for c in reported] == [ValueError]
    finally:
        loop.set_exception_handler(None)


async def test_disposing_while_final_message_is_awaited_does_not_cancel(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text([f"t{i} " for i in range(30)]).with_faults(tokens_per_second=200))
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    sub = stream.text.subscribe(texts.append)
    final = asyncio.ensure_future(stream.final_message())
    await until(lambda: len(texts) >= 3)
    sub.dispose()
    message = await within(final)
    assert not stream.cancelled and not message.incomplete
    assert message.text == "".join(f"t{i} " for i in range(30))


async def test_take_then_dispose_cancels(server: MockServer, client: Client) -> None:
    from reactivex import operators as rx_ops

    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    stream.text.pipe(rx_ops.take(4)).subscribe(texts.append)
    stream.connect()
    await server.wait_requests(1)
    await server.requests[-1].wait_disconnected(5)  # take(4) completing disposes the last subscriber
    assert texts == ["tok0 ", "tok1 ", "tok2 ", "tok3 "]
    assert stream.cancelled
    await no_tasks(client)


async def test_cancel_before_start_sends_nothing(server: MockServer, client: Client) -> None:
    stream = client.messages.stream(**PARAMS)
    stream.cancel()
    with pytest.raises(StreamCancelledError) as info:
        await within(stream.final_message())
    assert info.value.partial is None
    assert not stream.started and stream.cancelled
    await asyncio.sleep(0.05)
    assert server.requests == []


async def test_cancel_after_the_end_changes_nothing(server: MockServer, client: Client) -> None:
    stream = client.messages.stream(**PARAMS)
    message = await within(stream.final_message())
    stream.cancel()
    assert not stream.cancelled
    assert await stream.final_message() == message
    await no_tasks(client)


# -- errors reach every subscriber ---------------------------------------------------------------


async def test_mid_stream_error_reaches_subscribers(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text([f"w{i} " for i in range(20)]).with_faults(error_after=9), Reply.text("again"))
    stream = client.messages.stream(**PARAMS)
    values, ends = subscribe_all(stream)
    with pytest.raises(OverloadedError) as info:
        await within(stream.final_message())
    error = info.value
    for name in ("frames", "events", "text", "usage", "message", "snapshots"):
        assert ends[name] is error, name
    assert error.partial.text == "".join(values["text"]) and error.partial.incomplete
    assert values["message"] == []
    assert len(server.requests) == 1
    assert stream.done and not stream.cancelled
    await no_tasks(client)


# -- async iteration (rxclaude.aiter, written elsewhere) ------------------------------------------


async def test_async_for_over_text_with_early_break(server: MockServer, client: Client) -> None:
    module = pytest.importorskip("rxclaude.operators.buffering")
    to_aiter = getattr(rxclaude, "aiter", None) or getattr(importlib.import_module(module.__name__), "aiter", None)
    if to_aiter is None:
        pytest.skip("rxclaude.aiter is not there yet")
    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    iterator = to_aiter(stream.text)
    stream.connect()
    got: list[str] = []
    closing = contextlib.aclosing(iterator) if hasattr(iterator, "aclose") else contextlib.nullcontext(iterator)
    async with closing as it:
        async for piece in it:
            got.append(piece)
            if len(got) == 3:
                break
    assert got == ["tok0 ", "tok1 ", "tok2 "]
    await server.wait_requests(1)
    await server.requests[-1].wait_disconnected(5)  # the break disposed the last subscription
    assert stream.cancelled
    await no_tasks(client)


async def test_a_cancelled_await_that_was_the_last_listener_cancels(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stream.final_message(), 0.2)
    await server.requests[-1].wait_disconnected(5)
    assert stream.cancelled and stream.current_message is not None and stream.current_message.incomplete
    await no_tasks(client)


async def test_a_cancelled_await_does_not_cancel_while_others_listen(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text([f"t{i} " for i in range(30)]).with_faults(tokens_per_second=100))
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    stream.text.subscribe(texts.append)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stream.final_message(), 0.05)
    assert not stream.cancelled
    message = await within(asyncio.shield(stream.final_message()))
    assert message.text == "".join(texts) and not message.incomplete


# -- a misbehaving subscriber breaks neither the stream nor the others ----------------------------


async def test_cancel_never_raises_into_the_caller(server: MockServer, client: Client) -> None:
    server.enqueue(SLOW)
    stream = client.messages.stream(**PARAMS)
    texts: list[str] = []
    stream.message.subscribe(lambda m: None)  # no on_error: reactivex would re-raise
    stream.text.subscribe(texts.append)
    stream.connect()
    await until(lambda: len(texts) >= 2)
    stream.cancel()  # must not raise StreamCancelledError here
    with pytest.raises(StreamCancelledError):
        await within(stream.final_message())
    await server.requests[-1].wait_disconnected(5)


async def test_unhandled_mid_stream_error_still_ends_final_message(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text([f"w{i} " for i in range(20)]).with_faults(error_after=6))
    stream = client.messages.stream(**PARAMS)
    stream.message.subscribe(lambda m: None)  # no on_error anywhere
    stream.text.subscribe(lambda t: None)
    stream.events.subscribe(lambda e: None)
    with pytest.raises(OverloadedError):
        await within(stream.final_message())
    await no_tasks(client)


async def test_a_raising_callback_ends_only_its_subscriber(server: MockServer, client: Client) -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        server.enqueue(Reply.text(["a", "b", "c", "d"]))
        stream = client.messages.stream(**PARAMS)
        bad_errors: list[Exception] = []

        def bad(piece: str) -> None:
            if piece == "b":
                raise ValueError("bug in a callback")

        stream.text.subscribe(bad, bad_errors.append)
        stream.text.subscribe(bad)  # the same bug, unhandled: reported, not raised into the stream
        event_errors: list[Exception] = []

        def bad_event(event: Any) -> None:
            if event.type == "content_block_delta":
                raise KeyError("bug in an event callback")

        stream.events.subscribe(bad_event, event_errors.append)  # raw subscriber: ended and reported
        good: list[str] = []
        stream.text.subscribe(good.append)
        message = await within(stream.final_message())
        assert good == ["a", "b", "c", "d"] and message.text == "abcd"
        assert [str(e) for e in bad_errors] == ["bug in a callback"]
        assert [type(e) for e in event_errors] == [KeyError]
        # every subscriber whose on_next raised is reported (never silent), handled or not
        assert sorted(type(c["exception"]).__name__ for c in reported) == ["KeyError", "ValueError", "ValueError"]
        assert not stream.cancelled and len(server.requests) == 1
    finally:
        loop.set_exception_handler(None)


# -- memory: a finished stream is freed by reference counting, without waiting for the GC ---------


@pytest.mark.parametrize(
    "ending", ["completed", "cancelled", "cancelled by a callback", "error event", "malformed", "reset", "stalled"]
)
async def test_a_finished_stream_is_freed_at_once(server: MockServer, client: Client, ending: str) -> None:
    """No reference cycle keeps a finished stream (and its whole message) alive until a full
    garbage collection: in a long-running service that would hold every recent answer. Also a
    failed one, which keeps its error, as long as the error was not raised through a frame that
    holds the stream (an ``await stream.final_message()`` next to a ``stream`` variable: then,
    as with any exception an asyncio future keeps, the cyclic GC frees it).
    """
    import gc
    import weakref

    reply = Reply.text([f"t{i} " for i in range(50)])
    faults = {
        "error event": {"error_after": 10},
        "malformed": {"malformed_after": 10},
        "reset": {"reset_after_bytes": 3000},
        "stalled": {"stall_after": 10},
    }
    server.enqueue(reply.with_faults(**faults[ending]) if ending in faults else reply)
    if ending == "stalled":
        client.timeouts = Timeouts(idle=0.2)
    gc.collect()
    gc.disable()
    try:

        async def run() -> weakref.ref[rxclaude.MessageStream]:
            stream = client.messages.stream(**PARAMS)
            texts: list[str] = []
            stream.text.subscribe(texts.append, lambda e: None)
            stream.usage.subscribe(lambda u: None, lambda e: None)
            stream.blocks.subscribe(lambda b: None, lambda e: None)
            if ending == "cancelled":
                stream.connect()
                await until(lambda: len(texts) >= 3)
                stream.cancel()
            elif ending == "cancelled by a callback":  # from inside the request's own task
                stream.text.subscribe(lambda t: stream.cancel() if len(texts) >= 3 else None)
            if ending == "completed":
                await within(stream.final_message())
            else:
                await within(stream.wait())  # (a cancel may come after the last word: no error then)
                assert isinstance(stream.error, rxclaude.RxClaudeError) or ending.startswith("cancelled")
            return weakref.ref(stream)

        ref = await run()
        await no_tasks(client)
        await asyncio.sleep(0)
        assert ref() is None
    finally:
        gc.enable()
