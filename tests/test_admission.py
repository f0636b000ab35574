"""Admission control against the mock server enforcing the API's limits (rxclaude.admission, testing.limits)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

import rxclaude
from rxclaude import Admission, BudgetSnapshot, Limits
from rxclaude.core.errors import OverloadedError, RateLimitError
from rxclaude.testing import MockLimits, MockServer, Reply

MODEL = "claude-sonnet-4-6"


def params(i: int, max_tokens: int = 200) -> dict[str, object]:
    return {"model": MODEL, "max_tokens": max_tokens, "messages": [{"role": "user", "content": f"prompt {i} " * 5}]}


def connect(server: MockServer, admission: Admission | None = None) -> rxclaude.Client:
    return rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission)


def requests(n: int, max_tokens: int = 200) -> list[dict[str, object]]:
    return [{"custom_id": f"r{i}", "params": params(i, max_tokens)} for i in range(n)]


async def test_the_mock_refuses_over_the_limit_with_retry_after_and_headers() -> None:
    limits = MockLimits(Limits(requests=3, input_tokens=100_000, output_tokens=100_000), period=60.0)
    async with MockServer(limits=limits) as server, aiohttp.ClientSession() as http:
        statuses, bodies = [], []
        for i in range(4):
            async with http.post(
                f"{server.url}/v1/messages", json=params(i) | {"stream": False}, headers=server.headers()
            ) as r:
                statuses.append(r.status)
                bodies.append((r.headers.copy(), await r.json()))
    assert statuses == [200, 200, 200, 429]
    first, refused = bodies[0][0], bodies[3]
    assert first["anthropic-ratelimit-requests-limit"] == "3"
    assert first["anthropic-ratelimit-requests-remaining"] == "2"
    assert first["anthropic-ratelimit-output-tokens-remaining"] == "100000"  # 200 reserved, then refunded
    assert first["anthropic-ratelimit-tokens-limit"] == "100000"
    assert first["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert refused[0]["retry-after"] == "20"  # one request refills in 60 / 3 seconds
    assert refused[1]["error"]["type"] == "rate_limit_error"
    assert "3 requests per minute" in refused[1]["error"]["message"]
    assert limits.rate_limited == 1 and limits.admitted == 3


async def test_the_mock_reserves_max_tokens_and_refunds_at_message_delta() -> None:
    limits = MockLimits(Limits(output_tokens=1_000), period=60.0, round_tokens=1)
    async with MockServer(limits=limits) as server, aiohttp.ClientSession() as http:
        server.enqueue(Reply.text("a b c", output_tokens=3).with_faults(delay=0.05))
        async with http.post(
            f"{server.url}/v1/messages", json=params(0, 900) | {"stream": True}, headers=server.headers()
        ) as r:
            assert int(r.headers["anthropic-ratelimit-output-tokens-remaining"]) <= 100
            await r.read()
        async with http.post(
            f"{server.url}/v1/messages", json=params(1, 900) | {"stream": False}, headers=server.headers()
        ) as r:
            assert r.status == 200  # the 897 unused tokens came back
    assert limits.output_tokens > 3


async def test_the_mock_rounds_token_headers_to_thousands() -> None:
    limits = MockLimits(Limits(input_tokens=50_000), period=60.0)
    async with (
        MockServer(limits=limits) as server,
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/v1/messages", json=params(0) | {"stream": False}, headers=server.headers()) as r,
    ):
        assert r.headers["anthropic-ratelimit-input-tokens-remaining"] == "50000"  # 49,98x rounded


async def test_plain_concurrency_meets_429s_and_admission_meets_none() -> None:
    limits = MockLimits(Limits(requests=600, input_tokens=200_000, output_tokens=2_400), period=6.0, round_tokens=1)
    async with MockServer(limits=limits, default_reply=Reply.echo().with_faults(delay=0.02)) as server:
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, max_retries=0) as plain:
            outcomes = await asyncio.gather(
                *(plain.messages.create(**params(i)) for i in range(30)), return_exceptions=True
            )
        refused = sum(isinstance(o, RateLimitError) for o in outcomes)
        assert refused > 0 and limits.rate_limited == refused

        limits.rate_limited = 0
        await asyncio.sleep(6.0 * 2_400 / 2_400)  # let the buckets fill again
        admission = Admission(Limits(600, 200_000, 2_400), period=6.0, token_rounding=1)
        snapshots: list[BudgetSnapshot] = []
        admission.state.subscribe(snapshots.append)
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            texts = {}
            async for result in client.messages.map(requests(30)):
                assert result.ok, result.error
                assert result.message is not None
                texts[result.custom_id] = result.message.text
    assert limits.rate_limited == 0, [r.json for r in server.requests if r.status == 429][:1]
    assert texts == {f"r{i}": (f"prompt {i} " * 5) for i in range(30)}
    budget = admission.budgets["sonnet"]
    assert budget.rate_limited_count == 0 and budget.in_flight == 0 and budget.admitted == 30
    assert snapshots and all(s.model_class == "sonnet" for s in snapshots)
    assert min(s.available["output_tokens"] for s in snapshots) < 200  # it did run the bucket down
    assert max(s.in_flight for s in snapshots) > 1


async def test_limits_are_learnt_from_the_headers() -> None:
    limits = MockLimits(Limits(requests=1_000, input_tokens=100_000, output_tokens=1_500), period=3.0, round_tokens=1)
    admission = Admission(period=3.0, token_rounding=1)
    async with MockServer(limits=limits) as server, connect(server, admission) as client:
        results = [r async for r in client.messages.map(requests(20))]
    assert all(r.ok for r in results)
    assert limits.rate_limited == 0
    budget = admission.budgets["sonnet"]
    assert budget.learnt and budget.buckets["output_tokens"].capacity == 1_500


async def test_a_429_drains_until_retry_after_then_the_request_runs() -> None:
    # The admission believes in more than the server grants: the server's 429s teach it.
    limits = MockLimits(Limits(requests=2), period=2.0)
    admission = Admission(Limits(100, 1_000_000, 1_000_000), period=2.0, max_retries=10)
    async with MockServer(limits=limits) as server, connect(server, admission) as client:
        results = [r async for r in client.messages.map(requests(4))]
    assert all(r.ok for r in results), [r.error for r in results]
    budget = admission.budgets["sonnet"]
    assert budget.rate_limited_count >= 1
    assert limits.rate_limited == budget.rate_limited_count
    retried = [r for r in server.requests if r.status == 429]
    assert retried and all(r.json["stream"] is True for r in retried)


async def test_overloads_back_off_and_retry() -> None:
    admission = Admission(Limits(100, 1_000_000, 1_000_000), overload_backoff=0.05)
    async with MockServer() as server:
        server.enqueue(Reply.error(529), Reply.error(529))
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            message = await client.messages.create(**params(0))
    assert message.text == "prompt 0 " * 5
    assert admission.budgets["sonnet"].overload_count == 2
    assert len(server.requests) == 3  # the transport did not retry them itself


async def test_an_in_stream_overload_is_counted_and_delivered() -> None:
    admission = Admission(Limits(100, 1_000_000, 1_000_000), overload_backoff=0.05)
    async with MockServer() as server:
        server.enqueue(Reply.text("partial answer").with_faults(error_after=4))
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            with pytest.raises(OverloadedError):
                await client.messages.create(**params(0))
    budget = admission.budgets["sonnet"]
    assert budget.overload_count == 1 and budget.in_flight == 0


async def test_the_concurrency_cap_holds() -> None:
    admission = Admission(Limits(1_000, 1_000_000, 1_000_000), max_concurrency=3)
    peak = 0
    async with MockServer(default_reply=Reply.echo().with_faults(delay=0.01)) as server:

        def watch(snapshot: BudgetSnapshot) -> None:
            nonlocal peak
            peak = max(peak, server.open_streams)

        admission.state.subscribe(watch)
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            results = [r async for r in client.messages.map(requests(12))]
    assert all(r.ok for r in results)
    assert 1 <= peak <= 3


async def test_cancelling_a_waiting_stream_gives_its_place_back() -> None:
    admission = Admission(Limits(1, 1_000_000, 1_000_000), period=60.0)
    async with MockServer(rate_limit_headers=False) as server, connect(server, admission) as client:
        await client.messages.create(**params(0))
        waiting = client.messages.stream(**params(1)).connect()
        await asyncio.sleep(0.05)
        assert admission.budgets["sonnet"].waiting == 1
        waiting.cancel()
        await asyncio.sleep(0)
    budget = admission.budgets["sonnet"]
    assert budget.waiting == 0 and budget.in_flight == 0
    assert len(server.requests) == 1


async def test_count_tokens_can_size_the_input() -> None:
    async with MockServer() as server, rxclaude.Client(api_key=server.api_key, base_url=server.url) as counter:
        admission = Admission(
            Limits(100, 10_000, 100_000),
            count_tokens=lambda p: counter.messages.count_tokens(**p),
            token_rounding=1,
        )
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            await client.messages.create(**params(0))
        counted = await counter.messages.count_tokens(**params(0))
    assert [r.path for r in server.requests].count("/v1/messages/count_tokens") == 2
    ticket_cost = admission.budgets["sonnet"].buckets["input_tokens"]
    assert ticket_cost.capacity - ticket_cost.level < counted + 50


async def test_under_admission_a_stream_keeps_the_lean_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Admission sits between the stream and the transport without costing a Frame per delta."""
    from typing import Any

    import rxclaude.core.parse as parse_module
    import rxclaude.core.sse as sse_module
    import rxclaude.stream as stream_module
    from rxclaude.core.events import ContentBlockDeltaEvent
    from rxclaude.core.frame import Frame

    built: list[str] = []

    def counting(cls: Any, name: str) -> Any:
        def make(*args: Any) -> Any:
            built.append(name if name != "Frame" else f"Frame {args[0]}")
            return cls(*args)

        return make

    for module in (stream_module, parse_module, sse_module):  # the decoder's too
        monkeypatch.setattr(module, "Frame", counting(Frame, "Frame"))
    monkeypatch.setattr(parse_module, "ContentBlockDeltaEvent", counting(ContentBlockDeltaEvent, "event"))
    pieces = [f"w{i} " for i in range(300)]
    admission = Admission(Limits(100, 1_000_000, 1_000_000))
    async with MockServer(default_reply=Reply.text(pieces)) as server, connect(server, admission) as client:
        stream = client.messages.stream(**params(0))
        texts: list[str] = []
        stream.text.subscribe(texts.append)
        assert (await stream.final_message()).text == "".join(pieces) == "".join(texts)
    assert "Frame content_block_delta" not in built and "event" not in built
    assert len(built) < 10
    assert admission.budgets["sonnet"].output_tokens_used == 300
