"""The recording format, and reading recordings or raw SSE files as timed frames (no I/O beyond the file).

Recording format (``rxclaude_recording`` version 1), written by :class:`Recorder` and
:func:`record` and read by :func:`rxclaude.replay`. It is JSON Lines: UTF-8, one JSON
object per line, each line flushed as soon as it is written, so a crash loses at most the line
being written::

    {"rxclaude_recording": 1, "started": "2025-05-01T12:00:00.123456+00:00", "clock": "monotonic", "meta": {}}
    {"t": 0.412031, "event": "message_start", "data": "{\\"type\\":\\"message_start\\", ...}"}
    {"t": 0.413227, "event": "ping", "data": "{\\"type\\": \\"ping\\"}", "id": "7", "retry": 3000}
    {"t": 2.904518, "end": "completed"}

* The header comes first. ``started`` is the wall-clock start (ISO 8601, UTC). ``clock`` is
  ``"monotonic"``, or ``"scheduler"`` when a scheduler's ``now`` was used (virtual time in
  tests). ``meta`` is optional: any JSON object you pass, such as the request parameters.
  Headers and API keys are never recorded.
* There is one line per frame. ``t`` is the seconds since the recorder started (microsecond
  resolution). ``event`` and ``data`` are the :class:`~rxclaude.Frame` fields. ``id`` and
  ``retry`` appear only when they are set.
* The end line is the last line. ``end`` says what really happened: ``"completed"`` (the
  message ended with ``message_stop``), ``"cancelled"`` (the stream was cancelled: Ctrl-C,
  ``stream.cancel()``), ``"incomplete"`` (the body ended after ``message_start`` but before
  ``message_stop``), ``"error"`` (with ``"error": {"type": ..., "message": ...}``) or
  ``"stopped"`` (the recorder was disposed or closed first). A file without an end line was
  cut off. Replaying anything but ``"completed"`` gives the frames up to the end: the message
  operators then report the partial message (``incomplete=True``).

A recording may come from anywhere, so reading one is bounded like reading a ``.sse`` file: a
line over ``max_line`` bytes (64 MiB) or a frame whose ``data`` is over ``max_frame_size``
(16 MiB, the SSE decoder's limit) is a :class:`~rxclaude.FrameTooLargeError` before it is held
whole; ``t`` must be a finite number of seconds in ``[0, max_seconds]`` (a day) that never goes
back, so a replay can never wait forever; ``event``/``data``/``id``/``retry`` must have their
types; and a file holds at most ``max_frames`` frames (10 million). Each is a
:class:`~rxclaude.StreamFormatError` naming the line.
"""

from __future__ import annotations

import io
import os
from collections.abc import Generator, Iterator
from typing import IO, Any, Final

import orjson

from rxclaude.core.errors import FrameTooLargeError, StreamFormatError
from rxclaude.core.frame import Frame
from rxclaude.core.sse import SSEDecoder
from rxclaude.core.values import Timestamped

__all__ = ["RECORDING_KEY", "RECORDING_VERSION", "Source", "iter_frames", "read_timed", "recorded_end", "sniff"]

RECORDING_KEY: Final = "rxclaude_recording"
RECORDING_VERSION: Final = 1

Source = str | os.PathLike[str] | bytes
"""A file path, or the file's content as ``bytes``."""

_CHUNK = 64 * 1024
_SNIFF_LIMIT = 1024 * 1024
MAX_LINE = 64 * 1024 * 1024
MAX_FRAME_SIZE = 16 * 1024 * 1024
MAX_SECONDS = 24 * 3600.0
MAX_FRAMES = 10_000_000
_END_LIMIT = 64 * 1024


def _open(source: Source) -> IO[bytes]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return open(source, "rb")  # closed by the generator that owns it


def _header(line: bytes) -> dict[str, Any] | None:
    head = line.removeprefix(b"\xef\xbb\xbf").strip()
    if not head.startswith(b"{"):
        return None
    try:
        value = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and RECORDING_KEY in value:
        return value
    return None


def sniff(source: Source) -> str:
    """``"recording"`` for an rxclaude recording, otherwise ``"sse"``.

    Example:
        >>> sniff("tests/fixtures/docs-basic-hello.sse")  # doctest: +SKIP
        'sse'
    """
    with _open(source) as f:
        return "recording" if _header(f.readline(_SNIFF_LIMIT)) is not None else "sse"


def read_timed(
    source: Source,
    interval: float | None,
    *,
    max_line: int = MAX_LINE,
    max_frame_size: int = MAX_FRAME_SIZE,
    max_seconds: float = MAX_SECONDS,
    max_frames: int = MAX_FRAMES,
) -> Generator[tuple[float, Frame | None], None, None]:
    """Yield ``(t, frame)`` and finally ``(t, None)`` for a recorded end; closes the file when done.

    Bounded for untrusted files (see the module docstring for the limits).
    """
    with _open(source) as f:
        first = f.readline(_SNIFF_LIMIT)
        header = _header(first)
        if header is None:
            yield from _read_sse(first, f, interval or 0.0, max_frame_size)
        else:
            version = header.get(RECORDING_KEY)
            if version != RECORDING_VERSION:
                raise StreamFormatError(f"unsupported rxclaude recording version {version!r}")
            yield from _read_recording(f, _Limits(max_line, max_frame_size, max_seconds, max_frames))


