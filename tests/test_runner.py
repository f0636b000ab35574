"""client.messages.map: many requests, results as they complete, errors as values (rxclaude.runner)."""

from __future__ import annotations

import asyncio
from typing import Any

import rxclaude
from rxclaude import MessageStream, RunResult
from rxclaude.core.errors import BadRequestError
from rxclaude.testing import MockServer, Reply

MODEL = "claude-haiku-4-5"


def request(i: int, **extra: Any) -> dict[str, Any]:
    params = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": f"answer {i}"}], **extra}
    return {"custom_id": f"q{i}", "params": params}


def connect(server: MockServer) -> rxclaude.Client:
    return rxclaude.Client(api_key=server.api_key, base_url=server.url)


async def test_results_as_they_complete_with_their_ids() -> None:
    async with MockServer() as server, connect(server) as client:
        server.enqueue(Reply.text("slow").with_faults(headers_delay=0.3))  # q0 finishes last
        results = [r async for r in client.messages.map([request(i) for i in range(5)], concurrency=5)]
    assert [r.custom_id for r in results][-1] == "q0"
    assert {r.custom_id for r in results} == {f"q{i}" for i in range(5)}
    by_id = {r.custom_id: r for r in results}
    assert by_id["q0"].message is not None and by_id["q0"].message.text == "slow"
    assert by_id["q3"].message is not None and by_id["q3"].message.text == "answer 3"
    assert all(isinstance(r.stream, MessageStream) and r.ok for r in results)


async def test_errors_are_values_with_the_request_id() -> None:
    bad = request(1)
    del bad["params"]["max_tokens"]
    requests: list[Any] = [request(0), bad, {"custom_id": "q2"}, "not a request", request(0)]
    async with MockServer() as server, connect(server) as client:
        results = {r.custom_id: r async for r in client.messages.map(requests)}
    assert results["q0"].ok
    assert isinstance(results["q1"].error, BadRequestError) and "max_tokens" in str(results["q1"].error)
    assert isinstance(results["q2"].error, ValueError) and results["q2"].stream is None
    assert isinstance(results["#3"].error, ValueError)
    line = results["q1"].to_dict()
    assert line["custom_id"] == "q1" and line["result"]["type"] == "errored"
    assert line["result"]["error"]["error"]["type"] == "invalid_request_error"
    assert results["q0"].to_dict()["result"]["message"]["content"][0]["text"] == "answer 0"


async def test_the_duplicate_id_is_an_error_not_a_second_request() -> None:
    async with MockServer() as server, connect(server) as client:
        results = [r async for r in client.messages.map([request(0), request(0)])]
    assert sorted(r.ok for r in results) == [False, True]
    assert len(server.requests) == 1


async def test_on_start_sees_every_stream_before_it_starts() -> None:
    pieces: dict[str, list[str]] = {}

    def on_start(custom_id: str, stream: MessageStream) -> None:
        assert not stream.started
        pieces[custom_id] = []
        stream.text.subscribe(pieces[custom_id].append)

    async with MockServer() as server, connect(server) as client:
        results = [r async for r in client.messages.map([request(i) for i in range(3)], on_start=on_start)]
    assert {cid: "".join(p) for cid, p in pieces.items()} == {r.custom_id: r.message.text for r in results if r.message}


async def test_concurrency_bounds_requests_in_flight() -> None:
    peak = 0

    def on_start(custom_id: str, stream: MessageStream) -> None:
        nonlocal peak
        peak = max(peak, server.open_streams + 1)

    async with MockServer(default_reply=Reply.echo().with_faults(delay=0.01)) as server, connect(server) as client:
        results = [
            r async for r in client.messages.map([request(i) for i in range(10)], concurrency=2, on_start=on_start)
        ]
    assert all(r.ok for r in results) and peak <= 2


async def test_leaving_early_cancels_the_rest() -> None:
    slow = Reply.echo().with_faults(delay=0.2)
    async with MockServer(default_reply=slow) as server, connect(server) as client:
        server.enqueue(Reply.text("fast"))
        async for result in client.messages.map([request(i) for i in range(6)], concurrency=6):
            assert isinstance(result, RunResult)
            break
        await asyncio.sleep(0.05)
        assert client.transport.open_requests == 0
        await server.wait_idle(2.0)


async def test_lazy_input_is_pulled_as_results_come() -> None:
    pulled = 0

    def source() -> Any:
        nonlocal pulled
        for i in range(300):
            pulled += 1
            yield request(i)

    async with MockServer() as server, connect(server) as client:
        runner = client.messages.map(source(), concurrency=4)
        first = await anext(runner)
        assert first.ok and pulled <= 64 + 1
        rest = [r async for r in runner]
    assert len(rest) == 299


async def test_results_equal_sequential_runs() -> None:
    requests = [request(i) for i in range(20)]
    async with MockServer() as server, connect(server) as client:
        concurrent = {
            r.custom_id: r.message.content for r in [x async for x in client.messages.map(requests)] if r.message
        }
        sequential = {}
        for item in requests:
            message = await client.messages.create(**item["params"])
            sequential[item["custom_id"]] = message.content
    assert concurrent == sequential
