"""Streams that survive a failure after HTTP 200 (issue 12), and the mock's side of it.

Policies: "before content" (default: a retry subscribers never see), "continue" (a prefill of the
partial reply, spliced into the same blocks) and "restart" (a typed notice first). The property
tests run every recording, chunked several ways, failed at a random point by each kind of
failure, under each policy, against the embedded mock.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import reactivex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.blocks import TextBlock, ThinkingBlock, ToolUseBlock
from rxclaude.core.errors import BadRequestError, OverloadedError
from rxclaude.core.events import MessageStartEvent, RecoveryEvent
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, Usage
from rxclaude.core.recovery import (
    PREFILL_REFUSED,
    TRAILING_WHITESPACE_REFUSED,
    Prefill,
    RecoveryPolicy,
    Splicer,
    add_usage,
    is_prefill_refusal,
    prefill_for,
    recoverable,
    refuses_prefill,
)
from rxclaude.core.retry import RetryPolicy
from rxclaude.testing import MockServer, Reply, fail_at, first_content_frame, split_frames
from rxclaude.transport.base import Timeouts

T = TypeVar("T")
KEY = "sk-ant-test-recovery"
MODEL = "claude-haiku-4-5"  # accepts a prefill
NO_PREFILL = "claude-opus-4-7"  # refuses one
FIXTURES = Path(__file__).parent / "fixtures"
TEXT = "Hello world, this is a reply long enough to be cut. It goes on, and on, and then it ends."


async def within(aw: Awaitable[T], seconds: float = 15.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


def params(model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 512, "messages": [{"role": "user", "content": "Hi"}], **extra}


def client_for(server: MockServer, **kw: Any) -> rxclaude.Client:
    kw.setdefault("timeouts", Timeouts(idle=1.0))
    client = rxclaude.Client(api_key=KEY, base_url=server.url, **kw)
    client.retry = RetryPolicy(max_retries=kw.get("max_retries", 3), initial_delay=0.001, max_delay=0.01)
    return client


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


class Log:
    """Everything a set of subscribers saw, in one ordered list."""

    def __init__(self, stream: rxclaude.MessageStream) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.frames: list[Frame] = []
        stream.text.subscribe(lambda s: self.seen.append(("text", s)))
        stream.recoveries.subscribe(lambda r: self.seen.append(("recovery", r)))
        stream.events.subscribe(lambda e: self.seen.append(("event", e)))
        stream.frames.subscribe(self.frames.append, lambda e: None)
        self.blocks: list[Any] = []
        stream.blocks.subscribe(self.blocks.append, lambda e: None)

    @property
    def text(self) -> str:
        return "".join(v for k, v in self.seen if k == "text")

    @property
    def notices(self) -> list[RecoveryEvent]:
        return [v for k, v in self.seen if k == "recovery"]

    def segments(self) -> list[str]:
        """The text shown between restart notices."""
        out = [""]
        for kind, value in self.seen:
            if kind == "text":
                out[-1] += value
            elif kind == "recovery" and value.restart:
                out.append("")
        return out

    def message_starts(self) -> int:
        return sum(1 for k, v in self.seen if k == "event" and type(v) is MessageStartEvent)


# -- the policy and the splice, sans I/O ------------------------------------------------------------


def test_policy_shorthands_and_errors() -> None:
    assert RecoveryPolicy.of(None) == RecoveryPolicy() and RecoveryPolicy().enabled
    assert not RecoveryPolicy.of(False).enabled
    assert RecoveryPolicy.of("continue").after_content == "continue"
    policy = RecoveryPolicy(after_content="continue", fallback="fail")
    assert RecoveryPolicy.of(policy) is policy
    with pytest.raises(ValueError, match="after_content"):
        RecoveryPolicy(after_content="again")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="recovery must be"):
        RecoveryPolicy.of("sometimes")
    with pytest.raises(ValueError, match="fallback"):
        RecoveryPolicy(fallback="continue")  # type: ignore[arg-type]


def test_which_models_refuse_prefill() -> None:
    assert refuses_prefill("claude-opus-4-6") and refuses_prefill("claude-sonnet-4-6-20260101")
    assert refuses_prefill("claude-opus-4-7") and refuses_prefill("claude-sonnet-5")
    assert refuses_prefill("claude-haiku-4-5") is False and refuses_prefill("claude-opus-4-1-20250805") is False
    assert refuses_prefill("claude-3-7-sonnet-20250219") is None and refuses_prefill("my-model") is None


def test_what_is_recoverable() -> None:
    assert recoverable(OverloadedError("Overloaded", type="overloaded_error", status_code=200, in_stream=True))
    assert recoverable(rxclaude.ConnectionLostError("reset")) and recoverable(rxclaude.StreamStalledError("quiet"))
    assert recoverable(rxclaude.IncompleteStreamError("cut"))
    assert not recoverable(rxclaude.StreamCancelledError("bye"))
    assert not recoverable(rxclaude.TotalTimeoutError("too long"))
    assert not recoverable(rxclaude.MalformedEventError("bad"))
    assert not recoverable(BadRequestError("no", status_code=400))
    assert is_prefill_refusal(BadRequestError(PREFILL_REFUSED, status_code=400))
    assert not is_prefill_refusal(BadRequestError(TRAILING_WHITESPACE_REFUSED, status_code=400))


def test_prefill_trims_whitespace_and_keeps_signed_thinking() -> None:
    partial = Message(content=(ThinkingBlock("Hm.", "sig"), TextBlock("Hello, \n")))
    p = prefill_for(partial, open_index=1)
    assert isinstance(p, Prefill)
    assert p.message == {
        "role": "assistant",
        "content": [{"thinking": "Hm.", "signature": "sig", "type": "thinking"}, {"type": "text", "text": "Hello,"}],
    }
    assert (p.trimmed, p.base, p.open_text) == (" \n", 1, True)
    # between blocks: the continuation is a new block after the last one
    p = prefill_for(Message(content=(TextBlock("Done."),)), open_index=None)
    assert isinstance(p, Prefill) and (p.base, p.open_text) == (1, False)
    # a text block of whitespace only is dropped (the API refuses empty text); its index stays
    p = prefill_for(Message(content=(ThinkingBlock("Hm.", "sig"), TextBlock("  "))), open_index=1)
    assert isinstance(p, Prefill) and [b["type"] for b in p.message["content"]] == ["thinking"]
    assert (p.trimmed, p.base) == ("  ", 1)


@pytest.mark.parametrize(
    ("content", "open_index", "reason"),
    [
        ((ThinkingBlock("Hm", ""),), 0, "signature"),
        ((ThinkingBlock("Hm", "sig"), ToolUseBlock("t", "f", {})), 1, "'tool_use'"),
        ((ThinkingBlock("Hm", "sig"),), None, "does not end in text"),
        ((), None, "does not end in text"),
        ((TextBlock(" "),), 0, "no text"),
    ],
)
def test_what_cannot_be_continued(content: tuple[Any, ...], open_index: int | None, reason: str) -> None:
    made = prefill_for(Message(content=content), open_index)
    assert isinstance(made, str) and reason in made


def _delta(index: int, text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}


@given(
    text=st.text(alphabet="ab \n\t.", min_size=1, max_size=40),
    cut=st.integers(min_value=0, max_value=40),
    pieces=st.lists(st.integers(min_value=1, max_value=5), max_size=20),
)
def test_splice_reemits_trimmed_whitespace_exactly_once(text: str, cut: int, pieces: list[int]) -> None:
    """Delivered ``text[:cut]``; the prefill is it without trailing whitespace; the model (as the
    mock) continues from the prefill: the splice shows exactly ``text``, however it is cut up."""
    cut = min(cut, len(text))
    shown = text[:cut]
    head = shown.rstrip()
    if not head:
        return
    p = prefill_for(Message(content=(TextBlock(shown),)), open_index=0)
    assert isinstance(p, Prefill)
    splicer = Splicer("continue", prior=Usage(), base=p.base, open_text=p.open_text, trimmed=p.trimmed)
    rest, out = text[len(head) :], []
    assert (
        splicer.feed(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        == []
    )
    i = 0
    for size in [*pieces, len(rest)]:
        piece, i = rest[i : i + size], i + size
        if piece:
            for name, data in splicer.feed("content_block_delta", _delta(0, piece)):
                assert name == "content_block_delta" and data["index"] == 0
                out.append(data["delta"]["text"])
    assert shown + "".join(out) == text


def test_splice_shifts_later_blocks_and_sums_usage() -> None:
    splicer = Splicer("continue", prior=Usage(input_tokens=10, output_tokens=4), base=2, open_text=True)
    assert (
        splicer.feed(
            "message_start",
            {"type": "message_start", "message": {"id": "msg_2", "usage": {"input_tokens": 12, "output_tokens": 1}}},
        )
        == []
    )
    assert splicer.message_id == "msg_2"
    out = splicer.feed(
        "content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use"}}
    )
    assert out[0][1]["index"] == 3
    ((_, data),) = splicer.feed("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 7}})
    assert data["usage"] == {"output_tokens": 11, "input_tokens": 10}
    assert splicer.usage.output_tokens == 7 and splicer.usage.input_tokens == 12
    assert add_usage(Usage(input_tokens=1), Usage(output_tokens=2)) == Usage(input_tokens=1, output_tokens=2)


def test_a_continuation_that_does_not_start_with_text_closes_the_open_block() -> None:
    splicer = Splicer("continue", prior=Usage(), base=0, open_text=True, trimmed=" ")
    out = splicer.feed(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        },
    )
    assert [(n, d["index"]) for n, d in out] == [("content_block_stop", 0), ("content_block_start", 1)]


# -- Message.to_param and the mock's checks of assistant turns ---------------------------------------


async def test_to_param_tool_loop_over_two_turns(server: MockServer) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}  # max_tokens must exceed it, as the API requires
    tool = {"name": "weather", "input": {"city": "Rome"}}
    server.enqueue(
        Reply.text("Let me check.", thinking="The user wants the weather.", tool_uses=[tool]),
        Reply.text("Sunny in Rome.", thinking="It is sunny."),
    )
    async with client_for(server) as client:
        first = await within(client.messages.create(**params(max_tokens=2048, thinking=thinking)))
        assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
        turn = first.to_param()
        assert turn["content"][0]["signature"] == first.content[0].signature  # type: ignore[union-attr]
        assert orjson.dumps(turn["content"]) == orjson.dumps([b.to_dict() for b in first.content])
        call = first.tool_uses[0]
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}
        messages = [{"role": "user", "content": "Weather in Rome?"}, turn, result]
        second = await within(client.messages.create(**params(max_tokens=2048, thinking=thinking, messages=messages)))
        assert second.text == "Sunny in Rome."
        sent = server.requests[-1].json["messages"][1]
        assert sent == orjson.loads(orjson.dumps(turn))  # byte for byte what the API sent

        # the API refuses the same turn with its thinking dropped, or altered
        dropped = {"role": "assistant", "content": turn["content"][1:]}
        with pytest.raises(BadRequestError, match=r"messages\.1\.content\.0\.type: Expected `thinking`") as info:
            await within(
                client.messages.create(
                    **params(max_tokens=2048, thinking=thinking, messages=[messages[0], dropped, result])
                )
            )
        assert info.value.status_code == 400
        altered = {
            "role": "assistant",
            "content": [{**turn["content"][0], "thinking": "Something else."}, *turn["content"][1:]],
        }
        with pytest.raises(BadRequestError, match=r"messages\.1\.content\.0: Invalid `signature` in `thinking` block"):
            await within(
                client.messages.create(
                    **params(max_tokens=2048, thinking=thinking, messages=[messages[0], altered, result])
                )
            )
        unsigned = {"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}, *turn["content"][1:]]}
        with pytest.raises(BadRequestError, match=r"thinking\.signature: Field required"):
            await within(
                client.messages.create(
                    **params(max_tokens=2048, thinking=thinking, messages=[messages[0], unsigned, result])
                )
            )


async def test_mock_refuses_prefill_as_the_api_does(server: MockServer) -> None:
    async with client_for(server, recovery=False) as client:
        prefill = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        with pytest.raises(BadRequestError) as info:
            await within(client.messages.create(**params(NO_PREFILL, messages=prefill)))
        assert info.value.message == PREFILL_REFUSED and info.value.status_code == 400
        spaced = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello "}]
        with pytest.raises(BadRequestError) as info:
            await within(client.messages.create(**params(messages=spaced)))
        assert info.value.message == TRAILING_WHITESPACE_REFUSED


async def test_mock_continues_a_prefill_that_is_a_prefix_of_the_script(server: MockServer) -> None:
    server.enqueue(Reply.text(TEXT), Reply.text(TEXT))
    async with client_for(server, recovery=False) as client:
        prefill = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": TEXT[:20]}]
        continued = await within(client.messages.create(**params(messages=prefill)))
        assert continued.text == TEXT[20:]
        other = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Not the script"}]
        assert (await within(client.messages.create(**params(messages=other)))).text == TEXT


def test_fail_at_places_the_failure() -> None:
    reply = Reply.text(TEXT)
    first = first_content_frame(reply)
    assert fail_at(reply, "before_content").faults.error_after == first
    assert fail_at(reply, "after_content", "close").faults.close_after == first + 1
    assert fail_at(reply, 4, "stall", stall_seconds=9).faults.stall_seconds == 9
    frames = reply.frames({})
    assert fail_at(reply, 2, "reset", request={}).faults.reset_after_bytes == len(frames[0]) + len(frames[1])
    with pytest.raises(ValueError, match="how must be"):
        fail_at(reply, 2, "explode")  # type: ignore[arg-type]


# -- each policy end to end -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["error", "reset", "stall", "close"])
async def test_before_content_is_invisible(server: MockServer, how: str) -> None:
    server.enqueue(fail_at(Reply.text(TEXT), "before_content", how, request=params()), Reply.text(TEXT))  # type: ignore[arg-type]
    async with client_for(server, timeouts=Timeouts(idle=0.3)) as client:
        stream = client.messages.stream(**params())
        log = Log(stream)
        async with stream:
            message = await within(stream.final_message())
        assert message.text == TEXT and log.text == TEXT and log.message_starts() == 1
        assert [n.kind for n in log.notices] == ["retry"]
        assert [a.kind for a in stream.recovery_attempts] == ["first", "retry"] and stream.recovery_attempts[
            0
        ].error is not None
        assert [b.text for b in log.blocks] == [TEXT]  # type: ignore[attr-defined]
    await within(server.wait_idle())
    assert client.transport.open_requests == 0


@pytest.mark.parametrize("how", ["error", "reset", "stall", "close"])
async def test_continue_splices_the_rest(server: MockServer, how: str) -> None:
    reply = Reply.text(TEXT, thinking="Think first.", signature="sig-1")
    cut = first_content_frame(reply) + 12  # well into the text
    server.enqueue(fail_at(reply, cut, how, request=params()), reply)  # type: ignore[arg-type]
    async with client_for(server, recovery="continue", timeouts=Timeouts(idle=0.3)) as client:
        stream = client.messages.stream(**params())
        log = Log(stream)
        async with stream:
            message = await within(stream.final_message())
        assert message.text == TEXT and log.text == TEXT and log.message_starts() == 1
        assert [n.kind for n in log.notices] == ["continue"]
        assert [b.type for b in log.blocks] == ["thinking", "text"] and log.blocks[1].text == TEXT
        sent = server.requests[1].json["messages"][-1]
        assert sent["role"] == "assistant" and sent["content"][0]["signature"] == "sig-1"
        assert TEXT.startswith(sent["content"][-1]["text"]) and not sent["content"][-1]["text"][-1:].isspace()
        # usage: each attempt's own, and the sum on the message
        first, second = stream.recovery_attempts
        assert message.usage.output_tokens == first.usage.output_tokens + second.usage.output_tokens  # type: ignore[operator]
        assert message.usage.input_tokens == first.usage.input_tokens + second.usage.input_tokens  # type: ignore[operator]


async def test_continue_falls_back_to_restart_on_the_prefill_refusal(server: MockServer) -> None:
    server.check_models = False  # a model the client does not know, and neither does the mock's table
    server.turns.no_prefill.add("my-model")
    cut = first_content_frame(Reply.text(TEXT)) + 6
    server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
    async with client_for(server, recovery="continue") as client:
        stream = client.messages.stream(**params("my-model"))
        log = Log(stream)
        async with stream:
            message = await within(stream.final_message())
        assert message.text == TEXT
        assert [n.kind for n in log.notices] == ["continue", "restart"]
        assert [r.status for r in server.requests] == [200, 400, 200]
        assert server.requests[1].json["messages"][-1]["role"] == "assistant"
        assert [a.kind for a in stream.recovery_attempts] == ["first", "continue", "restart"]
        assert is_prefill_refusal(stream.recovery_attempts[1].error)  # type: ignore[arg-type]
        assert log.segments()[-1] == TEXT and log.notices[1].discarded_text == log.segments()[0]
        # the client remembers: the next stream goes straight to the fallback
        server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
        again = client.messages.stream(**params("my-model"))
        assert (await within(again.final_message())).text == TEXT
        assert [r.status for r in server.requests[3:]] == [200, 200]


async def test_continue_on_a_model_that_refuses_prefill_restarts_without_trying(server: MockServer) -> None:
    cut = first_content_frame(Reply.text(TEXT)) + 6
    server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
    async with client_for(server, recovery=RecoveryPolicy(after_content="continue", fallback="fail")) as client:
        stream = client.messages.stream(**params(NO_PREFILL))
        with pytest.raises(OverloadedError):
            await within(stream.final_message())
        assert len(server.requests) == 1 and stream.current_message is not None


async def test_restart_tells_every_subscriber_first(server: MockServer) -> None:
    cut = first_content_frame(Reply.text(TEXT)) + 6
    server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
    async with client_for(server, recovery="restart") as client:
        stream = client.messages.stream(**params())
        log = Log(stream)
        async with stream:
            message = await within(stream.final_message())
        assert message.text == TEXT
        (notice,) = log.notices
        assert notice.restart and notice.discarded_text == log.segments()[0] and log.segments()[1] == TEXT
        assert notice.error == {"type": "overloaded_error", "message": "Overloaded"}
        assert log.message_starts() == 2  # the reply starts over, after the notice
        index = log.seen.index(("recovery", notice))
        assert ("event", notice) == log.seen[index + 1] or ("event", notice) in log.seen[index - 1 : index + 2]
        assert sum(1 for f in log.frames if f.event == "recovery") == 1


async def test_after_content_fails_by_default_with_the_partial(server: MockServer) -> None:
    server.enqueue(fail_at(Reply.text(TEXT), "after_content"))
    async with client_for(server) as client:
        stream = client.messages.stream(**params())
        with pytest.raises(OverloadedError) as info:
            await within(stream.final_message())
        assert info.value.partial is not None and info.value.partial.text
        assert len(server.requests) == 1 and [a.kind for a in stream.recovery_attempts] == ["first"]


async def test_recoveries_are_bounded(server: MockServer) -> None:
    server.enqueue(*[fail_at(Reply.text(TEXT), "before_content")] * 3)
    async with client_for(server, recovery=RecoveryPolicy(max_recoveries=2)) as client:
        stream = client.messages.stream(**params())
        with pytest.raises(OverloadedError):
            await within(stream.final_message())
        assert len(server.requests) == 3 and len(stream.recovery_attempts) == 3


async def test_cancel_during_the_pause_stops_the_next_attempt(server: MockServer) -> None:
    server.enqueue(fail_at(Reply.text(TEXT), "before_content"), Reply.text(TEXT))
    async with client_for(server) as client:
        client.retry = RetryPolicy(initial_delay=5.0, max_delay=5.0)
        stream = client.messages.stream(**params())
        notices: list[RecoveryEvent] = []
        stream.recoveries.subscribe(notices.append)
        stream.connect()
        while not notices:
            await asyncio.sleep(0.01)
        stream.cancel()
        with pytest.raises(rxclaude.StreamCancelledError):
            await within(stream.final_message())
        await asyncio.sleep(0.05)
        assert len(server.requests) == 1 and client.transport.open_requests == 0


async def test_per_stream_policy_overrides_the_client(server: MockServer) -> None:
    server.enqueue(fail_at(Reply.text(TEXT), "before_content"))
    async with client_for(server) as client:
        with pytest.raises(OverloadedError):
            await within(client.messages.stream(**params(), recovery=False).final_message())
        assert len(server.requests) == 1


# -- relay and recorder carry recoveries ---------------------------------------------------------------


async def test_a_recording_replays_what_a_live_subscriber_saw(server: MockServer, tmp_path: Path) -> None:
    cut = first_content_frame(Reply.text(TEXT)) + 6
    server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
    path = tmp_path / "run.jsonl"
    async with client_for(server, recovery="restart") as client:
        stream = client.messages.stream(**params())
        live = Log(stream)
        recording = rxclaude.sinks.record(stream.frames, path)
        async with stream:
            await within(stream.final_message())
        await within(recording)
    replayed = rxclaude.MessageStream(rxclaude.replay(path, speed=None))
    log = Log(replayed)
    message = await within(replayed.final_message())
    assert message.text == TEXT
    assert log.segments() == live.segments() and [n.kind for n in log.notices] == ["restart"]
    assert [f.data for f in log.frames] == [f.data for f in live.frames]


async def test_the_relay_carries_the_recovery(server: MockServer) -> None:
    import aiohttp

    cut = first_content_frame(Reply.text(TEXT)) + 6
    server.enqueue(fail_at(Reply.text(TEXT), cut), Reply.text(TEXT))
    async with client_for(server, recovery="continue") as client:
        stream = client.messages.stream(**params())
        relay = rxclaude.Relay(stream.frames)
        async with relay.serve() as url:
            async with stream:
                await within(stream.final_message())
            async with aiohttp.ClientSession() as http, http.get(url + "/events") as r:
                body = await within(r.read())
        await relay.aclose()
    frames = rxclaude.SSEDecoder().feed(body)
    relayed = rxclaude.MessageStream(reactivex.from_iterable(frames))
    log = Log(relayed)
    relayed.connect()
    message = await within(relayed.final_message())
    assert message.text == TEXT and log.text == TEXT and [n.kind for n in log.notices] == ["continue"]


# -- every recording, chunked, failed at random points ----------------------------------------------


def _complete(path: Path) -> bool:
    events: list[Any] = []
    frames = rxclaude.SSEDecoder().feed(path.read_bytes())
    reactivex.from_iterable(frames).pipe(ops.parse(), ops.message()).subscribe(events.append, lambda e: None)
    return bool(events)


RECORDINGS = [p for p in sorted(FIXTURES.glob("*.sse")) if _complete(p)]
EXPECTED = {
    p.name: reactivex.from_iterable(rxclaude.SSEDecoder().feed(p.read_bytes())).pipe(ops.parse(), ops.message()).run()
    for p in RECORDINGS
}


async def _run(path: Path, policy: str, how: str, point: float, chunk: int | None) -> None:
    data = path.read_bytes()
    frames = split_frames(data)
    expected = EXPECTED[path.name]
    reply = Reply.from_sse(data).with_faults(chunk_size=chunk)
    n = int(point * (len(frames) - 1))  # never after message_stop
    if how == "reset":  # anywhere, even inside a frame
        failing = reply.with_faults(reset_after_bytes=int(point * (len(data) - len(frames[-1]))))
    else:
        failing = fail_at(reply, n, how, stall_seconds=30)  # type: ignore[arg-type]
    delivered_before = first_content_frame(reply)
    async with MockServer() as server:
        server.enqueue(failing, reply)
        async with client_for(server, recovery=policy, timeouts=Timeouts(idle=0.5)) as client:
            stream = client.messages.stream(**params())
            log = Log(stream)
            async with stream:
                try:
                    message = await within(stream.final_message(), 30)
                except rxclaude.RxClaudeError as e:
                    # only the default policy gives up, once content was shown (so no retry)
                    assert policy == "fail", (path.name, policy, how, n, e)
                    assert [a.error for a in stream.recovery_attempts] == [e]
                    message = None
            await within(server.wait_idle())
            for _ in range(3):
                await asyncio.sleep(0)
            assert client.transport.open_requests == 0
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []  # nothing leaked
    if message is None:
        return
    assert message.content == expected.content, (path.name, policy, how, n)
    assert message.text == expected.text
    kinds = [r.kind for r in log.notices]
    if "restart" in kinds:
        segments = log.segments()
        restarts = [r for r in log.notices if r.restart]
        for shown, notice in zip(segments, restarts, strict=False):
            assert notice.discarded_text == shown  # told, before any text repeats
        assert segments[-1] == expected.text
    else:
        assert log.text == expected.text, (path.name, policy, how, n, kinds)  # nothing twice, nothing missing
        assert log.message_starts() == 1
    if policy == "fail":  # "before content" only: a retry is invisible
        assert set(kinds) <= {"retry"}
        if kinds:
            assert n <= delivered_before or how == "reset"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(RECORDINGS) - 1),
    policy=st.sampled_from(["fail", "continue", "restart"]),
    how=st.sampled_from(["error", "reset", "close", "error", "reset", "stall"]),
    point=st.floats(min_value=0.0, max_value=1.0),
    chunk=st.sampled_from([None, 13, 512, 4096]),
)
def test_every_recording_survives_a_failure_at_any_point(
    index: int, policy: str, how: str, point: float, chunk: int | None
) -> None:
    path = RECORDINGS[index]
    if chunk is not None and chunk < 512 and path.stat().st_size > 50_000:
        chunk = 4096  # (byte-sized writes of a 250 KB recording only make the test slow)
    asyncio.run(_run(path, policy, how, point, chunk))
    gc.collect()


@pytest.mark.parametrize(("policy", "at"), [("fail", 0), ("fail", "before_content"), ("continue", 6)])
async def test_the_official_sdk_reads_a_recovered_relay(server: MockServer, policy: str, at: Any) -> None:
    anthropic = pytest.importorskip("anthropic")
    server.enqueue(fail_at(Reply.text(TEXT), at), Reply.text(TEXT))
    async with client_for(server, recovery=policy) as client:
        stream = client.messages.stream(**params())
        relay = rxclaude.Relay(stream.frames)
        async with relay.serve() as url:
            async with stream:
                await within(stream.final_message())
            sdk = anthropic.AsyncAnthropic(api_key="relay", base_url=url, max_retries=0)
            async with sdk.messages.stream(**params()) as relayed:
                text = "".join([t async for t in relayed.text_stream])
                message = await within(relayed.get_final_message())
            await sdk.close()
        await relay.aclose()
    assert text == TEXT and message.content[0].text == TEXT


async def test_a_lost_message_stop_is_completed_without_a_request(server: MockServer, tmp_path: Path) -> None:
    reply = Reply.text(TEXT)
    last = len(reply.frames(params())) - 1  # everything but message_stop
    server.enqueue(fail_at(reply, last, "reset", request=params()))
    async with client_for(server, recovery="continue") as client:
        stream = client.messages.stream(**params())
        log = Log(stream)
        recording = rxclaude.sinks.record(stream.frames, tmp_path / "run.jsonl")
        async with stream:
            message = await within(stream.final_message())
        assert await within(recording) == len(log.frames)  # the raw frames ended too
    assert message.text == TEXT and message.stop_reason == "end_turn" and not message.incomplete
    assert len(server.requests) == 1 and [n.kind for n in log.notices] == ["continue"]
    assert [a.kind for a in stream.recovery_attempts] == ["first"] and stream.recovery_attempts[0].error is not None


@pytest.mark.parametrize(
    "path",
    # (a tool call cut by max_tokens: the stream keeps its partial input, the wire's reference {})
    [p for p in RECORDINGS if p.name != "sdk-max-tokens-partial-tool-json.sse"],
    ids=lambda p: p.name,
)
def test_to_param_is_the_api_s_content_on_every_recording(path: Path) -> None:
    from rxclaude.testing import accumulate, events_from_sse

    def present(block: dict[str, Any]) -> dict[str, Any]:  # a null field is an absent one (Optional)
        return {k: v for k, v in block.items() if v is not None}

    wire = accumulate(events_from_sse(path.read_bytes()))["content"]
    turn = EXPECTED[path.name].to_param()
    assert turn["role"] == "assistant" and [b["type"] for b in turn["content"]] == [b["type"] for b in wire]
    for mine, theirs in zip(turn["content"], wire, strict=True):
        assert present(mine) == present(theirs)  # every field, thinking and signatures to the byte
        for key in ("thinking", "signature", "data"):
            assert mine.get(key) == theirs.get(key)


async def test_failures_before_http_200_are_left_to_the_transport_s_retries(server: MockServer) -> None:
    server.enqueue(*[Reply.error(529)] * 3)
    async with client_for(server, max_retries=2, recovery="restart") as client:
        with pytest.raises(OverloadedError) as info:
            await within(client.messages.create(**params()))
        assert info.value.status_code == 529 and len(server.requests) == 3  # 1 + max_retries, no more
    # a recovery attempt that gets no 200 ends the stream with that error
    server.reset()
    server.enqueue(fail_at(Reply.text(TEXT), "after_content"), *[Reply.error(529)] * 3)
    async with client_for(server, max_retries=2, recovery="restart") as client:
        stream = client.messages.stream(**params())
        with pytest.raises(OverloadedError) as info:
            await within(stream.final_message())
        assert info.value.status_code == 529 and not info.value.in_stream
        assert len(server.requests) == 4 and [a.kind for a in stream.recovery_attempts] == ["first", "restart"]


async def test_recovery_on_every_platform() -> None:
    import contextlib

    from tests.test_platforms import platform_clients

    async with contextlib.AsyncExitStack() as stack:
        async for name, server, client, model in platform_clients(stack):
            async with client:
                client.retry = RetryPolicy(initial_delay=0.001)
                for policy, at in (("fail", "before_content"), ("restart", "after_content")):
                    server.enqueue(fail_at(Reply.text(TEXT), at), Reply.text(TEXT))
                    stream = client.messages.stream(
                        model=model, max_tokens=64, messages=params()["messages"], recovery=policy
                    )
                    log = Log(stream)
                    message = await within(stream.final_message())
                    assert message.text == TEXT and log.segments()[-1] == TEXT, (name, policy)
                    assert [a.kind for a in stream.recovery_attempts] == [
                        "first",
                        "retry" if policy == "fail" else "restart",
                    ]


async def test_continue_in_memory_over_the_mock_transport() -> None:
    from rxclaude.testing import continue_frames, prefill_blocks
    from rxclaude.transport.mock import MockRequest, MockResponse, MockTransport

    frames = Reply.text(TEXT).frames({"model": MODEL})
    cut = first_content_frame(Reply.text(TEXT)) + 5
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'

    def handler(request: MockRequest) -> MockResponse:
        prefill = prefill_blocks(request.json())
        if prefill is None:
            return MockResponse.sse(b"".join(frames[:cut]) + error)
        return MockResponse.sse(b"".join(continue_frames(frames, prefill) or []))

    transport = MockTransport(handler)
    async with rxclaude.Client(api_key=KEY, transport=transport, recovery="continue") as client:
        client.retry = RetryPolicy(initial_delay=0.001)
        stream = client.messages.stream(**params())
        log = Log(stream)
        message = await within(stream.final_message())
    assert message.text == TEXT and log.text == TEXT and [n.kind for n in log.notices] == ["continue"]
    assert len(transport.requests) == 2 and transport.requests[1].json()["messages"][-1]["role"] == "assistant"


@pytest.mark.parametrize("policy", ["fail", "continue", "restart"])
async def test_a_recovered_stream_is_freed_at_once(server: MockServer, policy: str) -> None:
    import weakref

    at = "before_content" if policy == "fail" else 8
    server.enqueue(fail_at(Reply.text(TEXT), at), Reply.text(TEXT))  # type: ignore[arg-type]
    async with client_for(server, recovery=policy) as client:
        gc.collect()
        gc.disable()
        try:
            stream = client.messages.stream(**params())
            stream.text.subscribe(lambda s: None)
            stream.recoveries.subscribe(lambda r: None)
            assert (await within(stream.final_message())).text == TEXT
            assert len(stream.recovery_attempts) == 2
            await within(server.wait_idle())
            for _ in range(5):
                await asyncio.sleep(0)
            ref = weakref.ref(stream)
            del stream
            assert ref() is None  # no reference cycle: freed without the cyclic GC
        finally:
            gc.enable()
