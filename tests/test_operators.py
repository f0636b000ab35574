"""Every operator on the recorded streams, plus the building blocks and error paths."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from typing import Any

import orjson
import pytest
import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import operators as rx
from reactivex.testing import ReactiveTest, TestScheduler

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.accumulate import BlockState
from rxclaude.core.blocks import RedactedThinkingBlock, TextBlock, ToolUseBlock, UnknownBlock
from rxclaude.core.citations import WebSearchResultLocation
from rxclaude.core.deltas import InputJSONDelta, UnknownDelta
from rxclaude.core.events import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    MessageDeltaEvent,
    MessageStartEvent,
    PingEvent,
    UnknownEvent,
)
from rxclaude.core.message import Message
from rxclaude.core.partial_json import StringTracker, parse_partial_json

from .helpers import FIXTURES


def events_of(name: str) -> reactivex.Observable[rxclaude.Event]:
    data = (FIXTURES / name).read_bytes()
    return reactivex.of(data).pipe(ops.frames(), ops.parse())


def collect(source: reactivex.Observable[Any]) -> tuple[list[Any], list[Exception], bool]:
    items: list[Any] = []
    errors: list[Exception] = []
    done: list[bool] = []
    source.subscribe(items.append, errors.append, lambda: done.append(True))
    return items, errors, bool(done)


def test_text_only_text_deltas() -> None:
    items, errors, done = collect(events_of("text-basic-sonnet4.sse").pipe(ops.text()))
    assert not errors and done
    assert len(items) == 12
    assert "".join(items) == (
        'Olá! (That\'s "hi" in Portuguese)\n\nYou could also say "Oi!" which is a more casual way to say hi in '
        "Portuguese."
    )


def test_pings_are_events() -> None:
    items, _, _ = collect(events_of("redacted-thinking-sonnet45.sse").pipe(ops.of_type(PingEvent)))
    assert len(items) == 3


def test_thinking() -> None:
    items, _, _ = collect(events_of("thinking-then-tool-use-sonnet4.sse").pipe(ops.thinking()))
    thinking = "".join(items)
    assert len(thinking) == 301
    assert thinking.startswith("The user is asking for weather information for Florence, Italy.")
    assert all(items)  # the empty thinking_delta before the signature is not emitted


def test_tool_input_grows_then_completes() -> None:
    items, errors, _ = collect(events_of("tool-use-single-sonnet4.sse").pipe(ops.tool_input()))
    assert not errors
    assert items[0].input == {} and not items[0].done
    assert items[-1].done and items[-1].input == {"location": "Florence,Italy"}
    assert items[-1].name == "weather" and items[-1].id.startswith("toolu_")
    assert [i.input for i in items[:-1]] == sorted(
        {orjson.dumps(i.input): i.input for i in items[:-1]}.values(), key=lambda v: len(orjson.dumps(v))
    )


def test_parallel_tool_inputs() -> None:
    items, _, _ = collect(
        events_of("tool-use-parallel-sonnet4.sse").pipe(ops.tool_input(), rx.filter(lambda t: t.done))
    )
    assert [(t.name, t.input) for t in items] == [("add", {"a": 2, "b": 3}), ("multiply", {"a": 2, "b": 3})]


def test_tool_input_truncated_by_max_tokens_matches_sdk_partial() -> None:
    items, _, _ = collect(events_of("sdk-max-tokens-partial-tool-json.sse").pipe(ops.tool_input()))
    assert not any(t.done for t in items)  # no content_block_stop for the tool block
    assert items[-1].input == {
        "filename": "taxes.txt",
        "lines_of_text": ["# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s", "", "## INTRODUCTION", ""],
    }


def test_tool_input_invalid_json_is_typed() -> None:
    frames = [
        rxclaude.Frame(
            "message_start",
            orjson.dumps(
                {
                    "type": "message_start",
                    "message": {
                        "id": "m",
                        "type": "message",
                        "role": "assistant",
                        "model": "x",
                        "content": [],
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                }
            ).decode(),
        ),
        rxclaude.Frame(
            "content_block_start",
            orjson.dumps(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                }
            ).decode(),
        ),
        rxclaude.Frame(
            "content_block_delta",
            orjson.dumps(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": '{"a": ]'},
                }
            ).decode(),
        ),
    ]
    _, errors, _ = collect(reactivex.from_iterable(frames).pipe(ops.parse(), ops.tool_input()))
    assert isinstance(errors[0], rxclaude.ToolInputError) and errors[0].index == 0
    assert isinstance(errors[0], ValueError)


def test_citations() -> None:
    items, _, _ = collect(events_of("web-search-citations-sonnet4.sse").pipe(ops.citations()))
    assert len(items) == 7
    assert all(isinstance(c, WebSearchResultLocation) for c in items)
    assert items[0].url.startswith("https://")


def test_blocks_complete_at_stop() -> None:
    items, _, _ = collect(events_of("redacted-thinking-sonnet45.sse").pipe(ops.blocks()))
    assert [type(b) for b in items] == [RedactedThinkingBlock, RedactedThinkingBlock, TextBlock]
    assert items[2].text.startswith("I notice that you've sent what appears")
    tools, _, _ = collect(events_of("tool-use-single-sonnet4.sse").pipe(ops.blocks(), ops.of_type(ToolUseBlock)))
    assert tools[0].input == {"location": "Florence,Italy"}


def test_usage_is_cumulative() -> None:
    items, _, _ = collect(events_of("web-search-citations-sonnet4.sse").pipe(ops.usage()))
    assert items[0].input_tokens == 2049
    assert items[-1].input_tokens == 13520 and items[-1].output_tokens == 415
    assert items[-1].server_tool_use == {"web_search_requests": 1, "web_fetch_requests": 0}
    docs, _, _ = collect(events_of("docs-basic-hello.sse").pipe(ops.usage()))
    assert (docs[-1].input_tokens, docs[-1].output_tokens) == (25, 15)  # message_start's input survives


def test_stop_reason() -> None:
    assert collect(events_of("pause-turn-web-search.sse").pipe(ops.stop_reason()))[0] == ["pause_turn"]
    assert collect(events_of("sdk-refusal-stop-details.sse").pipe(ops.stop_reason()))[0] == ["refusal"]


def test_message_details() -> None:
    (m,), _, _ = collect(events_of("sdk-refusal-stop-details.sse").pipe(ops.message()))
    assert m.stop_details == {
        "type": "refusal",
        "category": "cyber",
        "explanation": "This request was refused due to policy.",
    }
    (m,), _, _ = collect(events_of("code-execution-bash-container.sse").pipe(ops.message()))
    assert m.container["id"] == "container_011CaNRFAbjdPf4rmBarZzqQ"
    assert m.text.endswith("# ✅ Final Answer: **-428,330,955.97745**") and len(m.text) == 501
    assert not m.incomplete


def test_snapshots_end_equal_to_message() -> None:
    snaps, _, _ = collect(events_of("thinking-then-text-long.sse").pipe(ops.snapshots()))
    (final,), _, _ = collect(events_of("thinking-then-text-long.sse").pipe(ops.message()))
    assert snaps[-1].message == final
    texts = [s.text for s in snaps]
    assert texts == sorted(texts, key=len) and texts[0] == ""
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert snaps[5].usage.input_tokens == 43


def test_snapshots_read_out_of_order() -> None:
    snaps, _, _ = collect(events_of("text-basic-sonnet4.sse").pipe(ops.snapshots()))
    lengths = [len(s.text) for s in reversed(snaps)]
    assert lengths == sorted(lengths, reverse=True)
    assert snaps[3].message.incomplete and not snaps[-1].message.incomplete


def test_incomplete_stream_carries_partial() -> None:
    data = (FIXTURES / "text-basic-sonnet4.sse").read_bytes()
    cut = data[: data.index(b"event: message_delta")]
    _, errors, _ = collect(reactivex.of(cut).pipe(ops.frames(), ops.parse(), ops.message()))
    error = errors[0]
    assert isinstance(error, rxclaude.IncompleteStreamError)
    assert error.partial.incomplete and error.partial.text.startswith("Olá!")
    assert error.partial.usage.input_tokens == 16


def test_upstream_error_gets_the_partial_message() -> None:
    data = (FIXTURES / "text-basic-sonnet4.sse").read_bytes()
    cut = data[: data.index(b"event: content_block_stop")]
    error_frame = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    _, errors, _ = collect(reactivex.of(cut + error_frame).pipe(ops.frames(), ops.parse(), ops.message()))
    assert isinstance(errors[0], rxclaude.OverloadedError)
    assert errors[0].partial.text.startswith("Olá!") and errors[0].partial.incomplete


def test_unknown_types_pass_through() -> None:
    frames = [
        rxclaude.Frame(
            "message_start",
            orjson.dumps(
                {
                    "type": "message_start",
                    "message": {
                        "id": "m",
                        "type": "message",
                        "role": "assistant",
                        "model": "x",
                        "content": [],
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                }
            ).decode(),
        ),
        rxclaude.Frame("vertex_event", '{"type":"vertex_event","foo":1}'),
        rxclaude.Frame(
            "content_block_start",
            '{"type":"content_block_start","index":0,"content_block":{"type":"hologram","beam":3}}',
        ),
        rxclaude.Frame(
            "content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"beam_delta","beam":4}}'
        ),
        rxclaude.Frame("content_block_stop", '{"type":"content_block_stop","index":0}'),
        rxclaude.Frame(
            "message_delta",
            '{"type":"message_delta","delta":{"stop_reason":"end_turn",'
            '"stop_sequence":null},"usage":{"output_tokens":3}}',
        ),
        rxclaude.Frame("message_stop", '{"type":"message_stop"}'),
    ]
    events, errors, _ = collect(reactivex.from_iterable(frames).pipe(ops.parse()))
    assert not errors
    assert isinstance(events[1], UnknownEvent) and events[1].data == {"type": "vertex_event", "foo": 1}
    assert isinstance(events[2].content_block, UnknownBlock)
    assert isinstance(events[3], ContentBlockDeltaEvent) and isinstance(events[3].delta, UnknownDelta)
    (m,), errors, _ = collect(reactivex.from_iterable(frames).pipe(ops.parse(), ops.message()))
    assert m.to_dict()["content"] == [{"type": "hologram", "beam": 3}]


def test_malformed_json_is_typed() -> None:
    _, errors, _ = collect(reactivex.of(rxclaude.Frame("message_start", "{nope")).pipe(ops.parse()))
    assert isinstance(errors[0], rxclaude.MalformedEventError)
    _, errors, _ = collect(
        reactivex.of(rxclaude.Frame("content_block_stop", '{"type":"content_block_stop"}')).pipe(ops.parse())
    )
    assert isinstance(errors[0], rxclaude.MalformedEventError)


def test_per_subscription_state() -> None:
    source = events_of("text-basic-sonnet4.sse").pipe(ops.message())
    a, _, _ = collect(source)
    b, _, _ = collect(source)
    assert a == b and len(a) == 1


def test_transform_building_block_with_marbles() -> None:
    def lines() -> Any:
        def step(buf: str, text: str) -> tuple[str, list[str]]:
            *done, rest = (buf + text).split("\n")
            return rest, done

        return ops.transform(step, initial=str, flush=lambda buf: [buf] if buf else [])

    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        ReactiveTest.on_next(210, "Hel"),
        ReactiveTest.on_next(220, "lo\nWor"),
        ReactiveTest.on_next(230, "ld\n\nBye"),
        ReactiveTest.on_completed(240),
    )
    result = scheduler.start(lambda: xs.pipe(lines()))
    assert result.messages == [
        ReactiveTest.on_next(220, "Hello"),
        ReactiveTest.on_next(230, "World"),
        ReactiveTest.on_next(230, ""),
        ReactiveTest.on_next(240, "Bye"),
        ReactiveTest.on_completed(240),
    ]


def test_errors_in_user_steps_go_to_on_error() -> None:
    def boom(state: None, value: Any) -> tuple[None, list[Any]]:
        raise RuntimeError("bad step")

    items, errors, done = collect(reactivex.of(1, 2).pipe(ops.transform(boom, initial=lambda: None)))
    assert not items and isinstance(errors[0], RuntimeError) and not done


def test_deltas_filter() -> None:
    items, _, _ = collect(events_of("tool-use-single-sonnet4.sse").pipe(ops.deltas(InputJSONDelta)))
    assert items and all(isinstance(e.delta, InputJSONDelta) for e in items)
    md, _, _ = collect(events_of("tool-use-single-sonnet4.sse").pipe(ops.of_type(MessageDeltaEvent)))
    assert len(md) == 1


def big_text_stream(n: int) -> bytes:
    start = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_big","type":"message",'
        b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
        b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
    )
    delta = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"word "}}\n\n'
    )
    end = (
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"output_tokens":5}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    return start + delta * n + end


def test_snapshots_do_not_copy_the_text_per_event() -> None:
    # Memory, not time: quadratic copying of 200k deltas would need ~1 TB; a few MB per 10k is linear.
    n = 200_000
    data = big_text_stream(n)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    last: list[Any] = []
    tracemalloc.start()
    reactivex.from_iterable(chunks).pipe(ops.frames(), ops.parse(), ops.snapshots()).subscribe(
        lambda s: last.__setitem__(slice(None), [s])
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(last[0].text) == 5 * n
    assert peak < 120 * 1024 * 1024, peak


def test_parts_prefixes_are_exact_across_segments() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rxclaude.core.accumulate import _Parts

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.text(max_size=4), max_size=700), st.lists(st.integers(0, 700), max_size=12))
    def check(pieces: list[str], reads: list[int]) -> None:
        parts = _Parts()
        for p in pieces:
            parts.append(p)
        assert len(parts) == len(pieces)
        for n in [*reads, len(pieces)]:
            n = min(n, len(pieces))
            assert parts.join(n) == "".join(pieces[:n])

    check()


# -- tool input: linear in a long string, same values as parsing every prefix ------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(alphabet='ab"\\\n\x00é👋 ', max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet='k"\\', max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


def _tool_events(fragments: list[str]) -> list[Any]:
    return [
        MessageStartEvent(Message(id="m", model="x")),
        ContentBlockStartEvent(0, ToolUseBlock(id="t", name="write", input={})),
        *(ContentBlockDeltaEvent(0, InputJSONDelta(f)) for f in fragments),
        ContentBlockStopEvent(0),
    ]


def _every_prefix(fragments: list[str], mode: Any) -> list[tuple[Any, bool]]:
    """What tool_input emitted before it skipped any parse: each prefix parsed, changes only."""
    out: list[tuple[Any, bool]] = [({}, False)]
    raw = ""
    for fragment in fragments:
        raw += fragment
        if raw:
            value = parse_partial_json(raw, mode)
            if value != out[-1][0]:
                out.append((value, False))
    out.append((orjson.loads(raw), True))
    return out


@settings(max_examples=400, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=4), _json_values, max_size=4),
    mode=st.sampled_from(["on", "trailing-strings"]),
    ascii_only=st.booleans(),
    data=st.data(),
)
def test_tool_input_values_are_those_of_every_prefix(
    value: dict[str, Any], mode: Any, ascii_only: bool, data: st.DataObject
) -> None:
    # ascii_only: every non-ASCII character as a \uXXXX escape (emoji as surrogate pairs)
    raw = json.dumps(value, ensure_ascii=True) if ascii_only else orjson.dumps(value).decode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    fragments = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    items, errors, _ = collect(reactivex.from_iterable(_tool_events(fragments)).pipe(ops.tool_input(partial_mode=mode)))
    assert not errors
    assert [(t.input, t.done) for t in items] == _every_prefix(fragments, mode)


@pytest.mark.parametrize("mode", ["on", "trailing-strings"])
def test_a_long_string_in_tool_input_is_not_parsed_again_and_again(monkeypatch: pytest.MonkeyPatch, mode: Any) -> None:
    # a file's content, as a tool writes it: 360 KB (60 KB when every growing value is kept)
    content = 'print("héllo 👋")\n' * (20_000 if mode == "on" else 3_000)
    raw = json.dumps({"path": "a.py", "content": content, "mode": "w"})  # escapes, surrogate pairs
    fragments = [raw[i : i + 25] for i in range(0, len(raw), 25)]
    parses: list[int] = []
    real = BlockState.parse_input
    monkeypatch.setattr(
        BlockState, "parse_input", lambda self, raw, mode="on": parses.append(1) or real(self, raw, mode)
    )
    items, errors, _ = collect(reactivex.from_iterable(_tool_events(fragments)).pipe(ops.tool_input(partial_mode=mode)))
    assert not errors and items[-1].input == {"path": "a.py", "content": content, "mode": "w"} and items[-1].done
    assert len(parses) < 20  # not once per fragment (up to 21,000): the content string only grows
    if mode == "trailing-strings":  # the content grows live, fragment by fragment, always decoded whole
        growing = [t.input["content"] for t in items if "content" in t.input and "mode" not in t.input]
        assert len(growing) > 2_000 and all(content.startswith(c) for c in growing[::100])
        assert all(len(a) <= len(b) for a, b in itertools.pairwise(growing))


@pytest.mark.parametrize("mode", ["on", "trailing-strings"])
@pytest.mark.parametrize(
    "raw",
    [
        '{"a": "x\\ud83d\\udc4by\\u00e9\\n\\\\\\"z", "b": ["p", {"q": "r\\ts"}], "k\\"ey": "v"}',
        '{"a": [["deep", ["deeper \\"quoted\\""]]], "b": "", "c": "\\\\"}',
    ],
)
def test_tool_input_cut_at_every_character(raw: str, mode: Any) -> None:
    for size in (1, 2, 3, 5, 7):
        fragments = [raw[i : i + size] for i in range(0, len(raw), size)]
        items, errors, _ = collect(
            reactivex.from_iterable(_tool_events(fragments)).pipe(ops.tool_input(partial_mode=mode))
        )
        assert not errors
        assert [(t.input, t.done) for t in items] == _every_prefix(fragments, mode), size


@given(value=_json_values, data=st.data())
def test_string_tracker_knows_where_strings_end(value: Any, data: st.DataObject) -> None:
    raw = orjson.dumps(value).decode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    tracker = StringTracker()
    inside = escaped = is_key = False
    stack: list[str] = []
    previous = ""  # the last structural character outside strings
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        ended, opened_at = False, None
        for i, c in enumerate(raw[a:b]):  # the obvious character-by-character scan
            if escaped:
                escaped = False
            elif inside:
                if c == "\\":
                    escaped = True
                elif c == '"':
                    inside, ended = False, True
            elif c == '"':
                inside, opened_at = True, i + 1
                is_key = bool(stack) and stack[-1] == "{" and previous in "{,"
            elif c in "{[":
                stack.append(c)
            elif c in "}]":
                stack.pop()
            if not inside and c in '{}[]:,"':
                previous = c
        assert tracker.feed(raw[a:b]) is ended and tracker.inside is inside
        if inside:
            assert tracker.is_key is is_key and tracker.opened_at == opened_at


def test_chained_operators_pass_the_subscription_scheduler_on() -> None:
    """A chain of lifted operators attaches stage to stage; the scheduler given to ``subscribe``
    still reaches the source (a marble source emits on it: virtual time, not wall time)."""
    from reactivex.testing.marbles import marbles_testing

    def ident() -> Any:
        return ops.transform(lambda state, value: (state, [value]), initial=str)

    with marbles_testing(timespan=1.0) as (start, cold, _hot, exp):
        source = cold("a--b--|", {"a": "x", "b": "y"})
        assert start(source.pipe(ident(), ident(), ident())) == exp("a--b--|", {"a": "x", "b": "y"})


def test_frames_then_parse_take_the_lean_lane_and_equal_the_frame_route() -> None:
    """``ops.parse()`` of ``ops.frames()`` gets each frame as its fields (no Frame built); the
    events are those of parsing each Frame, on every recording."""
    from rxclaude.core.parse import parse_frame
    from rxclaude.core.sse import SSEDecoder

    for path in sorted(FIXTURES.glob("*.sse")):
        data = path.read_bytes()
        lean: list[Any] = []
        error: list[Exception] = []
        reactivex.of(data[: len(data) // 3], data[len(data) // 3 :]).pipe(ops.frames(), ops.parse()).subscribe(
            lean.append, error.append
        )
        typed: list[Any] = []
        for frame in SSEDecoder().feed(data):
            event = parse_frame(frame)
            if type(event).__name__ == "ErrorEvent":
                break
            typed.append(event)
        assert lean == typed, path.name
        assert bool(error) == ("error" in [f.event for f in SSEDecoder().feed(data)]), path.name
