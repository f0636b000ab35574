"""``Relay``: one upstream stream re-served to many HTTP clients in the Anthropic wire format, with resume.

Every test runs on loopback against :class:`~rxclaude.testing.MockServer` (or a local Observable)
and reads the relay with ``aiohttp`` (raw bytes), the official ``anthropic`` SDK, or a raw socket.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import os
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import anthropic
import orjson
import pytest
import reactivex
from reactivex.scheduler import NewThreadScheduler

import rxclaude
from rxclaude import Client, Relay, SSEDecoder
from rxclaude import operators as ops
from rxclaude.core.errors import ConnectionLostError, IncompleteStreamError, OverloadedError
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.operators import Broadcast
from rxclaude.relay.server import KEEPALIVE, encode_frame
from rxclaude.testing import MockServer, Reply

KEY = "fake-key-relay-0123456789"
MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
FIXTURES = Path(__file__).parent / "fixtures"
RICH = Reply.text(
    ["Let me ", "check ", "the weather."],
    thinking=["The user ", "wants ", "weather."],
    tool_uses=[{"name": "weather", "input": {"city": "Rome", "days": [1, 2]}}],
    input_tokens=21,
    output_tokens=42,
    seed=3,
)
PACED = Reply.text([f"tok{i} " for i in range(80)], seed=5).with_faults(tokens_per_second=400)

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float = 5.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


async def until(predicate: Any, seconds: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.002)

    await within(poll(), seconds)


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[Client]:
    async with Client(api_key=KEY, base_url=server.url, max_retries=0) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def read(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes]:
    async with http.get(url, headers={k.replace("_", "-"): v for k, v in headers.items()}) as r:
        return r.status, await r.read()


def decode(body: bytes) -> list[Frame]:
    decoder = SSEDecoder()
    return [*decoder.feed(body), *decoder.close()]


def message_of(body: bytes) -> Message:
    """The final message of a relayed body, through the package's own operators."""
    out: list[Message] = []
    errors: list[Exception] = []
    reactivex.of(body).pipe(ops.frames(), ops.parse(), ops.message()).subscribe(out.append, errors.append)
    if errors:
        raise errors[0]
    return out[0]


def expected_bytes(frames: list[Frame], first_id: int = 1) -> bytes:
    return b"".join(encode_frame(f.event, f.data, i) for i, f in enumerate(frames, first_id))


def upstream_frames(reply: Reply) -> list[Frame]:
    return decode(b"".join(reply.frames(PARAMS)))


def error_of(frame: Frame) -> dict[str, Any]:
    body = orjson.loads(frame.data)
    assert set(body) >= {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) >= {"type", "message"}
    return dict(body["error"])


# -- encoding -------------------------------------------------------------------------------------


def test_encode_frame_is_the_wire_format_and_splits_lines() -> None:
    assert encode_frame("ping", '{"type": "ping"}', 7) == b'event: ping\ndata: {"type": "ping"}\nid: 7\n\n'
    raw = encode_frame("message", "a\nb\r\nc\rd", 2)
    assert raw == b"event: message\ndata: a\ndata: b\ndata: c\ndata: d\nid: 2\n\n"
    assert decode(raw) == [Frame("message", "a\nb\nc\nd", "2")]
    assert decode(encode_frame("x\ny", "", 3)) == [Frame("xy", "", "3")]
    assert decode(encode_frame("e", "  lead\u2028sep", 4))[0].data == "  lead\u2028sep"  # U+2028 is no line break


def test_replay_log_is_bounded_by_count_and_bytes() -> None:
    frames = [Frame("content_block_delta", "x" * 100) for _ in range(50)]
    by_count = Relay(reactivex.from_iterable(frames), replay_events=10)
    stats = by_count.stats
    assert (stats.last_id, stats.first_id, stats.buffered_events) == (51, 42, 10)  # 50 frames + our error
    by_bytes = Relay(reactivex.from_iterable(frames), replay_bytes=1000)
    stats = by_bytes.stats
    assert stats.buffered_bytes <= 1000 and stats.buffered_events == stats.last_id - stats.first_id + 1 > 0
    with pytest.raises(ValueError):
        Relay(reactivex.empty(), client_queue=0)
    with pytest.raises(ValueError):
        Relay(reactivex.empty(), keepalive=0)


