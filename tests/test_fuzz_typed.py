"""Issue 11, item 7: every input reaches the user as an rxclaude error or a value.

Hypothesis mutates the recorded streams (a value anywhere in an event replaced by any JSON
value, a key dropped, an event's ``type`` changed, events dropped or repeated) and also feeds
random bytes. Each input goes through the SSE decoder, the parser (typed and lean routes),
the accumulator, the operators and a MessageStream (with and without an ``events``
subscriber); whatever fails must be an :class:`rxclaude.RxClaudeError`, never a bare
``TypeError``/``KeyError``/``ValueError``/``IndexError``, and ``current_message`` always works.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import orjson
import pytest
import reactivex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.accumulate import MessageAccumulator
from rxclaude.core.errors import RxClaudeError
from rxclaude.core.frame import Frame
from rxclaude.core.parse import parse_frame, parse_lean
from rxclaude.core.sse import SSEDecoder
from rxclaude.core.toolmode import ToolInputModes

from .helpers import SSE_FIXTURES

RECORDINGS = [
    [orjson.loads(f.data) for f in SSEDecoder().feed(p.read_bytes()) if f.data[:1] == "{"] for p in SSE_FIXTURES
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["text", "tool_use", "text_delta", "thinking", "message_start", "content_block_stop", ""]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*path, i)))
    return out


@st.composite
def mutated_streams(draw: st.DrawFn) -> list[bytes]:
    events = copy.deepcopy(draw(st.sampled_from(RECORDINGS)))
    for _ in range(draw(st.integers(1, 4))):
        if not events:
            break
        i = draw(st.integers(0, len(events) - 1))
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop_key", "drop", "repeat", "type"]))
        if action == "drop":
            del events[i]
            continue
        if action == "repeat":
            events.insert(i, copy.deepcopy(events[i]))
            continue
        if action == "type":
            events[i]["type"] = draw(json_values)
            continue
        paths = _paths(events[i])[1:] or [()]
        path = draw(st.sampled_from(paths))
        if not path:
            events[i] = draw(json_values)
            continue
        parent = events[i]
        for key in path[:-1]:
            parent = parent[key]
        if action == "drop_key" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    out = []
    for e in events:
        name = e.get("type") if isinstance(e, dict) and isinstance(e.get("type"), str) else "x"
        event = name.encode("utf-8", "replace").replace(b"\n", b"").replace(b"\r", b"")
        out.append(b"event: " + event + b"\ndata: " + json.dumps(e).encode() + b"\n\n")  # big ints too
    return out


def _typed_only(run: Any) -> None:
    try:
        run()
    except RxClaudeError:
        pass


def _through_the_core(body: bytes) -> None:
    frames: list[Frame] = []
    decoder = SSEDecoder()
    _typed_only(lambda: frames.extend(decoder.feed(body) + decoder.close()))
    for mode in ("on", "trailing-strings", ToolInputModes(tools=rxclaude.core.values.FrozenDict(f="trailing-strings"))):
        acc = MessageAccumulator(partial_mode=mode)  # type: ignore[arg-type]
        for frame in frames:
            _typed_only(lambda frame=frame: parse_lean(frame.event, frame.data, frame.id))
            _typed_only(lambda frame=frame: parse_lean(frame.event, frame.data.encode(), frame.id))
            try:
                acc.feed(parse_frame(frame))
            except RxClaudeError:
                continue
            if acc.started:
                acc.message(tolerant=True)  # a partial message is always readable
                _typed_only(lambda acc=acc: acc.snapshot().message)
        if acc.started:
            _typed_only(lambda acc=acc: acc.message())
        _pipes(frames, mode)


def _pipes(frames: list[Frame], mode: Any) -> None:
    for op in (
        ops.text(),
        ops.blocks(partial_mode=mode),
        ops.tool_input(partial_mode=mode),
        ops.message(partial_mode=mode),
        ops.usage(),
        ops.citations(),
        ops.stop_reason(),
        ops.snapshots(partial_mode=mode),
    ):
        errors: list[Exception] = []
        values: list[Any] = []
        reactivex.from_iterable(frames).pipe(ops.parse(), op).subscribe(values.append, errors.append)
        for v in values:
            if isinstance(v, rxclaude.MessageSnapshot):
                _typed_only(lambda v=v: v.message)
        assert all(isinstance(e, RxClaudeError) for e in errors), errors


async def _through_a_stream(frames: list[Frame], typed: bool) -> None:
    stream = rxclaude.MessageStream(reactivex.from_iterable(frames), partial_mode=ToolInputModes())
    errors: list[Exception] = []
    for name in ("text", "blocks", "tool_input", "usage", "snapshots", *(("events",) if typed else ())):
        getattr(stream, name).subscribe(lambda _v: None, errors.append)
    await asyncio.wait_for(stream.wait(), 5)
    assert stream.current_message is None or isinstance(stream.current_message, rxclaude.Message)
    error = stream.error
    assert error is None or isinstance(error, RxClaudeError), repr(error)
    assert all(isinstance(e, RxClaudeError) for e in errors), errors
    if error is None:
        assert (await stream.final_message()).incomplete is False


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_streams())
def test_mutated_recordings_fail_typed(frames: list[bytes]) -> None:
    _through_the_core(b"".join(frames))


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(RECORDINGS))
def test_random_bytes_fail_typed(noise: bytes, events: list[Any]) -> None:
    _through_the_core(noise)
    body = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events[:3])
    _through_the_core(body + noise)  # a real start, then garbage


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_streams(), st.booleans())
def test_mutated_recordings_through_a_message_stream(frames: list[bytes], typed: bool) -> None:
    decoded: list[Frame] = []
    for raw in frames:
        try:
            decoded.extend(SSEDecoder().feed(raw))
        except RxClaudeError:
            pass
    asyncio.run(_through_a_stream(decoded, typed))


@pytest.mark.parametrize(
    "event",
    [
        {"type": {}},
        {"type": ["message_start"]},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": 5}},
        {"type": "content_block_start", "index": -1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": -1, "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_stop", "index": -1},
        {"type": "message_delta", "delta": {"stop_reason": 3}, "usage": {"output_tokens": 1}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": "many"}},
        {"type": "message_delta", "delta": [1], "usage": {}},
    ],
)
def test_the_held_out_inputs(event: dict[str, Any]) -> None:
    start = {"type": "message_start", "message": {"id": "m", "model": "x", "content": [], "usage": {}}}
    text = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    frames = [Frame(_name(e), orjson.dumps(e).decode()) for e in (start, text, event)]
    acc = MessageAccumulator()
    acc.feed(parse_frame(frames[0]))
    acc.feed(parse_frame(frames[1]))
    with pytest.raises(RxClaudeError):  # the parser refuses it, or the accumulator does
        acc.feed(parse_frame(frames[2]))
    with pytest.raises(RxClaudeError):  # the lean route too
        lean = parse_lean(frames[2].event, frames[2].data)
        if isinstance(lean, tuple):
            acc.feed_text(*lean)
        else:
            acc.feed(lean)
    assert acc.message(tolerant=True).content[0].text == ""  # nothing was written into block 0
    for typed in (False, True):
        stream = rxclaude.MessageStream(reactivex.from_iterable(frames))
        if typed:
            stream.events.subscribe(lambda _e: None, lambda _e: None)
        asyncio.run(asyncio.wait_for(stream.wait(), 5))
        assert isinstance(stream.error, (rxclaude.MalformedEventError, rxclaude.EventOrderError))
        assert stream.current_message is not None and stream.current_message.content[0].text == ""


def _name(event: dict[str, Any]) -> str:
    return event["type"] if isinstance(event.get("type"), str) else "x"
