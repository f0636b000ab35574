"""MessageStream's routes for text and thinking deltas give every subscriber the same values.

While nobody subscribes to ``events`` (or ``snapshots``), a plain text/thinking delta goes from
its JSON straight to the accumulator and the ``text``/``thinking`` hub (no event objects); with
an ``events`` subscriber every frame is typed first. From the stream's own request the frames
come as the decoder's fields, and no Frame is built while nobody subscribes to ``frames``. All
must equal the public operator pipeline (``ops.parse()`` then ``ops.text()``, ``ops.usage()``...),
on every recorded stream, also when the ``events`` subscriber comes and goes mid-stream.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex.disposable import Disposable

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.deltas import TextDelta, ThinkingDelta
from rxclaude.core.errors import MalformedEventError
from rxclaude.core.events import ContentBlockDeltaEvent
from rxclaude.core.frame import Frame
from rxclaude.core.parse import parse_frame, parse_lean
from rxclaude.plumbing import DirectObservable

FIXTURES = Path(__file__).parent / "fixtures"
RECORDINGS = sorted(FIXTURES.glob("*.sse"))
DERIVED = ("text", "thinking", "tool_input", "citations", "blocks", "usage", "stop_reason")


def _frames(path: Path) -> list[Frame]:
    return rxclaude.SSEDecoder().feed(path.read_bytes())


def _expected(frames: list[Frame]) -> tuple[dict[str, list[Any]], Any]:
    """What the public operators make of the same frames."""
    events = reactivex.from_iterable(frames).pipe(ops.parse(), ops.broadcast())
    values: dict[str, list[Any]] = {}
    outcome: list[Any] = []
    for name, op in (
        ("text", ops.text()),
        ("thinking", ops.thinking()),
        ("tool_input", ops.tool_input()),
        ("citations", ops.citations()),
        ("blocks", ops.blocks()),
        ("usage", ops.usage()),
        ("stop_reason", ops.stop_reason()),
    ):
        values[name] = []
        events.pipe(op).subscribe(values[name].append, lambda e: None)
    events.pipe(ops.message()).subscribe(lambda m: outcome.append(m.to_dict()), lambda e: outcome.append(type(e)))
    events.connect()
    return values, outcome[0]


def _fields_source(body: bytes) -> DirectObservable[Frame]:
    """Like the transport's request: an observer that has ``on_fields`` (the stream's own) gets
    the decoder's fields (``push_fields``), 500 bytes at a time; any other gets Frames."""

    def subscribe(observer: Any, scheduler: Any = None) -> Disposable:
        decoder = rxclaude.SSEDecoder()
        on_fields = getattr(observer, "on_fields", None)
        for i in range(0, len(body), 500):
            if on_fields is not None:
                decoder.push_fields(body[i : i + 500], on_fields)
            else:
                decoder.push(body[i : i + 500], observer.on_next)
        observer.on_completed()
        return Disposable()

    return DirectObservable(subscribe)


async def _through_stream(
    frames: list[Frame], *, typed: str, body: bytes | None = None
) -> tuple[dict[str, list[Any]], Any, list[Any]]:
    """Run the frames through a MessageStream; ``typed``: never / always / toggling an events
    subscriber, or ``raw``: a frames subscriber throughout. With ``body``, the stream reads the
    recording's bytes as the transport hands them over (``on_fields``) instead of Frames."""
    stream = rxclaude.MessageStream(reactivex.from_iterable(frames) if body is None else _fields_source(body))
    raw: list[Frame] = []
    if typed == "raw":
        stream.frames.subscribe(raw.append, lambda e: None)
    values: dict[str, list[Any]] = {}
    for name in DERIVED:
        values[name] = []
        getattr(stream, name).subscribe(values[name].append, lambda e: None)
    seen: list[Any] = []
    if typed == "always":
        stream.events.subscribe(seen.append, lambda e: None)
    elif typed == "toggling":  # an events subscriber that leaves and comes back every few events

        def toggle(_: Any) -> None:
            nonlocal sub
            if len(seen) % 3 == 0:
                sub.dispose()
                sub = stream.events.subscribe(seen.append, lambda e: None)

        sub = stream.events.subscribe(seen.append, lambda e: None)
        stream.text.subscribe(toggle, lambda e: None)
    try:
        outcome: Any = (await stream.final_message()).to_dict()
    except rxclaude.RxClaudeError as e:
        outcome = type(e)
    return values, outcome, raw or seen


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
async def test_both_routes_equal_the_operators(path: Path) -> None:
    frames = _frames(path)
    lean, outcome, _ = await _through_stream(frames, typed="never")
    for typed, body in itertools.product(("never", "always", "toggling", "raw"), (None, path.read_bytes())):
        values, got, seen = await _through_stream(frames, typed=typed, body=body)
        assert (values, got) == (lean, outcome), (typed, body is not None)
        if typed == "always" and not isinstance(outcome, type):
            assert seen == [parse_frame(f) for f in frames]
        if typed == "raw":  # every frame; after a failure, those up to the one that ended the stream
            assert seen == frames if not isinstance(outcome, type) else (seen and seen == frames[: len(seen)])
    if path.name.startswith("fragment-"):
        # A fragment starts mid-message: the stream refuses a delta before message_start (and
        # so emits nothing), where the bare operators, keeping no state, pass its text along.
        assert outcome is rxclaude.EventOrderError and lean["text"] == []
        return
    expected, expected_outcome = _expected(frames)
    assert outcome == expected_outcome
    for name in DERIVED:
        assert lean[name] == expected[name], name