# -- 1. fan-out: identical bytes, the same message -----------------------------------------------


@pytest.mark.parametrize(
    "reply", [RICH, Reply.from_sse(FIXTURES / "web-search-citations-sonnet4.sse")], ids=["rich", "citations"]
)
async def test_two_clients_get_identical_bytes_and_the_upstream_message(
    server: MockServer, client: Client, http: aiohttp.ClientSession, reply: Reply
) -> None:
    server.enqueue(reply)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    seen: list[Frame] = []
    stream.frames.subscribe(seen.append)
    async with relay.serve() as url:
        readers = [asyncio.create_task(read(http, f"{url}/events")) for _ in range(2)]
        await until(lambda: relay.stats.clients == 2)
        upstream = await within(stream.final_message())
        (s1, a), (s2, b) = await within(asyncio.gather(*readers))
    assert s1 == s2 == 200
    assert a == b == expected_bytes(seen)  # byte-exact: the API's padding kept, ids 1..n
    frames = decode(a)
    assert [f.id for f in frames] == [str(i) for i in range(1, len(seen) + 1)]
    assert [(f.event, f.data) for f in frames] == [(f.event, f.data) for f in seen]
    assert "ping" in [f.event for f in frames]  # pings pass through
    assert message_of(a).to_dict() == upstream.to_dict()
    relayed = rxclaude.MessageStream(reactivex.of(*frames))  # a MessageStream over the relayed frames
    assert (await within(relayed.final_message())).to_dict() == upstream.to_dict()
    await relay.aclose()


async def test_any_frame_observable_works_replay_and_other_threads(http: aiohttp.ClientSession) -> None:
    path = FIXTURES / "tool-use-single-sonnet4.sse"
    frames = decode(path.read_bytes())
    from_file = Relay(rxclaude.replay(path, speed=None))
    done = threading.Event()
    threaded = Relay(
        reactivex.from_iterable(frames, scheduler=NewThreadScheduler()).pipe(
            reactivex.operators.finally_action(done.set)
        )
    )
    await until(lambda: from_file.done and threaded.done)
    assert threaded.stats.last_id == len(frames)  # moved onto the loop, in order
    for relay in (from_file, threaded):
        async with relay.serve() as url:
            status, body = await within(read(http, f"{url}/events"))
        assert status == 200 and body == expected_bytes(frames)
        assert message_of(body).to_dict() == message_of(path.read_bytes()).to_dict()
    done.wait(5)


# -- 2. resume ------------------------------------------------------------------------------------


async def test_resume_with_last_event_id_gets_exactly_the_rest(
    server: MockServer, client: Client, http: aiohttp.ClientSession
) -> None:
    server.enqueue(PACED)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    async with relay.serve() as url:
        full = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        stream.connect()
        decoder, first = SSEDecoder(), []
        async with http.get(f"{url}/events") as r:  # reads a few events, then goes away mid-stream
            async for chunk in r.content.iter_any():
                first += decoder.feed(chunk)
                if len(first) >= 6:
                    break
        last = first[-1].id
        assert last is not None and not relay.done
        status, rest_body = await within(read(http, f"{url}/events", last_event_id=last))
        assert status == 200
        _, whole = await within(full)
        rest = decode(rest_body)
        ids = [int(f.id or 0) for f in first + rest]
        assert ids == list(range(1, relay.last_id + 1))  # contiguous: no gap, no duplicate
        assert rest_body == whole[whole.index(f"id: {last}\n\n".encode()) + len(f"id: {last}\n\n") :]
        assert message_of(whole).to_dict() == (await stream.final_message()).to_dict()

        # after the end: a late client gets the whole replay; the last id gets 204, also as a query parameter
        assert await within(read(http, f"{url}/events")) == (200, whole)
        assert await within(read(http, f"{url}/events", last_event_id=str(relay.last_id))) == (204, b"")
        assert await within(read(http, f"{url}/events?last_event_id={relay.last_id}")) == (204, b"")
        status, tail = await within(read(http, f"{url}/events?last_event_id={relay.last_id - 2}"))
        assert status == 200 and [f.id for f in decode(tail)] == [str(relay.last_id - 1), str(relay.last_id)]
    await relay.aclose()


