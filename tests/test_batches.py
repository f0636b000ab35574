"""The Message Batches API against the mock (rxclaude.batches, testing.batches), on a fast clock."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

import rxclaude
from rxclaude import BatchNotEndedError, BatchResult, MessageBatch
from rxclaude.core.errors import BadRequestError, NotFoundError
from rxclaude.testing import MockClock, MockServer, Reply

MODEL = "claude-sonnet-4-5"


def request(i: int, **params: Any) -> dict[str, Any]:
    body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": f"item {i}"}], **params}
    return {"custom_id": f"item-{i}", "params": body}


def connect(server: MockServer) -> rxclaude.Client:
    return rxclaude.Client(api_key=server.api_key, base_url=server.url)


async def test_create_poll_and_read_results_matched_by_custom_id() -> None:
    clock = MockClock(speed=0)  # moves only when the test says so
    async with MockServer(clock=clock) as server, connect(server) as client:
        batches = client.messages.batches
        server.enqueue(Reply.text("first"), Reply.error(400, message="bad thing"))
        batch = await batches.create([request(i) for i in range(5)])
        assert batch.id.startswith("msgbatch_") and batch.processing_status == "in_progress"
        assert batch.request_counts.processing == 5 and batch.results_url is None
        with pytest.raises(BatchNotEndedError):
            await batches.iter_results(batch.id).__anext__()
        clock.advance(hours=1)
        ended = await batches.retrieve(batch.id)
        assert ended.ended and ended.request_counts.succeeded == 4 and ended.request_counts.errored == 1
        assert ended.results_url == f"{server.url}/v1/messages/batches/{batch.id}/results"
        results: list[BatchResult] = []
        done = asyncio.Event()
        batches.results(batch.id).subscribe(results.append, on_completed=done.set)
        await asyncio.wait_for(done.wait(), 5)
    by_id = {r.custom_id: r for r in results}
    assert [r.custom_id for r in results] != [f"item-{i}" for i in range(5)]  # not in request order
    assert sorted(by_id) == [f"item-{i}" for i in range(5)]
    assert by_id["item-0"].message is not None and by_id["item-0"].message.text == "first"
    assert isinstance(by_id["item-1"].exception, BadRequestError)
    assert by_id["item-3"].message is not None and by_id["item-3"].message.text == "item 3"
    assert by_id["item-3"].message.usage is not None and by_id["item-3"].message.usage.service_tier == "batch"


async def test_a_sped_up_clock_ends_a_batch_of_a_day_in_a_moment() -> None:
    clock = MockClock(speed=100_000)
    async with MockServer(clock=clock) as server, connect(server) as client:
        server.batches.processing_seconds = 3 * 3600
        batch = await client.messages.batches.create([request(0)])
        ended = await client.messages.batches.wait(batch.id, interval=0.05, timeout=5)
    assert ended.ended and ended.request_counts.succeeded == 1


async def test_cancel_then_delete() -> None:
    clock = MockClock(speed=0)
    async with MockServer(clock=clock) as server, connect(server) as client:
        batches = client.messages.batches
        batch = await batches.create([request(i) for i in range(4)])
        clock.advance(server.batches.processing_seconds / 2)  # two of four done
        with pytest.raises(BadRequestError, match="cancel it first"):
            await batches.delete(batch.id)
        canceling = await batches.cancel(batch.id)
        assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
        clock.advance(server.batches.cancel_seconds)
        ended = await batches.retrieve(batch.id)
        assert ended.ended and ended.request_counts.succeeded == 2 and ended.request_counts.canceled == 2
        types = sorted([r.type async for r in batches.iter_results(batch.id)])
        assert types == ["canceled", "canceled", "succeeded", "succeeded"]
        deleted = await batches.delete(batch.id)
        assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
        with pytest.raises(NotFoundError):
            await batches.retrieve(batch.id)


async def test_expired_requests() -> None:
    clock = MockClock(speed=0)
    async with MockServer(clock=clock) as server, connect(server) as client:
        server.batches.processing_seconds = 48 * 3600  # longer than the 24 h a batch may take
        batch = await client.messages.batches.create([request(i) for i in range(4)])
        clock.advance(hours=24)
        ended = await client.messages.batches.retrieve(batch.id)
        assert ended.request_counts.succeeded == 2 and ended.request_counts.expired == 2  # due at 12 h and 24 h


async def test_list_pages_newest_first() -> None:
    async with MockServer(clock=MockClock(speed=0)) as server, connect(server) as client:
        made = [await client.messages.batches.create([request(i)]) for i in range(5)]
        page = await client.messages.batches.list_page(limit=2)
        assert [b.id for b in page.data] == [made[4].id, made[3].id] and page.has_more
        listed = [b.id async for b in client.messages.batches.list(limit=2)]
        assert listed == [b.id for b in reversed(made)]


async def test_the_mock_refuses_what_the_api_refuses() -> None:
    async with MockServer() as server, connect(server) as client:
        batches = client.messages.batches
        with pytest.raises(BadRequestError, match="custom_id"):
            await batches.create([{"custom_id": "has spaces", "params": request(0)["params"]}])
        with pytest.raises(ValueError, match="twice"):
            await batches.create([request(0), request(0)])
        with pytest.raises(ValueError, match="at least one"):
            await batches.create([])
        with pytest.raises(NotFoundError):
            await batches.retrieve("msgbatch_nope")


async def test_invalid_params_are_errored_results() -> None:
    clock = MockClock(speed=0)
    async with MockServer(clock=clock) as server, connect(server) as client:
        bad = request(1)
        del bad["params"]["max_tokens"]
        batch = await client.messages.batches.create([request(0), bad])
        clock.advance(hours=1)
        results = {r.custom_id: r async for r in client.messages.batches.iter_results(batch.id)}
    assert results["item-0"].ok
    assert isinstance(results["item-1"].exception, BadRequestError)


async def test_the_official_sdk_reads_the_mock_batches() -> None:
    clock = MockClock(speed=0)
    async with MockServer(clock=clock) as server:
        sdk = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url, max_retries=0)
        batch = await sdk.messages.batches.create(requests=[request(i) for i in range(3)])  # type: ignore[misc]
        clock.advance(hours=1)
        again = await sdk.messages.batches.retrieve(batch.id)
        assert again.processing_status == "ended" and again.request_counts.succeeded == 3
        lines = [line async for line in await sdk.messages.batches.results(batch.id)]
        assert sorted(line.custom_id for line in lines) == ["item-0", "item-1", "item-2"]
        assert all(line.result.type == "succeeded" for line in lines)
        page = await sdk.messages.batches.list()
        assert [b.id for b in page.data] == [batch.id]
        await sdk.close()
    ours = MessageBatch.from_dict(again.model_dump(mode="json"))
    assert ours.id == batch.id and ours.ended


async def test_results_are_read_as_a_stream(tmp_path: Any) -> None:
    """Many results: they arrive in pieces and the decoder never holds more than a line."""
    clock = MockClock(speed=0)
    async with MockServer(clock=clock) as server, connect(server) as client:
        batch = await client.messages.batches.create([request(i) for i in range(2_000)])
        clock.advance(hours=1)
        seen = 0
        async for result in client.messages.batches.iter_results(batch.id):
            seen += result.ok
    assert seen == 2_000