PLAIN_TEXT = '{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Hi"}}'
PLAIN_THINKING = '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}}'
NOT_PLAIN = [
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi","x":1}}',  # extra delta field
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"},"x":1}',  # extra event field
    '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}',
    '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s"}}',
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","thinking":"Hi"}}',
    '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}',
    '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    '{"type":"something_new","index":0,"delta":{"type":"text_delta"}}',
]
MALFORMED = [
    '{"type":"content_block_delta","index":"0","delta":{"type":"text_delta","text":"Hi"}}',
    '{"type":"content_block_delta","index":0,"delta":["text_delta"]}',
    '{"type":"content_block_delta","index":0}',
    "[1, 2]",
    "{",
]


def parse_frame_lean(frame: Frame) -> Any:
    return parse_lean(frame.event, frame.data, frame.id, frame.retry)


def test_lean_parse_of_plain_deltas() -> None:
    assert parse_frame_lean(Frame("content_block_delta", PLAIN_TEXT)) == (2, "Hi", False)
    assert parse_frame_lean(Frame("content_block_delta", PLAIN_THINKING)) == (0, "", True)
    assert parse_frame(Frame("content_block_delta", PLAIN_TEXT)) == ContentBlockDeltaEvent(2, TextDelta("Hi"))
    assert parse_frame(Frame("content_block_delta", PLAIN_THINKING)) == ContentBlockDeltaEvent(0, ThinkingDelta(""))


@pytest.mark.parametrize("data", NOT_PLAIN)
def test_anything_else_is_typed_as_usual(data: str) -> None:
    frame = Frame("content_block_delta", data)
    lean = parse_frame_lean(frame)
    assert not isinstance(lean, tuple)
    assert lean == parse_frame(frame)


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_frames_fail_alike(data: str) -> None:
    frame = Frame("content_block_delta", data)
    with pytest.raises(MalformedEventError) as lean:
        parse_frame_lean(frame)
    with pytest.raises(MalformedEventError) as typed:
        parse_frame(frame)
    assert str(lean.value) == str(typed.value)


INVALID_UTF8 = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"caf\xc3 \xff"}}'


@pytest.mark.parametrize("data", [PLAIN_TEXT, PLAIN_THINKING, *NOT_PLAIN, INVALID_UTF8.decode("utf-8", "replace")])
def test_parse_from_fields_equals_parse_from_a_frame(data: str) -> None:
    raw = INVALID_UTF8 if "\ufffd" in data else data.encode()
    assert parse_lean("content_block_delta", raw, "7", 3) == parse_frame_lean(
        Frame("content_block_delta", data, "7", 3)
    )


@pytest.mark.parametrize("data", [*MALFORMED, '{"type":"content_block_delta","index":0,"delta":{"type":"text_d\xff'])
def test_malformed_fields_fail_like_the_frame(data: str) -> None:
    raw = data.encode("latin-1") if "\xff" in data else data.encode()
    with pytest.raises(MalformedEventError) as fields:
        parse_lean("content_block_delta", raw)
    with pytest.raises(MalformedEventError) as frame:
        parse_frame_lean(Frame("content_block_delta", raw.decode("utf-8", "replace")))
    assert str(fields.value) == str(frame.value)


async def test_from_its_own_request_a_text_stream_builds_no_frame_or_event_per_delta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lean route end to end, through the real transport: text deltas reach the ``text``
    subscriber without a Frame or an event object each (only the few other frames get one)."""
    import rxclaude.core.parse as parse_module
    import rxclaude.stream as stream_module
    from rxclaude.testing import MockServer, Reply

    built: list[str] = []

    def counting(cls: Any, name: str) -> Any:
        def make(*args: Any) -> Any:
            built.append(name if name != "Frame" else f"Frame {args[0]}")
            return cls(*args)

        return make

    for module in (stream_module, parse_module):
        monkeypatch.setattr(module, "Frame", counting(Frame, "Frame"))
    monkeypatch.setattr(parse_module, "ContentBlockDeltaEvent", counting(ContentBlockDeltaEvent, "event"))
    pieces = [f"w{i} " for i in range(300)]
    async with (
        MockServer(default_reply=Reply.text(pieces)) as server,
        rxclaude.Client(api_key="fake-key-routes", base_url=server.url) as client,
    ):
        stream = client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
        texts: list[str] = []
        stream.text.subscribe(texts.append)
        stream.usage.subscribe(lambda u: None)  # a view over the other events keeps the lean route
        assert (await stream.final_message()).text == "".join(pieces) == "".join(texts)
    assert "Frame content_block_delta" not in built and "event" not in built
    assert len(built) < 10  # at most the few frames that are not plain deltas
