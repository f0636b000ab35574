"""Issue 11, item 9: recordings from untrusted files are bounded like ``.sse`` files: line size,
frame size, timestamps (finite, in range, never back) and the number of frames."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

import rxclaude
from rxclaude.core import recording
from rxclaude.core.errors import FrameTooLargeError, StreamFormatError
from rxclaude.core.recording import read_timed

HEADER = b'{"rxclaude_recording": 1, "started": "2026-12-01T00:00:00+00:00", "clock": "monotonic"}\n'


def line(**item: Any) -> bytes:
    return orjson.dumps(item) + b"\n"


def frame(t: Any, data: Any = '{"type":"ping"}', **extra: Any) -> bytes:
    return line(t=t, event="ping", data=data, **extra)


def read(body: bytes, **limits: Any) -> list[Any]:
    return list(read_timed(HEADER + body, None, **limits))


def test_a_line_over_the_limit_is_refused_before_it_is_held() -> None:
    huge = frame(0.1, "x" * 5000)
    with pytest.raises(FrameTooLargeError) as info:
        read(frame(0.0) + huge, max_line=1000)
    assert info.value.limit == 1000 and info.value.size == 1001  # read 1001 bytes, not 5000
    with pytest.raises(FrameTooLargeError):
        read(huge, max_frame_size=4000)  # the decoded data too, as the SSE decoder's frame limit
    assert len(read(huge)) == 1


@pytest.mark.parametrize(
    "t", [b"1e999", b"-1e999", b"Infinity", b"NaN", b"-0.5", b"1e12", b'"1.0"', b"null", b"true", b"[1]"]
)
def test_bad_timestamps_are_typed(t: bytes) -> None:
    raw = HEADER + frame(0.0) + b'{"t": ' + t + b', "event": "ping", "data": "{}"}\n'
    with pytest.raises(StreamFormatError, match="line 3"):
        list(read_timed(raw, None))


def test_time_never_goes_back_and_frames_are_counted() -> None:
    with pytest.raises(StreamFormatError, match="goes back in time"):
        read(frame(2.0) + frame(1.0))
    with pytest.raises(StreamFormatError, match="max_frames=2"):
        read(frame(0.0) + frame(0.1) + frame(0.2), max_frames=2)
    assert [t for t, _ in read(frame(0.0) + frame(0.0) + line(t=0.5, end="completed"))] == [0.0, 0.0, 0.5]


@pytest.mark.parametrize(
    "bad", [{"event": 1, "data": "{}"}, {"event": "ping", "data": {}}, {"event": "ping", "data": "{}", "retry": "x"}]
)
def test_field_types_are_checked(bad: dict[str, Any]) -> None:
    with pytest.raises(StreamFormatError, match="line 2"):
        read(line(t=0.0, **bad))
    with pytest.raises(StreamFormatError):
        read(b"[1, 2]\n")


def test_a_line_cut_off_by_a_crash_still_ends_the_recording() -> None:
    assert len(read(frame(0.0) + frame(0.1)[:-5])) == 1


def test_the_documented_defaults() -> None:
    assert recording.MAX_LINE == 64 * 2**20 and recording.MAX_FRAME_SIZE == 16 * 2**20
    assert recording.MAX_SECONDS == 86400 and recording.MAX_FRAMES == 10_000_000


async def test_a_replay_with_t_inf_fails_at_once_instead_of_waiting(tmp_path: Path) -> None:
    path = tmp_path / "evil.jsonl"
    path.write_bytes(HEADER + frame(0.0) + b'{"t": Infinity, "event": "ping", "data": "{}"}\n')
    errors: list[Exception] = []
    done = asyncio.Event()
    rxclaude.replay(path).subscribe(lambda _f: None, lambda e: (errors.append(e), done.set()), done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert len(errors) == 1 and isinstance(errors[0], StreamFormatError)
