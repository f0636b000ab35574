"""rxclaude.testing: the embedded mock Anthropic server and its pure SSE helpers."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web

from rxclaude.testing import (
    PING_FRAME,
    SERVER_KEY,
    MockServer,
    Reply,
    accumulate,
    events_from_sse,
    frame_event,
    parse_sse,
    split_frames,
    split_text,
    sse_bytes,
    sse_frame,
    synthesize,
    synthesize_events,
    synthesize_frames,
)

FIXTURES = Path(__file__).parent / "fixtures"
MODEL = "claude-sonnet-4-6"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Say hi"}],
    "stream": True,
}


async def post(
    http: aiohttp.ClientSession,
    server: MockServer,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    path: str = "/v1/messages",
) -> tuple[int, Mapping[str, str], bytes]:
    payload = orjson.dumps(BODY if body is None else body)
    async with http.post(
        server.url + path, data=payload, headers=server.headers() if headers is None else headers
    ) as r:
        return r.status, r.headers, await r.read()


@pytest.fixture
async def server() -> Any:
    async with MockServer() as s:
        yield s


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


# -- pure helpers -------------------------------------------------------------------------------


def test_sse_frame_and_ping_are_byte_exact() -> None:
    assert sse_frame("ping", {"type": "ping"}) == PING_FRAME == b'event: ping\ndata: {"type": "ping"}\n\n'
    assert sse_frame("message_stop", {"type": "message_stop"}, pad=3) == (
        b'event: message_stop\ndata: {"type":"message_stop"   }\n\n'
    )
    assert sse_frame("x", "a\nb") == b"event: x\ndata: a\ndata: b\n\n"
    body = sse_bytes([{"type": "ping"}, ("custom", {"type": "other", "t": "é"})])
    assert body == PING_FRAME + 'event: custom\ndata: {"type":"other","t":"é"}\n\n'.encode()
    assert parse_sse(body + b"event: cut\ndata: {}") == [
        ("ping", '{"type": "ping"}'),
        ("custom", '{"type":"other","t":"é"}'),
    ]


def test_split_text_is_lossless_and_tokenish() -> None:
    text = "Hello there, how are you?\n\nI'm fine — thanks!  "
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert len(pieces) > 5 and all(len(p) < 20 for p in pieces)
    assert split_text("") == []


def test_synthesize_mirrors_the_real_stream_shape() -> None:
    tools = [{"name": "weather", "input": {"location": "Florence, Italy"}, "id": "toolu_01AAAAAAAAAAAAAAAAAAAAAA"}]
    body = synthesize("Let me check the weather.", thinking="User wants weather.", tool_uses=tools, seed=7)
    assert b"\r" not in body and body.endswith(b"\n\n")
    events = events_from_sse(body)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[-2:] == ["message_delta", "message_stop"]
    start = events[0]["message"]
    assert list(start) == [
        "model", "id", "type", "role", "content", "stop_reason", "stop_sequence", "stop_details", "usage",
    ]  # fmt: skip
    assert start["id"].startswith("msg_01") and len(start["id"]) == 28
    assert list(start["usage"]) == [
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation",
        "output_tokens", "service_tier", "inference_geo",
    ]  # fmt: skip
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    thinking = [d for d in deltas if d["type"] in ("thinking_delta", "signature_delta")]
    assert thinking[-2] == {"type": "thinking_delta", "thinking": ""}
    assert thinking[-1]["type"] == "signature_delta"
    tool_json = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert tool_json[0] == "" and len(tool_json) > 3
    # padding sits before the final brace, as in the recordings; pings are never padded
    assert any(line.endswith(b" }") for line in body.split(b"\n"))
    assert b'{"type": "ping"}\n' in body
    message = accumulate(events)
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][0]["thinking"] == "User wants weather."
    assert message["content"][1]["text"] == "Let me check the weather."
    assert message["content"][2]["input"] == {"location": "Florence, Italy"}
    assert message["content"][2]["id"] == "toolu_01AAAAAAAAAAAAAAAAAAAAAA"
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["output_tokens"] == len(
        [d for d in deltas if any(d.get(k) for k in ("text", "thinking", "partial_json"))]
    )
    assert synthesize("same", seed=1) == synthesize("same", seed=1)


def test_synthesize_options() -> None:
    only_tool = synthesize_events("", tool_uses=[{"name": "f", "input": {}}], usage={"cache_read_input_tokens": 9})
    assert [e["content_block"]["type"] for e in only_tool if e["type"] == "content_block_start"] == ["tool_use"]
    assert only_tool[-2]["usage"]["cache_read_input_tokens"] == 9
    stopped = accumulate(synthesize_events("a b", stop_sequence="END", padding=False, ping=False))
    assert stopped["stop_reason"] == "stop_sequence" and stopped["stop_sequence"] == "END"
    assert accumulate(synthesize_events(""))["content"] == [{"type": "text", "text": ""}]


def test_synthesize_a_huge_stream_quickly() -> None:
    started = time.perf_counter()
    frames = synthesize_frames([" tok"] * 200_000, padding=False)
    elapsed = time.perf_counter() - started
    assert len(frames) == 200_000 + 6
    assert frames[3] == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":" tok"}}\n\n'
    )
    assert frame_event(frames[3]) == "content_block_delta"
    assert elapsed < 2.0


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.sse")), ids=lambda p: p.name)
def test_split_frames_is_lossless_on_recordings(path: Path) -> None:
    raw = path.read_bytes()
    frames = split_frames(raw)
    assert b"".join(frames) == raw
    assert all(frame_event(f) for f in frames)


def test_accumulate_matches_recorded_expectations() -> None:
    msg = accumulate(events_from_sse((FIXTURES / "text-basic-sonnet4.sse").read_bytes()))
    assert msg["id"] == "msg_01R8GdyyLQUhUfyjqSCMbnWg"
    assert msg["content"][0]["text"].startswith("Olá! (That's")
    assert len(msg["content"][0]["text"]) == 110
    assert (msg["usage"]["input_tokens"], msg["usage"]["output_tokens"]) == (16, 38)
    tool = accumulate(events_from_sse((FIXTURES / "tool-use-parallel-sonnet4.sse").read_bytes()))
    assert [b.get("input") for b in tool["content"][1:]] == [{"a": 2, "b": 3}, {"a": 2, "b": 3}]
    with pytest.raises(ValueError):
        accumulate(events_from_sse((FIXTURES / "fragment-midstream-api-error.sse").read_bytes()))


# -- the server: happy paths --------------------------------------------------------------------


async def test_streamed_reply_headers_and_body(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("Hello there!", id="msg_01XXXXXXXXXXXXXXXXXXXXXX"))
    status, headers, body = await post(http, server)
    assert status == 200
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["transfer-encoding"] == "chunked"
    assert headers["request-id"].startswith("req_011C")
    assert headers["request-id"] == server.last_request.request_id
    for name in ("requests", "input-tokens", "output-tokens", "tokens"):
        assert int(headers[f"anthropic-ratelimit-{name}-limit"]) > 0
        assert headers[f"anthropic-ratelimit-{name}-reset"].endswith("Z")
    message = accumulate(events_from_sse(body))
    assert message["model"] == MODEL  # echoes the request's model
    assert message["id"] == "msg_01XXXXXXXXXXXXXXXXXXXXXX"
    assert message["content"] == [{"type": "text", "text": "Hello there!"}]
    rec = server.last_request
    assert rec.completed and not rec.disconnected and rec.stream
    assert rec.bytes_sent == len(body) and rec.events_sent == len(split_frames(body))
    assert server.open_streams == 0


async def test_non_streamed_request_gets_the_accumulated_message(
    server: MockServer, http: aiohttp.ClientSession
) -> None:
    reply = Reply.text("Same reply.", thinking="t", id="msg_01YYYYYYYYYYYYYYYYYYYYYY", signature="sig")
    server.enqueue(reply)
    status, headers, body = await post(http, server, {**BODY, "stream": False})
    assert status == 200 and headers["content-type"] == "application/json"
    got = orjson.loads(body)
    assert got == reply.message(BODY)
    assert got["content"][0] == {"type": "thinking", "thinking": "t", "signature": "sig"}
    assert list(got)[:4] == ["model", "id", "type", "role"]


async def test_recorded_fixture_replays_byte_for_byte(server: MockServer, http: aiohttp.ClientSession) -> None:
    for name in ("text-basic-sonnet4.sse", "web-search-citations-sonnet4.sse"):
        raw = (FIXTURES / name).read_bytes()
        server.enqueue(Reply.from_sse(FIXTURES / name))
        _, _, body = await post(http, server)
        assert body == raw


async def test_queue_is_fifo_then_default_echo(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("first"), Reply.text("second"))
    assert server.pending == 2
    texts = []
    for _ in range(3):
        _, _, body = await post(http, server)
        texts.append(accumulate(events_from_sse(body))["content"][0]["text"])
    assert texts == ["first", "second", "Say hi"]
    assert server.pending == 0
    server.reset()
    assert server.requests == []


async def test_requests_are_recorded(server: MockServer, http: aiohttp.ClientSession) -> None:
    await post(http, server, path="/v1/messages?beta=true", headers={**server.headers(), "Anthropic-Beta": "x-1"})
    rec = server.requests[0]
    assert (rec.method, rec.path, rec.query) == ("POST", "/v1/messages", {"beta": "true"})
    assert rec.headers["anthropic-beta"] == "x-1"  # case-insensitive
    assert rec.json == BODY and orjson.loads(rec.body) == BODY
    assert rec.status == 200 and rec.finished
    assert "mock-key" not in repr(rec)  # header values stay out of reprs


async def test_large_and_multipart_bodies(http: aiohttp.ClientSession) -> None:
    async def upload(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        return web.json_response({"filename": form["file"].filename})  # type: ignore[union-attr]

    async with MockServer(routes=[web.post("/v1/files", upload)], client_max_size=1000) as server:
        status, _, body = await post(http, server, {**BODY, "pad": "x" * 2000})
        assert status == 413 and orjson.loads(body)["error"]["type"] == "request_too_large"
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
        async with http.post(server.url + "/v1/files", data=form) as r:
            assert r.status == 200 and (await r.json()) == {"filename": "a.pdf"}
        assert server.last_request.path == "/v1/files"


async def test_count_tokens(server: MockServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await post(
        http, server, {"model": MODEL, "messages": BODY["messages"]}, path="/v1/messages/count_tokens"
    )
    assert status == 200 and orjson.loads(body)["input_tokens"] > 0


# -- header and body checks ---------------------------------------------------------------------


async def test_missing_key_is_401(server: MockServer, http: aiohttp.ClientSession) -> None:
    status, headers, body = await post(http, server, headers={"anthropic-version": "2023-06-01"})
    assert status == 401
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
        "request_id": headers["request-id"],
    }


async def test_any_key_or_bearer_is_accepted_by_default(server: MockServer, http: aiohttp.ClientSession) -> None:
    status, _, _ = await post(http, server, headers={"x-api-key": "whatever", "anthropic-version": "2026-10-21"})
    assert status == 200
    status, _, _ = await post(http, server, headers={"authorization": "Bearer tok", "anthropic-version": "2023-06-01"})
    assert status == 200


async def test_required_key(http: aiohttp.ClientSession) -> None:
    async with MockServer(require_key="the-key") as server:
        assert server.api_key == "the-key"
        status, _, body = await post(http, server, headers={"x-api-key": "nope", "anthropic-version": "2023-06-01"})
        assert status == 401 and orjson.loads(body)["error"]["message"] == "invalid x-api-key"
        status, _, _ = await post(
            http, server, headers={"authorization": "Bearer the-key", "anthropic-version": "2026-10-21"}
        )
        assert status == 200


async def test_missing_version_is_400(server: MockServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await post(http, server, headers={"x-api-key": "k"})
    assert status == 400
    assert orjson.loads(body)["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }


MSG = [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 5, "messages": MSG}, "model: Field required"),
        ({"model": 3, "max_tokens": 5, "messages": MSG}, "model: Input should be a valid string"),
        ({"model": "m", "messages": MSG}, "max_tokens: Field required"),
        (
            {"model": "m", "max_tokens": 0, "messages": MSG},
            "max_tokens: Input should be greater than or equal to 1",
        ),
        ({"model": "m", "max_tokens": "5", "messages": MSG}, "max_tokens: Input should be a valid integer"),
        ({"model": "m", "max_tokens": 5}, "messages: Field required"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages: at least one message is required"),
        ([1, 2], "Input should be a valid dictionary"),
    ],
)
async def test_invalid_bodies_are_400(server: MockServer, http: aiohttp.ClientSession, body: Any, message: str) -> None:
    server.enqueue(Reply.text("kept for the next valid request"))
    status, _, raw = await post(http, server, body)
    assert status == 400
    assert orjson.loads(raw)["error"] == {"type": "invalid_request_error", "message": message}
    assert server.pending == 1  # rejected requests do not consume replies


async def test_invalid_json_is_400(server: MockServer, http: aiohttp.ClientSession) -> None:
    async with http.post(server.url + "/v1/messages", data=b"{nope", headers=server.headers()) as r:
        assert r.status == 400
        assert (await r.json())["error"]["type"] == "invalid_request_error"
    assert server.last_request.json is None and server.last_request.body == b"{nope"


async def test_unknown_route_is_a_json_404(server: MockServer, http: aiohttp.ClientSession) -> None:
    status, _, body = await post(http, server, path="/v1/nothing")
    assert status == 404 and orjson.loads(body)["error"]["type"] == "not_found_error"


# -- error replies ------------------------------------------------------------------------------


async def test_error_reply_shape_and_retry_headers(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.error(429, retry_after=2, retry_after_ms=1500, should_retry=False))
    server.enqueue(Reply.error(500, "api_error", "boom"))
    status, headers, body = await post(http, server)
    assert status == 429
    assert (headers["retry-after"], headers["retry-after-ms"], headers["x-should-retry"]) == (
        "2",
        "1500",
        "false",
    )
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."},
        "request_id": headers["request-id"],
    }
    status, _, body = await post(http, server, {**BODY, "stream": False})
    assert status == 500 and orjson.loads(body)["error"] == {"type": "api_error", "message": "boom"}


async def test_json_and_raw_replies(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(
        Reply.json({"ok": True}, status=202),
        Reply.raw(b"<html>bad gateway</html>", status=502, content_type="text/html"),
    )
    status, headers, body = await post(http, server)
    assert (status, headers["content-type"], orjson.loads(body)) == (202, "application/json", {"ok": True})
    status, headers, body = await post(http, server)
    assert (status, headers["content-type"], body) == (502, "text/html", b"<html>bad gateway</html>")


# -- faults -------------------------------------------------------------------------------------


async def test_error_after_ends_with_an_error_event(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("one two three four five six").with_faults(error_after=4))
    status, _, body = await post(http, server)
    assert status == 200
    events = parse_sse(body)
    assert len(events) == 5 and events[-1][0] == "error"
    error = orjson.loads(events[-1][1])
    assert error["error"]["type"] == "overloaded_error" and error["error"]["message"] == "Overloaded"
    assert b"message_stop" not in body
    assert server.last_request.completed  # the body ended cleanly after the error
    # the same fault on a non-streamed request is the HTTP error
    server.enqueue(Reply.text("x").with_faults(error_after=1, error_type="api_error"))
    status, _, body = await post(http, server, {**BODY, "stream": False})
    assert status == 500 and orjson.loads(body)["error"]["type"] == "api_error"


async def test_recorded_in_stream_error_maps_to_http_error_when_not_streaming(
    server: MockServer, http: aiohttp.ClientSession
) -> None:
    raw = synthesize("hi", padding=False)
    server.enqueue(
        Reply.from_sse(
            raw[: raw.index(b"event: content_block_stop")] + (FIXTURES / "docs-error-overloaded.sse").read_bytes()
        )
    )
    status, _, body = await post(http, server, {**BODY, "stream": False})
    assert status == 529 and orjson.loads(body)["error"]["type"] == "overloaded_error"


async def test_close_after_ends_without_message_stop(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("a b c d").with_faults(close_after=3))
    _, _, body = await post(http, server)
    assert [e for e, _ in parse_sse(body)] == ["message_start", "content_block_start", "ping"]


async def test_malformed_after_inserts_invalid_json(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("a b c d").with_faults(malformed_after=2))
    _, _, body = await post(http, server)
    frames = split_frames(body)
    assert frame_event(frames[2]) == "content_block_delta"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(parse_sse(frames[2])[0][1])
    assert frame_event(frames[-1]) == "message_stop"


async def test_reset_after_bytes_aborts_the_connection(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("word " * 200).with_faults(reset_after_bytes=700))
    received = b""
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientOSError, ConnectionResetError)):
        async with http.post(server.url + "/v1/messages", json=BODY, headers=server.headers()) as r:
            assert r.status == 200
            async for chunk in r.content.iter_any():
                received += chunk
    assert 0 < len(received) <= 700
    rec = server.last_request
    await rec.wait_finished(2)
    assert rec.reset and not rec.completed and not rec.disconnected and rec.bytes_sent == 700


async def test_drip_and_chunk_size_rechunk_the_body(server: MockServer, http: aiohttp.ClientSession) -> None:
    expected = synthesize("Hi!", id="msg_01ZZZZZZZZZZZZZZZZZZZZZZ", model=MODEL, input_tokens=3)
    server.enqueue(Reply.from_sse(expected * 50).with_faults(chunk_size=65536))
    _, _, body = await post(http, server)
    assert body == expected * 50
    for faults in ({"drip": True}, {"chunk_size": 7}):
        server.enqueue(Reply.from_sse(expected).with_faults(**faults))
        chunks = []
        async with http.post(server.url + "/v1/messages", json=BODY, headers=server.headers()) as r:
            async for chunk in r.content.iter_any():
                chunks.append(chunk)
        assert b"".join(chunks) == expected
        assert len(chunks) > 20
        assert max(len(c) for c in chunks) < len(expected) // 4


async def test_pacing_and_pings(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text(["a"] * 10).with_faults(tokens_per_second=100))
    started = time.perf_counter()
    await post(http, server)
    assert time.perf_counter() - started >= 0.09
    server.enqueue(Reply.text(["a", "b"], padding=False).with_faults(delay=0.04, ping_every=0.015))
    _, _, body = await post(http, server)
    assert [e for e, _ in parse_sse(body)].count("ping") >= 6  # 1 scripted + ~2 in each of 7 pauses
    assert accumulate(events_from_sse(body))["content"][0]["text"] == "ab"


async def test_headers_delay(server: MockServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply.text("late").with_faults(headers_delay=0.1))
    started = time.perf_counter()
    async with http.post(server.url + "/v1/messages", json=BODY, headers=server.headers()) as r:
        assert time.perf_counter() - started >= 0.09
        await r.read()


async def test_stall_keeps_the_connection_open_and_disconnect_is_seen(
    server: MockServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply.text("never finishes").with_faults(stall_after=3))
    received = b""
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            server.url + "/v1/messages",
            json=BODY,
            headers=server.headers(),
            timeout=aiohttp.ClientTimeout(sock_read=0.2),
        ) as r:
            async for chunk in r.content.iter_any():
                received += chunk
    assert [e for e, _ in parse_sse(received)] == ["message_start", "content_block_start", "ping"]
    started = time.perf_counter()
    rec = await server.wait_disconnect(timeout=2)
    assert time.perf_counter() - started < 1.0
    assert rec is server.last_request and rec.disconnected and not rec.completed
    await server.wait_idle(1)
    assert server.open_streams == 0


async def test_cancelling_a_reader_closes_the_connection_promptly(
    server: MockServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply.text(["tok"] * 1000).with_faults(tokens_per_second=200))
    first = asyncio.Event()

    async def consume() -> None:
        async with http.post(server.url + "/v1/messages", json=BODY, headers=server.headers()) as r:
            async for _ in r.content.iter_any():
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    assert server.open_streams == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rec = await server.wait_disconnect(timeout=1)
    await rec.wait_disconnected(0.1)
    assert 0 < rec.events_sent < 1000 and not rec.completed
    await server.wait_idle(1)
    with pytest.raises(TimeoutError):
        await server.wait_disconnect(timeout=0.05, count=2)


async def test_close_aborts_open_streams_quickly(http: aiohttp.ClientSession) -> None:
    server = await MockServer().start()
    server.enqueue(Reply.text("x").with_faults(stall_after=1))
    async with http.post(server.url + "/v1/messages", json=BODY, headers=server.headers()) as r:
        await r.content.readuntil(b"\n\n")
        started = time.perf_counter()
        await server.close()
        assert time.perf_counter() - started < 1.5
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert not server.last_request.disconnected
    await server.close()  # idempotent


# -- extension points ---------------------------------------------------------------------------


async def test_extra_routes_and_plugins(http: aiohttp.ClientSession) -> None:
    async def files(request: web.Request) -> web.StreamResponse:
        srv = request.app[SERVER_KEY]
        return srv.error_response(srv.record_for(request), 404, "not_found_error", "no such file")

    def vertex_plugin(srv: MockServer) -> None:
        async def raw_predict(request: web.Request) -> web.StreamResponse:
            s = request.app[SERVER_KEY]
            return await s.serve_reply(request, s.next_reply(), stream=True, frame_encoder=lambda f: f.upper())

        srv.add_route("POST", "/v1/projects/{project}/models/{model}:streamRawPredict", raw_predict)

    async with MockServer(routes=[web.get("/v1/files/{file_id}", files)], plugins=[vertex_plugin]) as server:
        async with http.get(server.url + "/v1/files/file_1") as r:
            assert r.status == 404 and (await r.json())["error"]["message"] == "no such file"
        server.enqueue(Reply.text("vertex"))
        status, _, body = await post(http, server, path="/v1/projects/p/models/m:streamRawPredict")
        assert status == 200 and b"EVENT: MESSAGE_START" in body
        assert [r.path for r in server.requests] == [
            "/v1/files/file_1",
            "/v1/projects/p/models/m:streamRawPredict",
        ]
        with pytest.raises(RuntimeError):
            server.add_route("GET", "/late", files)


def test_running_in_thread_for_sync_code() -> None:
    with MockServer().running_in_thread() as server:
        server.enqueue(Reply.text("sync hello"))
        req = urllib.request.Request(
            server.url + "/v1/messages",
            data=orjson.dumps({**BODY, "stream": False}),
            headers=server.headers(),
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert orjson.loads(resp.read())["content"][0]["text"] == "sync hello"
        assert len(server.requests) == 1


# -- conformance with the official SDK ----------------------------------------------------------


async def test_official_sdk_streams_the_synthesized_reply(server: MockServer) -> None:
    tools = [{"name": "weather", "input": {"city": "Rome"}}]
    server.enqueue(Reply.text("Hello there, friend!", thinking="Greet.", tool_uses=tools, signature="sig"))
    server.enqueue(Reply.text("Plain reply."))
    async with anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url, max_retries=0) as client:
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=BODY["messages"]) as stream:
            texts = [t async for t in stream.text_stream]
            final = await stream.get_final_message()
        assert "".join(texts) == "Hello there, friend!"
        assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
        assert final.content[0].thinking == "Greet." and final.content[0].signature == "sig"
        assert final.content[2].input == {"city": "Rome"} and final.content[2].id.startswith("toolu_01")
        assert final.stop_reason == "tool_use" and final.model == MODEL
        created = await client.messages.create(model=MODEL, max_tokens=64, messages=BODY["messages"])
        assert created.content[0].text == "Plain reply." and created.stop_reason == "end_turn"
    assert server.requests[0].headers.get("authorization") == f"Bearer {server.api_key}" or (
        server.requests[0].headers.get("x-api-key") == server.api_key
    )


async def test_official_sdk_replays_a_recording_identically(server: MockServer) -> None:
    server.enqueue(Reply.from_sse(FIXTURES / "thinking-then-tool-use-sonnet4.sse"))
    client = anthropic.AsyncAnthropic(api_key="any", base_url=server.url, max_retries=0)
    async with (
        client,
        client.messages.stream(model=MODEL, max_tokens=64, messages=BODY["messages"]) as stream,
    ):
        final = await stream.get_final_message()
    assert final.id == "msg_01KTBB57LAzaSZs8kMNvfnsY"
    assert final.content[0].type == "thinking" and len(final.content[0].thinking) == 301
    assert final.content[0].signature.startswith("EtYDCkYICxgCKkAV")
    assert final.content[1].input == {"location": "Florence, Italy"}
    assert (final.usage.input_tokens, final.usage.output_tokens) == (424, 119)


async def test_official_sdk_raises_overloaded_after_retries(server: MockServer) -> None:
    server.enqueue(*[Reply.error(529, retry_after_ms=5)] * 3)
    async with anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=2) as client:
        with pytest.raises(anthropic.OverloadedError) as info:
            async with client.messages.stream(model=MODEL, max_tokens=64, messages=BODY["messages"]) as stream:
                await stream.get_final_message()
    assert info.value.status_code == 529
    assert info.value.request_id == server.requests[-1].request_id
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == ["0", "1", "2"]


async def test_official_sdk_surfaces_an_in_stream_error(server: MockServer) -> None:
    server.enqueue(Reply.text("partial text here").with_faults(error_after=4))
    async with anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            async with client.messages.stream(model=MODEL, max_tokens=64, messages=BODY["messages"]) as stream:
                await stream.get_final_message()
    assert "overloaded_error" in str(info.value)
    assert len(server.requests) == 1  # stream errors are not retried
