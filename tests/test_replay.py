"""Replay of recordings and raw SSE files, in virtual time, on asyncio, and without a loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import reactivex
from reactivex import operators as rx
from reactivex.testing import ReactiveTest, TestScheduler

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.frame import Frame
from rxclaude.core.recording import iter_frames, sniff
from rxclaude.core.sse import SSEDecoder
from rxclaude.sinks import record
from rxclaude.sinks.bridge import aiter
from rxclaude.transport.replay import replay

from .helpers import FIXTURES

# Typed loosely: reactivex annotates ticks as int, and virtual seconds here are often fractional.
on_next: Any = ReactiveTest.on_next
on_completed: Any = ReactiveTest.on_completed
on_error: Any = ReactiveTest.on_error
ERROR_FIXTURES = {"docs-error-overloaded.sse", "fragment-midstream-api-error.sse"}
HANG = 30.0


def decoded(path: Path) -> list[Frame]:
    d = SSEDecoder()
    return d.feed(path.read_bytes()) + d.close()


def write_recording(path: Path, frames: list[tuple[float, Frame]], end: float | None = None, **header: Any) -> None:
    lines = [{"rxclaude_recording": 1, "started": "2025-01-01T00:00:00+00:00", **header}]
    for t, f in frames:
        item: dict[str, Any] = {"t": t, "event": f.event, "data": f.data}
        if f.id is not None:
            item["id"] = f.id
        if f.retry is not None:
            item["retry"] = f.retry
        lines.append(item)
    if end is not None:
        lines.append({"t": end, "end": "completed"})
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))


FRAMES = [
    Frame("message_start", '{"type":"message_start"}'),
    Frame("ping", '{"type": "ping"}', id="7"),
    Frame("content_block_delta", "a\nb", id="8", retry=3000),
]


def timeline(messages: list[Any]) -> list[Any]:
    return [(m.time, m.value.value if m.value.kind == "N" else m.value.kind) for m in messages]


# -- every fixture -------------------------------------------------------------------------------


def test_every_fixture_replays_to_a_message(sse_fixture: Path) -> None:
    results: list[rxclaude.Message] = []
    errors: list[Exception] = []
    replay(sse_fixture, None).pipe(ops.parse(), ops.message()).subscribe(results.append, errors.append)
    if sse_fixture.name in ERROR_FIXTURES:
        assert len(errors) == 1 and isinstance(errors[0], rxclaude.RxClaudeError)
        return
    assert not errors
    assert len(results) == 1 and isinstance(results[0], rxclaude.Message)
    assert not results[0].incomplete


def test_fixture_frames_are_the_decoder_frames(sse_fixture: Path) -> None:
    frames: list[Frame] = []
    replay(sse_fixture, None).subscribe(frames.append)
    assert frames == decoded(sse_fixture)
    assert sniff(sse_fixture) == "sse"


async def test_fixture_on_the_running_loop() -> None:
    path = FIXTURES / "text-basic-sonnet4.sse"
    source = replay(path, None).pipe(ops.parse(), ops.text())
    text = "".join([piece async for piece in aiter(source)])
    assert text.startswith("Olá!")


# -- timing --------------------------------------------------------------------------------------


def test_raw_sse_with_an_interval_in_virtual_time() -> None:
    path = FIXTURES / "docs-basic-hello.sse"
    frames = decoded(path)
    s = TestScheduler()
    res = s.start(lambda: replay(path, 2.0, interval=0.5, scheduler=s))
    expected = [(pytest.approx(200 + i * 0.25), f) for i, f in enumerate(frames)]
    assert timeline(res.messages)[:-1] == expected
    assert timeline(res.messages)[-1][1] == "C"


def test_raw_sse_without_timings_is_immediate() -> None:
    path = FIXTURES / "docs-basic-hello.sse"
    s = TestScheduler()
    res = s.start(lambda: replay(path, scheduler=s))
    assert {m.time for m in res.messages} == {200}
    assert len(res.messages) == len(decoded(path)) + 1


@pytest.mark.parametrize("speed", [1.0, 10.0, 0.5])
def test_recording_at_speed_in_virtual_time(tmp_path: Path, speed: float) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([0.5, 1.25, 4.0], FRAMES, strict=True)), end=5.0)
    assert sniff(path) == "recording"
    s = TestScheduler()
    res = s.start(lambda: replay(path, speed), disposed=10_000)  # the subscribe-time scheduler is used
    expected = [(pytest.approx(200 + t / speed), f) for t, f in zip([0.5, 1.25, 4.0], FRAMES, strict=True)]
    assert timeline(res.messages) == [*expected, (pytest.approx(200 + 5.0 / speed), "C")]


@pytest.mark.parametrize("speed", [None, float("inf")])
def test_recording_as_fast_as_possible(tmp_path: Path, speed: float | None) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([0.5, 1.25, 4.0], FRAMES, strict=True)), end=5.0)
    s = TestScheduler()
    res = s.start(lambda: replay(path, speed, scheduler=s))
    assert timeline(res.messages) == [(200, f) for f in FRAMES] + [(200, "C")]


def test_many_frames_are_emitted_in_batches(tmp_path: Path) -> None:
    body = b"".join(b"data: %d\n\n" % i for i in range(2000))
    s = TestScheduler()
    res = s.start(lambda: replay(body, None, scheduler=s))
    assert [f.data for _, f in timeline(res.messages)[:-1]] == [str(i) for i in range(2000)]


def test_cold_each_subscription_replays_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([1.0, 2.0, 3.0], FRAMES, strict=True)), end=3.0)
    s = TestScheduler()
    source = replay(path, scheduler=s)
    a: list[tuple[float, Frame]] = []
    b: list[tuple[float, Frame]] = []
    s.schedule_absolute(100, lambda *_: source.subscribe(lambda f: a.append((s.clock, f))))
    s.schedule_absolute(150, lambda *_: source.subscribe(lambda f: b.append((s.clock, f))))
    s.start()
    assert [f for _, f in a] == [f for _, f in b] == FRAMES
    assert [t for t, _ in a] == pytest.approx([101, 102, 103])
    assert [t for t, _ in b] == pytest.approx([151, 152, 153])


def test_dispose_stops_the_replay_and_closes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rxclaude.core.recording as replay_module

    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([1.0, 2.0, 3.0], FRAMES, strict=True)), end=4.0)
    opened: list[Any] = []
    real_open = replay_module._open

    def tracking_open(source: Any) -> Any:
        f = real_open(source)
        opened.append(f)
        return f

    monkeypatch.setattr(replay_module, "_open", tracking_open)
    s = TestScheduler()
    res = s.start(lambda: replay(path, scheduler=s), disposed=202.5)
    assert timeline(res.messages) == [(201, FRAMES[0]), (202, FRAMES[1])]
    assert len(opened) == 1 and opened[0].closed


def test_take_disposes_inside_on_next(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([0.0, 0.0, 0.0], FRAMES, strict=True)), end=0.0)
    got: list[Frame] = []
    replay(path, None).pipe(rx.take(1)).subscribe(got.append)
    assert got == FRAMES[:1]


# -- format handling -----------------------------------------------------------------------------


def test_a_cut_off_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([1.0, 2.0], FRAMES[:2], strict=True)))
    with path.open("ab") as f:
        f.write(b'{"t": 3.0, "event": "pi')  # the process died while writing this line
    frames: list[Frame] = []
    done: list[bool] = []
    replay(path, None).subscribe(frames.append, on_completed=lambda: done.append(True))
    assert frames == FRAMES[:2] and done == [True]


def test_a_corrupt_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([1.0, 2.0], FRAMES[:2], strict=True)))
    with path.open("ab") as f:
        f.write(b"not json\n" + orjson.dumps({"t": 3.0, "event": "x", "data": "y"}) + b"\n")
    errors: list[Exception] = []
    frames: list[Frame] = []
    replay(path, None).subscribe(frames.append, errors.append)
    assert frames == FRAMES[:2]
    assert isinstance(errors[0], rxclaude.StreamFormatError)
    assert "line 4" in str(errors[0])


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"rxclaude_recording": 2}\n')
    errors: list[Exception] = []
    replay(path, None).subscribe(on_error=errors.append)
    assert isinstance(errors[0], rxclaude.StreamFormatError)


def test_missing_file_is_an_error_on_subscribe(tmp_path: Path) -> None:
    source = replay(tmp_path / "nope.jsonl", None)  # nothing is read before subscribing
    errors: list[Exception] = []
    source.subscribe(on_error=errors.append)
    assert isinstance(errors[0], FileNotFoundError)


def test_bytes_source_and_iter_frames(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([1.0, 2.0, 3.0], FRAMES, strict=True)), end=3.5)
    stamped = list(iter_frames(path))
    assert [(x.value, x.t) for x in stamped] == list(zip(FRAMES, [1.0, 2.0, 3.0], strict=True))
    got: list[Frame] = []
    replay(path.read_bytes(), None).subscribe(got.append)
    assert got == FRAMES
    raw = list(iter_frames(b"data: a\n\ndata: b\n\n", interval=0.5))
    assert [(x.value.data, x.t) for x in raw] == [("a", 0.0), ("b", 0.5)]


@pytest.mark.parametrize("kwargs", [{"speed": 0}, {"speed": -1.0}, {"interval": -0.1}])
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replay(b"", **kwargs)


# -- default schedulers --------------------------------------------------------------------------


def test_without_a_loop_fast_replay_is_synchronous() -> None:
    frames: list[Frame] = []
    replay(FIXTURES / "docs-basic-hello.sse", None).subscribe(frames.append)
    assert frames == decoded(FIXTURES / "docs-basic-hello.sse")


def test_without_a_loop_timed_replay_plays_before_subscribe_returns() -> None:
    done = threading.Event()
    frames: list[Frame] = []
    replay(b"data: a\n\ndata: b\n\ndata: c\n\n", 1.0, interval=0.001).subscribe(frames.append, on_completed=done.set)
    assert done.is_set()  # a plain script sees every frame (no daemon timer to outlive it)
    assert [f.data for f in frames] == ["a", "b", "c"]


async def test_timed_replay_on_the_running_loop(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, list(zip([0.001, 0.002, 0.003], FRAMES, strict=True)), end=0.004)
    got = await asyncio.wait_for(replay(path).pipe(rx.to_list()), HANG)
    assert got == FRAMES


# -- round trip with the recorder ----------------------------------------------------------------


def test_record_then_replay_reproduces_frames_and_timings(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    frames = decoded(FIXTURES / "tool-use-single-sonnet4.sse")
    times = [200.0 + 0.137 * i + (0.9 if i >= 3 else 0.0) for i in range(1, len(frames) + 1)]  # a stall before the 3rd
    s = TestScheduler()
    hot = s.create_hot_observable(
        *[on_next(t, f) for t, f in zip(times, frames, strict=True)], on_completed(times[-1] + 0.5)
    )
    handles: list[Any] = []
    s.schedule_absolute(200, lambda sch, _: handles.append(record(hot, path, scheduler=sch, meta={"model": "m"})))
    s.start()
    assert handles[0].done and handles[0].result == len(frames)

    s2 = TestScheduler()
    res = s2.start(lambda: replay(path, 1.0), created=50, subscribed=200, disposed=10_000)
    got = timeline(res.messages)
    assert [f for _, f in got[:-1]] == frames
    assert [t for t, _ in got[:-1]] == pytest.approx(times, abs=1e-6)
    assert got[-1] == (pytest.approx(times[-1] + 0.5, abs=1e-6), "C")
    # ... and the replayed frames still parse to the same message
    message: list[rxclaude.Message] = []
    replay(path, None).pipe(ops.parse(), ops.message()).subscribe(message.append)
    original: list[rxclaude.Message] = []
    reactivex.from_(frames).pipe(ops.parse(), ops.message()).subscribe(original.append)
    assert message == original
