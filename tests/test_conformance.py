"""The final Message equals the official SDK's accumulation, on every recording and chunking."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import reactivex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rxclaude
from rxclaude import operators as ops

from .helpers import FIXTURES, chunkings

anthropic = pytest.importorskip("anthropic")
from anthropic._streaming import SSEDecoder as SDKDecoder  # noqa: E402
from anthropic.lib.streaming._beta_messages import accumulate_event  # noqa: E402

ERROR_FIXTURES = {"docs-error-overloaded.sse", "fragment-midstream-api-error.sse"}
MESSAGE_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.sse") if p.name not in ERROR_FIXTURES)


def sdk_message(data: bytes) -> dict[str, Any]:
    """What the official SDK (2.x) accumulates from these bytes."""
    snapshot = None
    bufs: dict[int, bytes] = {}
    import httpx2 as httpx

    for sse in SDKDecoder().iter_bytes(iter([data])):
        if sse.event in ("ping", None) or not sse.data:
            continue
        snapshot = accumulate_event(
            event=orjson.loads(sse.data),
            current_snapshot=snapshot,
            json_bufs=bufs,
            request_headers=httpx.Headers(),
        )
    assert snapshot is not None
    return snapshot.to_dict(mode="json")


def ours(chunks: list[bytes]) -> rxclaude.Message:
    result: list[rxclaude.Message] = []
    errors: list[Exception] = []
    reactivex.from_iterable(chunks).pipe(ops.frames(), ops.parse(), ops.message()).subscribe(
        result.append, errors.append
    )
    if errors:
        raise errors[0]
    assert len(result) == 1
    return result[0]


@pytest.mark.parametrize("name", MESSAGE_FIXTURES)
def test_final_message_equals_sdk(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    expected = sdk_message(data)
    for how, chunks in chunkings(data):
        got = ours(chunks).to_dict()
        assert got == expected, (name, how)


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"   \n\n" for e in events)


def every_block_type_stream(pieces: int = 3) -> bytes:
    """A generated stream holding every GA and beta block and delta type."""
    ev: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_gen",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-6",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "stop_details": None,
                "usage": {
                    "input_tokens": 10,
                    "cache_creation_input_tokens": 2,
                    "cache_read_input_tokens": 3,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        },
        {"type": "ping"},
    ]
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal index
        ev.append({"type": "content_block_start", "index": index, "content_block": start})
        ev.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        ev.append({"type": "content_block_stop", "index": index})
        index += 1

    block(
        {"type": "thinking", "thinking": "", "signature": ""},
        [{"type": "thinking_delta", "thinking": f"step {i}. "} for i in range(pieces)]
        + [{"type": "thinking_delta", "thinking": ""}, {"type": "signature_delta", "signature": "c2ln"}],
    )
    block({"type": "redacted_thinking", "data": "EqkE"}, [])
    block(
        {"type": "text", "text": ""},
        [
            {
                "type": "citations_delta",
                "citation": {
                    "type": "char_location",
                    "cited_text": "a",
                    "document_index": 0,
                    "document_title": "d",
                    "start_char_index": 0,
                    "end_char_index": 1,
                    "file_id": None,
                },
            },
            {
                "type": "citations_delta",
                "citation": {
                    "type": "page_location",
                    "cited_text": "b",
                    "document_index": 1,
                    "document_title": None,
                    "start_page_number": 1,
                    "end_page_number": 2,
                },
            },
        ]
        + [{"type": "text_delta", "text": f"Olá {i} 👋 "} for i in range(pieces)],
    )
    tool_json = orjson.dumps({"location": "Florence, Italy", "days": [1, 2, 3], "unit": None}).decode()
    frags = [""] + [tool_json[i : i + 5] for i in range(0, len(tool_json), 5)]
    block(
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}, "caller": {"type": "direct"}},
        [{"type": "input_json_delta", "partial_json": f} for f in frags],
    )
    block(
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        [
            {"type": "input_json_delta", "partial_json": '{"query": "tokyo'},
            {"type": "input_json_delta", "partial_json": ' population"}'},
        ],
    )
    block(
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": [
                {
                    "type": "web_search_result",
                    "title": "T",
                    "url": "https://x",
                    "encrypted_content": "E",
                    "page_age": None,
                }
            ],
        },
        [],
    )
    block(
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "ask", "server_name": "deepwiki", "input": {}},
        [{"type": "input_json_delta", "partial_json": '{"q": 1}'}],
    )
    block(
        {
            "type": "mcp_tool_result",
            "tool_use_id": "mcptoolu_1",
            "is_error": False,
            "content": [{"type": "text", "text": "ok"}],
        },
        [],
    )
    block(
        {
            "type": "bash_code_execution_tool_result",
            "tool_use_id": "srvtoolu_2",
            "content": {
                "type": "bash_code_execution_result",
                "stdout": "1\n",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        },
        [],
    )
    block({"type": "container_upload", "file_id": "file_1"}, [])
    block(
        {"type": "compaction", "content": None},
        [{"type": "compaction_delta", "content": "summary", "encrypted_content": None}],
    )
    block({"type": "text", "text": ""}, [{"type": "text_delta", "text": "done."}])
    ev.append(
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "container": {"id": "container_1", "expires_at": "2026-04-24T11:13:36.730129Z"},
            },
            "usage": {"input_tokens": 20, "output_tokens": 99, "server_tool_use": {"web_search_requests": 1}},
        }
    )
    ev.append({"type": "message_stop"})
    return sse(ev)


def test_generated_every_block_type_equals_sdk() -> None:
    data = every_block_type_stream()
    expected = sdk_message(data)
    for how, chunks in chunkings(data, seed=7):
        assert ours(chunks).to_dict() == expected, how


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_chunking_gives_the_same_message(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([*MESSAGE_FIXTURES, "<generated>"]))
    raw = every_block_type_stream(2) if name == "<generated>" else (FIXTURES / name).read_bytes()
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=30))))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert ours(chunks).to_dict() == sdk_message(raw)


def test_overloaded_recording_is_a_typed_error() -> None:
    data = (FIXTURES / "docs-error-overloaded.sse").read_bytes()
    for _, chunks in chunkings(data):
        with pytest.raises(rxclaude.OverloadedError) as info:
            ours(chunks)
        assert info.value.message == "Overloaded"
        assert info.value.type == "overloaded_error"
        assert info.value.in_stream and info.value.status_code == 200


def test_midstream_api_error_fragment() -> None:
    data = (FIXTURES / "fragment-midstream-api-error.sse").read_bytes()
    seen: list[str] = []
    errors: list[Exception] = []
    frames = reactivex.from_iterable([data]).pipe(ops.frames(), ops.parse())
    frames.pipe(ops.text()).subscribe(seen.append, errors.append)
    assert "".join(seen) == "d with a replacement character ("
    assert isinstance(errors[0], rxclaude.InternalServerError)
    assert errors[0].message == "Internal server error"
    # The accumulator refuses a stream that does not begin with message_start, as the SDK does.
    with pytest.raises(rxclaude.EventOrderError):
        ours([data.split(b"event: error")[0]])