async def test_ids_outside_the_replay_log_are_clear_errors(http: aiohttp.ClientSession) -> None:
    frames = upstream_frames(RICH)
    relay = Relay(reactivex.from_iterable(frames), replay_events=5)
    n = relay.last_id
    assert n == len(frames) and relay.stats.first_id == n - 4
    async with relay.serve() as url:
        async with http.get(f"{url}/events", headers={"Last-Event-ID": "1"}) as r:
            assert r.status == 410
            body = await r.json()
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
        assert f"oldest id {n - 4}" in body["error"]["message"]
        async with http.post(f"{url}/v1/messages", json=PARAMS) as r:  # an SDK needs the whole stream
            assert r.status == 410 and (await r.json())["error"]["type"] == "not_found_error"
        for bad in ("abc", "-1", "1.5", str(n + 1)):
            async with http.get(f"{url}/events", headers={"Last-Event-ID": bad}) as r:
                assert r.status == 400, bad
                assert (await r.json())["error"]["type"] == "invalid_request_error"
        status, body_bytes = await within(read(http, f"{url}/events", last_event_id=str(n - 5)))  # just in time
        assert status == 200 and len(decode(body_bytes)) == 5
        status, body_bytes = await within(read(http, f"{url}/events"))  # a fresh GET: what is still logged
        assert status == 200 and decode(body_bytes)[0].id == str(n - 4)


# -- 3. slow clients --------------------------------------------------------------------------------


