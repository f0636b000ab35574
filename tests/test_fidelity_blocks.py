"""Issue 11, items 1, 2 and 5 against the mock: per-tool input mode and invalid eager JSON as a
value; blocks pre-filled in ``message_start``; the newer blocks and fields typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import reactivex

import rxclaude
from rxclaude import Client
from rxclaude import operators as ops
from rxclaude.core.blocks import (
    AdvisorToolResultBlock,
    CodeExecutionToolResultBlock,
    FallbackBlock,
    MCPToolListingBlock,
    ServerToolUseBlock,
    TextBlock,
    ToolUseBlock,
    UnknownBlock,
)
from rxclaude.core.errors import ToolInputError
from rxclaude.core.events import Event
from rxclaude.core.frame import Frame
from rxclaude.core.parse import parse_frame
from rxclaude.core.toolmode import FINE_GRAINED_BETA, ToolInputModes
from rxclaude.testing import MockServer, Reply

KEY = "fake-key-test-fidelity-0123456789"
MODEL = "claude-opus-4-7"
USER = [{"role": "user", "content": "Write the file."}]


def start(content: list[Any] | None = None, **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content or [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, **usage},
        },
    }


def tool_events(name: str, fragments: list[str], *, index: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "tool_use", "id": f"toolu_{index}", "name": name, "input": {}},
        },
        *(
            {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": f}}
            for f in fragments
        ),
        {"type": "content_block_stop", "index": index},
    ]


def end(stop_reason: str = "tool_use") -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]


BROKEN = ['{"path": "a.txt", "text": "line one', '\\nline two"}}']  # one brace too many
BROKEN_RAW = "".join(BROKEN)
GOOD = ['{"path": "a.txt", ', '"text": "line one', '\\nline two"}']


def tool(name: str, eager: bool | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"name": name, "description": "d", "input_schema": {"type": "object"}}
    if eager is not None:
        t["eager_input_streaming"] = eager
    return t


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer(api_key=KEY) as s:
        yield s


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[Client]:
    async with Client(api_key=KEY, base_url=server.url) as c:
        yield c


# -- item 1: the input mode per tool block --------------------------------------------------------


def test_modes_from_tools_and_headers() -> None:
    tools = [tool("eager", True), tool("buffered", False), tool("unset")]
    plain = ToolInputModes.for_request({"tools": tools})
    assert (plain.mode_for("tool_use", "eager"), plain.mode_for("tool_use", "buffered")) == ("trailing-strings", "on")
    assert plain.mode_for("tool_use", "unset") == "on"
    beta = ToolInputModes.for_request({"tools": tools}, [FINE_GRAINED_BETA])
    assert beta.mode_for("tool_use", "unset") == "trailing-strings"
    assert beta.mode_for("tool_use", "buffered") == "on"  # an explicit false keeps buffered streaming
    assert beta.mode_for("server_tool_use", "web_search") == "trailing-strings"
    assert ToolInputModes.for_request({"tools": "junk"}).default == "on"


async def test_invalid_eager_json_is_a_value_and_the_message_survives(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.events([start(), *tool_events("write", BROKEN), *end()]))
    stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=[tool("write", True)])
    inputs: list[rxclaude.ToolInput] = []
    blocks: list[Any] = []
    stream.tool_input.subscribe(inputs.append)
    stream.blocks.subscribe(blocks.append)
    message = await asyncio.wait_for(stream.final_message(), 10)
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.invalid_json == BROKEN_RAW
    assert block.input == {"path": "a.txt", "text": "line one\nline two"}  # what could be read of it
    assert "invalid_json" not in block.to_dict()  # rxclaude's own field never goes back to the API
    assert blocks == [block]
    assert inputs[-1].done and inputs[-1].input == block.input
    assert isinstance(inputs[-1].error, ToolInputError) and inputs[-1].error.json == BROKEN_RAW
    assert inputs[1].input == {"path": "a.txt", "text": "line one"}  # trailing strings while it grew
    assert [i.done for i in inputs].count(True) == 1
    assert stream.current_message == message


@pytest.mark.parametrize(
    ("fragments", "readable"),
    [
        (['{"path": "a.txt", "text": "line', " one"], {"path": "a.txt", "text": "line one"}),  # cut by max_tokens
        (['{"path": "a.txt", "n": [1,', "}"], {}),  # broken mid-stream: nothing more is parsed
    ],
)
async def test_eager_json_cut_or_broken(
    server: MockServer, client: Client, fragments: list[str], readable: Any
) -> None:
    server.enqueue(Reply.events([start(), *tool_events("write", fragments), *end("max_tokens")]))
    stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=[tool("write", True)])
    inputs: list[rxclaude.ToolInput] = []
    stream.tool_input.subscribe(inputs.append)
    message = await asyncio.wait_for(stream.final_message(), 10)
    assert message.content[0].invalid_json == "".join(fragments)
    assert message.content[0].input == readable == inputs[-1].input
    assert inputs[-1].done and inputs[-1].error.json == "".join(fragments)


async def test_validated_tool_json_that_is_invalid_is_still_an_error(server: MockServer, client: Client) -> None:
    broken = ['{"path": "a.txt", "n": [1,', "}"]
    server.enqueue(Reply.events([start(), *tool_events("write", broken), *end()]))
    stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=[tool("write", False)])
    with pytest.raises(ToolInputError) as info:
        await asyncio.wait_for(stream.final_message(), 10)
    partial = info.value.partial
    assert partial is not None and partial.content[0].invalid_json == "".join(broken)  # the partial is readable
    assert stream.current_message is not None


async def test_the_request_betas_choose_the_mode_and_go_in_the_header(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.events([start(), *tool_events("write", BROKEN), *end()]))
    stream = client.messages.stream(
        model=MODEL, max_tokens=64, messages=USER, tools=[tool("write")], betas=[FINE_GRAINED_BETA]
    )
    message = await asyncio.wait_for(stream.final_message(), 10)
    assert message.content[0].invalid_json == BROKEN_RAW
    request = server.last_request
    assert FINE_GRAINED_BETA in request.headers["anthropic-beta"]
    assert "betas" not in request.json


async def test_client_betas_choose_the_mode(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url, betas=[FINE_GRAINED_BETA]) as client:
        server.enqueue(Reply.events([start(), *tool_events("write", GOOD), *end()]))
        stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=[tool("write")])
        inputs: list[rxclaude.ToolInput] = []
        stream.tool_input.subscribe(inputs.append)
        message = await asyncio.wait_for(stream.final_message(), 10)
    assert message.content[0].input == {"path": "a.txt", "text": "line one\nline two"}
    assert {"path": "a.txt", "text": "line one"} in [i.input for i in inputs]
    assert inputs[-1].error is None


async def test_the_official_sdk_fails_where_rxclaude_keeps_the_message(server: MockServer) -> None:
    """What the official SDK 2.17 does with the same streams (documented in the README): its
    accumulator raises a bare ValueError on a fragment that breaks the JSON, and the whole
    message is lost; JSON with trailing characters is accepted without any sign."""
    anthropic = pytest.importorskip("anthropic")
    broken = ['{"path": "a.txt", "n": [1,', "}"]
    server.enqueue(Reply.events([start(), *tool_events("write", broken), *end()]))
    server.enqueue(Reply.events([start(), *tool_events("write", BROKEN), *end()]))
    sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
    tools = [tool("write", True)]
    try:
        with pytest.raises(ValueError, match="Unable to parse tool parameter JSON"):
            async with sdk.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=tools) as s:
                await s.get_final_message()
        async with sdk.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=tools) as s:
            final = await s.get_final_message()
        assert final.content[0].input == {"path": "a.txt", "text": "line one\nline two"}
        assert "invalid_json" not in final.content[0].to_dict()
    finally:
        await sdk.close()


# -- item 2: blocks pre-filled in message_start ---------------------------------------------------

PREFILLED = [
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "code_execution", "input": {"code": "print(1)"}},
    {"type": "code_execution_tool_result", "tool_use_id": "srvtoolu_1", "content": {"type": "code_execution_result"}},
]
TEXT = [
    {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "It printed 1."}},
    {"type": "content_block_stop", "index": 2},
]
PREFILLED_EVENTS = [start(PREFILLED), *TEXT, *end("end_turn")]


def typed(events: list[dict[str, Any]]) -> list[Event]:
    import orjson

    return [parse_frame(Frame(e["type"], orjson.dumps(e).decode())) for e in events]


def collect(source: reactivex.Observable[Any]) -> list[Any]:
    out: list[Any] = []
    source.subscribe(out.append)
    return out


def test_prefilled_blocks_go_through_the_operators_in_order() -> None:
    events = typed(PREFILLED_EVENTS)
    blocks = collect(reactivex.from_iterable(events).pipe(ops.blocks()))
    assert [type(b) for b in blocks] == [ServerToolUseBlock, CodeExecutionToolResultBlock, TextBlock]
    inputs = collect(reactivex.from_iterable(events).pipe(ops.tool_input()))
    assert [(i.index, i.input, i.done) for i in inputs] == [
        (0, {"code": "print(1)"}, False),
        (0, {"code": "print(1)"}, True),
    ]
    snaps = collect(reactivex.from_iterable(events).pipe(ops.snapshots()))
    assert [b.type for b in snaps[0].content] == ["server_tool_use", "code_execution_tool_result"]
    assert snaps[-1].text == "It printed 1."


def test_prefilled_blocks_with_their_own_stops() -> None:
    stops = [{"type": "content_block_stop", "index": 0}, {"type": "content_block_stop", "index": 1}]
    events = typed([start(PREFILLED), *stops, *TEXT, *end("end_turn")])
    blocks = collect(reactivex.from_iterable(events).pipe(ops.blocks()))
    assert [b.type for b in blocks] == ["server_tool_use", "code_execution_tool_result", "text"]
    inputs = collect(reactivex.from_iterable(events).pipe(ops.tool_input()))
    assert [i.done for i in inputs] == [False, True]


def test_a_prefilled_message_with_no_other_block() -> None:
    events = typed([start(PREFILLED), *end("end_turn")])
    assert [b.type for b in collect(reactivex.from_iterable(events).pipe(ops.blocks()))] == [
        "server_tool_use",
        "code_execution_tool_result",
    ]


async def test_prefilled_blocks_through_a_stream(server: MockServer, client: Client) -> None:
    server.enqueue(Reply.events(PREFILLED_EVENTS))
    stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER)
    blocks: list[Any] = []
    inputs: list[Any] = []
    snaps: list[Any] = []
    stream.blocks.subscribe(blocks.append)
    stream.tool_input.subscribe(inputs.append)
    stream.snapshots.subscribe(snaps.append)
    message = await asyncio.wait_for(stream.final_message(), 10)
    assert list(message.content) == blocks
    assert [i.done for i in inputs] == [False, True]
    assert len(snaps[0].content) == 2 and snaps[-1].message == message


async def test_prefilled_blocks_through_the_relay(server: MockServer, client: Client) -> None:
    """The relay re-serves message_start as it came: the official SDK reading it gets the
    pre-filled blocks first, in order."""
    anthropic = pytest.importorskip("anthropic")
    server.enqueue(Reply.events(PREFILLED_EVENTS))
    stream = client.messages.stream(model=MODEL, max_tokens=64, messages=USER)
    relay = rxclaude.Relay(stream.frames)
    async with relay.serve() as url:
        stream.connect()
        sdk = anthropic.AsyncAnthropic(api_key="unused", base_url=url, max_retries=0)
        try:
            async with sdk.messages.stream(model=MODEL, max_tokens=64, messages=USER) as s:
                final = await asyncio.wait_for(s.get_final_message(), 10)
        finally:
            await sdk.close()
    await relay.aclose()
    assert [b.type for b in final.content] == ["server_tool_use", "code_execution_tool_result", "text"]
    assert [b.type for b in (await stream.final_message()).content] == [b.type for b in final.content]


# -- item 5: the newer blocks and fields are typed ------------------------------------------------

NEW_BLOCKS = [
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {
            "type": "mcp_tool_listing",
            "mcp_server_name": "docs",
            "tools": [{"name": "search", "input_schema": {"type": "object"}}],
        },
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "advisor_tool_result",
            "tool_use_id": "srvtoolu_9",
            "content": {"type": "advisor_result", "text": "Consider X."},
        },
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {
            "type": "fallback",
            "from": {"model": MODEL},
            "to": {"model": "claude-sonnet-4-6"},
            "trigger": {"type": "refusal"},
        },
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_3",
            "name": "search",
            "input": {},
            "caller": {"type": "code_execution_20250825", "tool_id": "srvtoolu_9"},
            "toolset_name": "docs",
        },
    },
    {"type": "content_block_stop", "index": 3},
    {"type": "content_block_start", "index": 4, "content_block": {"type": "brand_new_block", "x": 1}},
    {"type": "content_block_stop", "index": 4},
]
USAGE = {
    "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4},
    "cache_creation_input_tokens": 7,
    "service_tier": "priority",
    "speed": "fast",
    "inference_geo": "us",
    "not_yet_known": 1,
}


async def test_new_blocks_and_fields_are_typed(server: MockServer, client: Client) -> None:
    first = start(**USAGE)
    first["message"]["diagnostics"] = {"cache_miss_reason": None}
    server.enqueue(Reply.events([first, *NEW_BLOCKS, *end()]))
    message = await asyncio.wait_for(client.messages.stream(model=MODEL, max_tokens=64, messages=USER), 10)
    listing, advisor, fallback, call, unknown = message.content
    assert isinstance(listing, MCPToolListingBlock) and listing.mcp_server_name == "docs"
    assert isinstance(advisor, AdvisorToolResultBlock) and advisor.content["text"] == "Consider X."
    assert isinstance(fallback, FallbackBlock) and fallback.to_model == "claude-sonnet-4-6"
    assert message.model == "claude-sonnet-4-6"  # the model that served what follows the fallback
    assert isinstance(call, ToolUseBlock) and call.toolset_name == "docs" and call.caller["type"].startswith("code")
    assert isinstance(unknown, UnknownBlock) and unknown.to_dict() == {"type": "brand_new_block", "x": 1}
    usage = message.usage
    assert (usage.service_tier, usage.speed, usage.inference_geo) == ("priority", "fast", "us")
    assert usage.cache_creation == {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}
    assert usage.extra == {"not_yet_known": 1}  # extra still catches what comes next
    assert message.diagnostics == {"cache_miss_reason": None}
    wire = [e["content_block"] for e in NEW_BLOCKS if e["type"] == "content_block_start"]
    assert [b.to_dict() for b in message.content] == wire  # nothing lost on the way back
    assert {k: message.usage.to_dict()[k] for k in USAGE} == USAGE


def test_the_usage_docstring_promises_only_what_exists() -> None:
    doc = rxclaude.Usage.__doc__ or ""
    assert "estimated" not in doc
    for name in ("cache_creation", "speed", "inference_geo", "service_tier"):
        assert name in doc and hasattr(rxclaude.Usage(), name)