def _read_sse(first: bytes, f: IO[bytes], interval: float, max_frame_size: int) -> Iterator[tuple[float, Frame | None]]:
    decoder = SSEDecoder(max_frame_size=max_frame_size)
    n = 0
    chunk = first
    while chunk:
        for frame in decoder.feed(chunk):
            yield n * interval, frame
            n += 1
        chunk = f.read(_CHUNK)
    for frame in decoder.close():  # always empty, by the spec; kept for symmetry
        yield n * interval, frame  # pragma: no cover


class _Limits:
    __slots__ = ("frame_size", "frames", "line", "seconds")

    def __init__(self, line: int, frame_size: int, seconds: float, frames: int) -> None:
        self.line, self.frame_size, self.seconds, self.frames = line, frame_size, seconds, frames


def _read_recording(f: IO[bytes], limits: _Limits) -> Iterator[tuple[float, Frame | None]]:
    number = 1
    last_t = 0.0
    frames = 0
    while True:
        line = f.readline(limits.line + 1)  # never more than the limit in memory
        if not line:
            return
        number += 1
        if len(line) > limits.line:
            raise FrameTooLargeError(len(line), limits.line)
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            if type(item) is not dict:
                raise TypeError("a line is a JSON object")
            t = _time(item.get("t"), last_t, limits.seconds)
            if "end" in item:
                yield t, None
                return
            frame = _frame(item, limits.frame_size)
        except FrameTooLargeError:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            if not line.endswith(b"\n"):
                return  # the last line was cut off mid-write (a crash): the recording ends before it
            raise StreamFormatError(f"recording line {number} is not a valid frame: {e}") from None
        frames += 1
        if frames > limits.frames:
            raise StreamFormatError(f"recording has more than max_frames={limits.frames} frames (line {number})")
        last_t = t
        yield t, frame


def _time(value: Any, last: float, limit: float) -> float:
    """``t``: a finite number of seconds in ``[last, limit]``."""
    if type(value) not in (int, float):
        raise TypeError(f"t must be a number of seconds, not {type(value).__name__}")
    t = float(value)
    if not 0.0 <= t <= limit:  # also nan, inf and -inf
        raise ValueError(f"t={value!r} is not between 0 and max_seconds={limit:g}")
    if t < last:
        raise ValueError(f"t={value!r} goes back in time (the previous frame was at {last})")
    return t


def _frame(item: dict[str, Any], frame_size: int) -> Frame:
    event, data, id, retry = item["event"], item["data"], item.get("id"), item.get("retry")
    if type(event) is not str or type(data) is not str:
        raise TypeError("event and data must be strings")
    if id is not None and type(id) is not str:
        raise TypeError("id must be a string")
    if retry is not None and type(retry) is not int:
        raise TypeError("retry must be an integer")
    if len(data) > frame_size:
        raise FrameTooLargeError(len(data), frame_size)
    return Frame(event, data, id, retry)


def iter_frames(source: Source, *, interval: float | None = None) -> Iterator[Timestamped[Frame]]:
    """The frames of a recording or raw SSE file with their times, read lazily and without waiting.

    For a raw SSE file, ``t`` is ``i * interval`` (``0.0`` when ``interval`` is ``None``).

    Example:
        >>> [f.value.event for f in iter_frames("run.jsonl")][:2]  # doctest: +SKIP
        ['message_start', 'content_block_start']
    """
    items = read_timed(source, interval)
    try:
        for t, frame in items:
            if frame is not None:
                yield Timestamped(frame, t)
    finally:
        items.close()


def recorded_end(source: Source) -> dict[str, Any] | None:
    """The end line of a recording (``{"t": ..., "end": "cancelled", ...}``), or ``None``.

    ``None`` for a raw SSE file and for a recording cut off before its end line.

    Example:
        >>> recorded_end("run.jsonl")["end"]  # doctest: +SKIP
        'cancelled'
    """
    with _open(source) as f:
        if _header(f.readline(_SNIFF_LIMIT)) is None:
            return None
        body_start = f.tell()
        size = f.seek(0, io.SEEK_END)
        f.seek(max(body_start, size - _END_LIMIT))  # an end line is short: read the tail only
        last = f.read().rstrip().rpartition(b"\n")[2]
    try:
        item = orjson.loads(last) if last else None
    except orjson.JSONDecodeError:
        return None
    return item if isinstance(item, dict) and "end" in item else None