async def test_a_client_that_never_reads_is_dropped_without_slowing_anyone(
    server: MockServer, client: Client, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply.text(["x" * 16384] * 640))  # ~10 MB: more than a stuck socket absorbs (4 MiB max here)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames, client_queue=2)
    async with relay.serve() as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(stuck, (host, int(port)))
            await loop.sock_sendall(stuck, b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await until(lambda: relay.stats.clients == 1)
            fast = asyncio.create_task(read(http, f"{url}/events"))
            await until(lambda: relay.stats.clients == 2)
            upstream = await within(stream.final_message())
            status, body = await within(fast)
        finally:
            stuck.close()
        stats = relay.stats
    assert status == 200 and message_of(body).to_dict() == upstream.to_dict()  # the fast client has it all
    assert len(upstream.text) == 640 * 16384 and not upstream.incomplete  # the upstream was never held up
    assert stats.dropped == 1 and stats.clients == 0
    assert stats.max_queue <= 64  # bounded: the blocked client never held more than client_queue (+ one read burst)
    await relay.aclose()


async def test_a_client_that_stopped_reading_is_cut_off_after_write_timeout_even_if_nothing_follows() -> None:
    """Few, big events and then the end: the queue never overflows, so only the write deadline
    frees the stuck client's handler and connection."""
    hub: Broadcast[Frame] = Broadcast()
    relay = Relay(hub, keepalive=None, write_timeout=0.2)
    async with relay.serve() as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(stuck, (host, int(port)))
            await loop.sock_sendall(stuck, b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await until(lambda: relay.stats.clients == 1)
            for _ in range(40):  # ~8 MB in 40 events: more than a stuck socket absorbs
                hub.on_next(Frame("content_block_delta", "x" * 200_000))
            hub.on_next(Frame("message_stop", '{"type":"message_stop"}'))
            hub.on_completed()
            await until(lambda: relay.stats.clients == 0)
        finally:
            stuck.close()
    assert relay.stats.dropped == 1 and relay.stats.done
    with pytest.raises(ValueError):
        Relay(hub, write_timeout=0)


# -- 4. upstream failures ---------------------------------------------------------------------------


FAILURES = {
    "in-stream error": (Reply.text(["a", "b", "c"]).with_faults(error_after=3), "overloaded_error", "Overloaded"),
    "clean close before message_stop": (
        Reply.text(["a", "b"]).with_faults(close_after=4),
        "api_error",
        "ended before message_stop",
    ),
    "connection reset": (Reply.text(["a", "b"]).with_faults(reset_after_bytes=700), "api_error", "connection lost"),
    "http error before the stream": (Reply.error(529), "overloaded_error", "Overloaded"),
}


@pytest.mark.parametrize("name", list(FAILURES))
async def test_an_upstream_failure_is_one_error_event_then_the_end(
    server: MockServer, client: Client, http: aiohttp.ClientSession, name: str
) -> None:
    reply, error_type, message = FAILURES[name]
    server.enqueue(reply)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    seen: list[Frame] = []
    stream.frames.subscribe(seen.append, lambda e: None)
    async with relay.serve() as url:
        live = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        stream.connect()
        status, body = await within(live)
        assert status == 200
        frames = decode(body)
        assert [f.event for f in frames].count("error") == 1 and frames[-1].event == "error"
        assert body.endswith(b"\n\n") and relay.done
        error = error_of(frames[-1])
        assert error["type"] == error_type and message in error["message"]
        if seen and seen[-1].event == "error":  # the upstream's own event, relayed byte for byte
            assert frames[-1].data == seen[-1].data
        assert KEY not in body.decode()
        with pytest.raises(rxclaude.error_class_for(error_type, 200)):
            message_of(body)
        assert await within(read(http, f"{url}/events", last_event_id=frames[-1].id or "")) == (204, b"")
    with pytest.raises((OverloadedError, IncompleteStreamError, ConnectionLostError)):
        await stream.final_message()
    await relay.aclose()


async def test_cancel_and_close_end_clients_with_an_error(
    server: MockServer, client: Client, http: aiohttp.ClientSession
) -> None:
    server.enqueue(PACED)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    async with relay.serve() as url:
        live = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        stream.connect()
        await until(lambda: relay.last_id >= 5)
        stream.cancel()
        status, body = await within(live)
    frames = decode(body)
    assert status == 200 and frames[-1].event == "error" and [f.event for f in frames].count("error") == 1
    assert error_of(frames[-1])["type"] == "api_error"

    server.enqueue(PACED)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)  # the only subscriber: closing the relay cancels the request
    async with relay.serve() as url:
        live = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        stream.connect()
        await until(lambda: relay.last_id >= 5)
        await relay.aclose()
        status, body = await within(live)
    assert stream.cancelled
    frames = decode(body)
    assert frames[-1].event == "error" and "relay was closed" in error_of(frames[-1])["message"]
    await within(server.wait_idle())


# -- 5. the official SDK, pointed at the relay ----------------------------------------------------


async def test_the_official_sdk_reads_the_relay_as_the_messages_api(
    server: MockServer, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.enqueue(RICH)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    stream.connect()
    async with (
        relay.serve() as url,
        anthropic.AsyncAnthropic(api_key="fake-key-relay", base_url=url, max_retries=0) as sdk,
        sdk.messages.stream(model=MODEL, max_tokens=64, messages=PARAMS["messages"]) as s,
    ):
        got = await within(s.get_final_message())
    upstream = (await within(stream.final_message())).to_dict()
    dumped = got.model_dump(mode="json", exclude_none=True)
    assert dumped["content"] == upstream["content"]  # thinking (+ signature), text, tool_use input
    assert dumped["usage"]["input_tokens"] == 21 and dumped["usage"]["output_tokens"] == 42
    assert {k: dumped[k] for k in ("id", "model", "stop_reason")} == {
        k: upstream[k] for k in ("id", "model", "stop_reason")
    }
    assert got.stop_reason == "tool_use"
    assert "fake-key-relay" not in caplog.text and KEY not in caplog.text
    await relay.aclose()


async def test_the_official_sdk_raises_the_relayed_error(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.text(["a", "b", "c"]).with_faults(error_after=3))
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    stream.connect()
    async with (
        relay.serve() as url,
        anthropic.AsyncAnthropic(api_key="fake-key-relay", base_url=url, max_retries=0) as sdk,
    ):
        with pytest.raises(anthropic.APIError, match="Overloaded"):
            async with sdk.messages.stream(model=MODEL, max_tokens=64, messages=PARAMS["messages"]) as s:
                await within(s.get_final_message())
    await relay.aclose()


# The official TypeScript SDK, where Node.js and the package are at hand (skipped otherwise, as on
# CI: no test reaches a registry). To run it: ``npm install @anthropic-ai/sdk`` in some folder,
# then ``RXCLAUDE_TS_SDK=that/folder python -m pytest tests/test_relay.py``.
TS_SDK = os.environ.get("RXCLAUDE_TS_SDK", "")
TS_SCRIPT = r"""
const { createRequire } = require("module");
const sdk = createRequire(process.env.RXCLAUDE_TS_SDK + "/")("@anthropic-ai/sdk");
const Anthropic = sdk.default ?? sdk;
(async () => {
  const client = new Anthropic({ apiKey: "fake-key-relay", baseURL: process.argv[2], maxRetries: 0 });
  const texts = [];
  try {
    const stream = client.messages.stream(JSON.parse(process.argv[3]));
    stream.on("text", (t) => texts.push(t));
    const message = await stream.finalMessage();
    console.log(JSON.stringify({ texts, message }));
  } catch (e) {
    console.log(JSON.stringify({ texts, error: e.constructor.name, message: String(e.message) }));
  }
})();
"""


async def _typescript_sdk(url: str, tmp_path: Path) -> dict[str, Any]:
    script = tmp_path / "relay_client.cjs"
    script.write_text(TS_SCRIPT, encoding="utf-8")
    node = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        url,
        orjson.dumps(PARAMS).decode(),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "RXCLAUDE_TS_SDK": TS_SDK},
    )
    out, _ = await asyncio.wait_for(node.communicate(), 60)
    result: dict[str, Any] = orjson.loads(out)
    return result


