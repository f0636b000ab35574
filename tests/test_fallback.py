"""rxclaude.fallback: routes tried in order, hedging, losers closed, against several mock servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import rxclaude
from rxclaude import Route, fallback
from rxclaude.core.events import MessageStartEvent
from rxclaude.testing import MockServer, Reply

MESSAGES = [{"role": "user", "content": "Hi"}]
PARAMS = {"model": "claude-sonnet-5-5", "max_tokens": 64, "messages": MESSAGES}


@pytest.fixture
async def servers() -> AsyncIterator[tuple[MockServer, MockServer, MockServer]]:
    async with MockServer() as a, MockServer() as b, MockServer() as c:
        yield a, b, c


def client(server: MockServer) -> rxclaude.Client:
    return rxclaude.Client(api_key="sk-test", base_url=server.url, max_retries=0, open_telemetry=False)


async def test_falls_back_on_an_http_error_and_reports_each_attempt(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.error(529))
    b.enqueue(Reply.text("from b"))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([Route(ca, name="a"), Route(cb, name="b", model="claude-haiku-4-5")], **PARAMS)
        pieces: list[str] = []
        stream.text.subscribe(pieces.append)
        message = await stream.final_message()
    assert message.text == "from b" == "".join(pieces)
    assert message.model == "claude-haiku-4-5"  # the route's override
    assert b.last_request.json["model"] == "claude-haiku-4-5"
    first, second = stream.attempts
    assert (first.route.name, first.outcome, type(first.error)) == ("a", "failed", rxclaude.OverloadedError)
    assert (second.outcome, second.error) == ("won", None)
    assert stream.winner is not None and stream.winner.route.name == "b"
    assert stream.request_id == second.request_id == b.last_request.request_id
    assert second.first_content is not None and second.first_content >= second.started


async def test_an_in_stream_error_before_content_switches_and_keeps_the_usage(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.text("never", input_tokens=123).with_faults(error_after=1))  # message_start, then error
    b.enqueue(Reply.text("ok"))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], **PARAMS)
        events: list[object] = []
        stream.events.subscribe(events.append)
        assert await stream.final_text() == "ok"
    failed = stream.attempts[0]
    assert failed.outcome == "failed" and isinstance(failed.error, rxclaude.OverloadedError)
    assert failed.usage is not None and failed.usage.input_tokens == 123
    assert sum(isinstance(e, MessageStartEvent) for e in events) == 1  # only the winner's frames went on


async def test_all_routes_failing_raise_a_typed_error_with_every_cause(servers: tuple[MockServer, ...]) -> None:
    a, b, c = servers
    a.enqueue(Reply.error(529))
    b.enqueue(Reply.error(500))
    c.enqueue(Reply.text("x").with_faults(close_after=1))
    async with client(a) as ca, client(b) as cb, client(c) as cc:
        stream = fallback([ca, cb, cc], **PARAMS)
        with pytest.raises(rxclaude.RoutesExhaustedError) as info:
            await stream.final_message()
    kinds = [type(e) for e in info.value.errors]
    assert kinds == [rxclaude.OverloadedError, rxclaude.InternalServerError, rxclaude.IncompleteStreamError]
    assert info.value.__cause__ is info.value.errors[-1]
    assert [x.outcome for x in stream.attempts] == ["failed"] * 3


async def test_switch_on_can_refuse_to_switch(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.error(401))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], switch_on=lambda e: isinstance(e, rxclaude.OverloadedError), **PARAMS)
        with pytest.raises(rxclaude.AuthenticationError):
            await stream.final_message()
    assert b.requests == []


async def test_no_switch_after_content(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.text("one two three four five six").with_faults(error_after=5))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], **PARAMS)
        with pytest.raises(rxclaude.OverloadedError) as info:
            await stream.final_message()
    assert info.value.partial is not None and info.value.partial.text  # content had arrived
    assert b.requests == []
    assert stream.attempts[0].outcome == "won"


async def test_hedging_starts_the_next_route_and_closes_the_loser_at_once(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.text("slow", input_tokens=50).with_faults(stall_after=1, stall_seconds=60))
    b.enqueue(Reply.text("fast answer"))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], hedge_after=0.2, **PARAMS)
        assert await stream.final_text() == "fast answer"
        await a.wait_disconnect(timeout=10)  # the loser's connection was closed
    loser, winner = stream.attempts
    assert loser.outcome == "lost" and winner.outcome == "won"
    assert loser.usage is not None and loser.usage.input_tokens == 50  # its billed usage is reported
    assert loser.request_id == a.last_request.request_id
    assert winner.started >= 0.2
    assert ca.transport.open_requests == 0


async def test_hedging_does_not_start_a_route_when_the_first_is_quick(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], hedge_after=30, **PARAMS)
        assert await stream.final_text() == "Hi"  # the echo reply
    assert b.requests == [] and len(stream.attempts) == 1


async def test_a_hedge_failing_leaves_the_slow_route_to_win(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.text("slow but fine").with_faults(stall_after=1, stall_seconds=0.6))
    b.enqueue(Reply.error(529))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], hedge_after=0.1, **PARAMS)
        assert await stream.final_text() == "slow but fine"
    assert [x.outcome for x in stream.attempts] == ["won", "failed"]


async def test_cancelling_closes_every_running_route(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.text("x").with_faults(stall_after=1, stall_seconds=60))
    b.enqueue(Reply.text("y").with_faults(stall_after=1, stall_seconds=60))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], hedge_after=0.05, **PARAMS)
        stream.connect()
        await b.wait_requests(1)
        stream.cancel()
        await a.wait_disconnect(timeout=10)
        await b.wait_disconnect(timeout=10)
        with pytest.raises(rxclaude.StreamCancelledError):
            await stream.final_message()
    assert [x.outcome for x in stream.attempts] == ["cancelled", "cancelled"]


async def test_operators_and_sinks_see_a_normal_stream(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.error(503))
    b.enqueue(Reply.text("Let me check.", tool_uses=[{"name": "weather", "input": {"city": "Rome"}}]))
    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], **PARAMS)
        inputs: list[object] = []
        stream.tool_input.subscribe(lambda t: t.done and inputs.append(t.input))
        text = rxclaude.aiter(stream.text)
        async with stream:
            chunks = [c async for c in text]
            message = await stream.final_message()
    assert "".join(chunks) == "Let me check." == message.text
    assert inputs == [{"city": "Rome"}]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        fallback([], **PARAMS)
    c = rxclaude.Client(api_key="k", base_url="http://127.0.0.1:9", open_telemetry=False)
    with pytest.raises(ValueError):
        fallback([c], hedge_after=-1, **PARAMS)


async def test_a_finished_fallback_stream_is_freed_without_the_cyclic_gc(servers: tuple[MockServer, ...]) -> None:
    import gc
    import weakref

    a, b, _ = servers
    a.enqueue(Reply.error(529))
    async with client(a) as ca, client(b) as cb:
        gc.collect()
        gc.disable()
        try:

            async def run() -> weakref.ref[rxclaude.FallbackStream]:
                stream = fallback([ca, cb], **PARAMS)
                stream.text.subscribe(lambda t: None)
                await stream.final_message()
                return weakref.ref(stream)

            ref = await run()
            for _ in range(3):
                await asyncio.sleep(0)
            assert ref() is None
        finally:
            gc.enable()


async def test_a_switch_on_that_raises_ends_the_stream_with_its_error(servers: tuple[MockServer, ...]) -> None:
    a, b, _ = servers
    a.enqueue(Reply.error(529))

    def broken(error: Exception) -> bool:
        raise KeyError("bug")

    async with client(a) as ca, client(b) as cb:
        stream = fallback([ca, cb], switch_on=broken, **PARAMS)
        with pytest.raises(KeyError):
            await asyncio.wait_for(stream.final_message(), 10)
    assert b.requests == []


async def test_hedging_goes_on_route_by_route_until_one_sends_content(servers: tuple[MockServer, ...]) -> None:
    a, b, c = servers
    a.enqueue(Reply.text("a").with_faults(stall_after=1, stall_seconds=60))
    b.enqueue(Reply.text("b").with_faults(stall_after=1, stall_seconds=60))
    c.enqueue(Reply.text("third time lucky"))
    async with client(a) as ca, client(b) as cb, client(c) as cc:
        stream = fallback([ca, cb, cc], hedge_after=0.1, **PARAMS)
        assert await stream.final_text() == "third time lucky"
        await a.wait_disconnect(timeout=10)
        await b.wait_disconnect(timeout=10)
    assert [x.outcome for x in stream.attempts] == ["lost", "lost", "won"]
    first, second, third = (x.started for x in stream.attempts)
    assert first < second < third and third - first >= 0.2