needs_ts_sdk = pytest.mark.skipif(
    shutil.which("node") is None or not (Path(TS_SDK) / "node_modules" / "@anthropic-ai" / "sdk").is_dir(),
    reason="needs Node.js and RXCLAUDE_TS_SDK: a folder where `npm install @anthropic-ai/sdk` was run",
)


@needs_ts_sdk
async def test_the_official_typescript_sdk_reads_the_relay(server: MockServer, client: Client, tmp_path: Path) -> None:
    server.enqueue(RICH)
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    stream.connect()
    async with relay.serve() as url:
        got = await _typescript_sdk(url, tmp_path)
    upstream = (await within(stream.final_message())).to_dict()
    assert "".join(got["texts"]) == "Let me check the weather."  # its live text events
    message = got["message"]
    assert message["content"] == upstream["content"]  # thinking (+ signature), text, tool_use input
    assert {k: message[k] for k in ("id", "model", "stop_reason")} == {
        k: upstream[k] for k in ("id", "model", "stop_reason")
    }
    assert message["usage"]["input_tokens"] == 21 and message["usage"]["output_tokens"] == 42
    await relay.aclose()


@needs_ts_sdk
async def test_the_official_typescript_sdk_raises_the_relayed_error(
    server: MockServer, client: Client, tmp_path: Path
) -> None:
    server.enqueue(Reply.text(["a", "b", "c"]).with_faults(error_after=5))
    stream = client.messages.stream(**PARAMS)
    seen: list[str] = []
    stream.text.subscribe(seen.append, lambda e: None)
    relay = Relay(stream.frames)
    stream.connect()
    async with relay.serve() as url:
        got = await _typescript_sdk(url, tmp_path)
    assert got["error"] in ("APIError", "OverloadedError", "InternalServerError") and "Overloaded" in got["message"]
    assert seen and got["texts"] == seen  # what came before the error, once
    await relay.aclose()


# -- 6. headers, keep-alive, clean shutdown ----------------------------------------------------------


async def test_headers_cors_head_and_preflight(http: aiohttp.ClientSession) -> None:
    relay = Relay(reactivex.from_iterable(upstream_frames(RICH)), cors_origins=["https://app.example"])
    async with relay.serve() as url:
        async with http.get(f"{url}/events", headers={"Origin": "https://app.example"}) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            assert r.headers["Cache-Control"] == "no-cache" and r.headers["X-Accel-Buffering"] == "no"
            assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"  # a listed origin only
            assert r.headers["Vary"] == "Origin"
            assert "request-id" not in r.headers
            await r.read()
        async with http.head(f"{url}/events") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        preflight = {
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, anthropic-version, content-type",
        }
        async with http.options(f"{url}/v1/messages", headers=preflight) as r:
            assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
            assert r.headers["Access-Control-Allow-Headers"] == preflight["Access-Control-Request-Headers"]
        async with http.delete(f"{url}/events") as r:
            assert r.status == 405
    plain = Relay(reactivex.empty())  # completed without message_stop: one error event, id 1
    assert plain.last_id == 1 and plain.done
    async with plain.serve() as url, http.get(f"{url}/events", headers={"Last-Event-ID": "1"}) as r:
        assert r.status == 204 and "Access-Control-Allow-Origin" not in r.headers


async def test_keep_alive_comments_while_idle(server: MockServer, client: Client, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text(["a", "b"]).with_faults(stall_after=3, stall_seconds=0.25))
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames, keepalive=0.05)
    seen: list[Frame] = []
    stream.frames.subscribe(seen.append)
    async with relay.serve() as url:
        live = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        await asyncio.sleep(0.12)  # idle before the upstream starts, too
        stream.connect()
        status, body = await within(live)
    assert status == 200 and body.count(KEEPALIVE) >= 3
    assert body.replace(KEEPALIVE, b"") == expected_bytes(seen)
    assert message_of(body).to_dict() == (await stream.final_message()).to_dict()
    await relay.aclose()


async def test_leaving_serve_ends_responses_cleanly_and_leaks_nothing(
    server: MockServer, client: Client, http: aiohttp.ClientSession
) -> None:
    before = asyncio.all_tasks()
    server.enqueue(Reply.text(["a", "b"]).with_faults(stall_after=3, stall_seconds=30))
    stream = client.messages.stream(**PARAMS)
    relay = Relay(stream.frames)
    async with relay.serve() as url:
        live = asyncio.create_task(read(http, f"{url}/events"))
        await until(lambda: relay.stats.clients == 1)
        stream.connect()
        await until(lambda: relay.last_id == 3)
    status, body = await within(live)  # the response ended cleanly (chunked terminator): no exception
    assert status == 200 and [f.id for f in decode(body)] == ["1", "2", "3"]
    assert relay.stats.clients == 0 and not relay.done  # serve() ends responses; the upstream goes on
    await relay.aclose()
    assert stream.cancelled and relay.done
    await within(server.wait_idle())
    await until(lambda: asyncio.all_tasks() <= before | {asyncio.current_task()})
    gc.collect()  # an unclosed transport or session would warn here (warnings are errors)
    async with relay.serve() as url:  # a closed relay still answers from its log
        status, body = await within(read(http, f"{url}/events"))
        assert status == 200 and decode(body)[-1].event == "error"


async def test_the_handler_in_your_own_app_and_a_large_post_body(http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    frames = upstream_frames(RICH)
    hub: rxclaude.operators.Broadcast[Frame] = rxclaude.operators.Broadcast()
    relay = Relay(hub)
    app = web.Application()
    app.router.add_get("/stream/{name}", relay.handler)
    app.router.add_post("/v1/messages", relay.handler)
    app.on_shutdown.append(relay.on_shutdown)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.SockSite(runner, socket.create_server(("127.0.0.1", 0)))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # 3 MiB announced: refused unread
        writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3145728\r\n\r\n{")
        assert (await within(reader.readuntil(b"\r\n"))).startswith(b"HTTP/1.1 413")  # 64 KiB at most
        writer.close()
        within_limit = {**PARAMS, "messages": [{"role": "user", "content": "x" * (60 * 1024)}]}
        body = io.BytesIO(orjson.dumps(within_limit))  # streamed (chunked): read and dropped
        async with http.post(f"{url}/v1/messages", data=body, headers={"content-type": "application/json"}) as r:
            assert r.status == 200
            for frame in frames[:3]:
                hub.on_next(frame)
            first = await within(r.content.readuntil(b"id: 3\n\n"))
        assert first == expected_bytes(frames[:3])
        live = asyncio.create_task(read(http, f"{url}/stream/x", last_event_id="3"))
        await until(lambda: relay.stats.served == 2)
        await within(relay.on_shutdown(app))  # what runner.cleanup() calls: ends the open response at once
        status, rest = await within(live)
        assert status == 200 and rest == b"" and relay.stats.clients == 0 and not relay.done
        # a request that races the shutdown (accepted before the site stopped) gets the backlog, then the end
        assert await within(read(http, f"{url}/stream/y")) == (200, expected_bytes(frames[:3]))
    finally:
        await within(runner.cleanup())
    await relay.aclose()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
async def test_a_real_browser_follows_the_relay_and_resumes_after_a_drop(tmp_path: Path) -> None:
    """Headless Chromium, a plain ``EventSource`` on a ``file://`` page (so CORS is exercised):
    the connection is cut mid-stream, the browser reconnects with ``Last-Event-ID`` by itself,
    and the page ends with the whole text exactly once."""
    pieces = [f"word{i} " for i in range(60)] + ["Olá 👋 — done."]
    async with MockServer() as server:
        server.enqueue(Reply.text(pieces).with_faults(tokens_per_second=40))
        async with Client(api_key=KEY, base_url=server.url) as client:
            stream = client.messages.stream(**PARAMS)
            relay = Relay(stream.frames, cors_origins=["http://127.0.0.1"])
            async with relay.serve() as url:
                page = tmp_path / "page.html"
                page.write_text(
                    f"""<!doctype html><html><body><pre id="out"></pre><div id="state">open</div>
<script>
const es = new EventSource("{url}/events");
es.addEventListener("content_block_delta", (e) => {{
  const d = JSON.parse(e.data).delta;
  if (d.type === "text_delta") document.getElementById("out").textContent += d.text; }});
es.addEventListener("message_stop", () => {{ es.close(); document.getElementById("state").textContent = "stopped"; }});
</script></body></html>""",
                    encoding="utf-8",
                )
                stream.connect()
                browser = await asyncio.create_subprocess_exec(
                    "chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--virtual-time-budget=15000",
                    "--dump-dom",
                    page.as_uri(),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await until(lambda: relay.stats.clients == 1 and relay.last_id >= 25, 30)
                relay._clients[0].transport.abort()  # the network drops the browser mid-stream
                message = await within(stream.final_message(), 30)
                dom, _ = await asyncio.wait_for(browser.communicate(), 60)
            await relay.aclose()
    text = dom.decode("utf-8")
    assert message.text == "".join(pieces)
    assert message.text in text and text.count("word10 ") == 1 and ">stopped<" in text
    assert relay.stats.served == 2  # the first connection, then the browser's own reconnect
