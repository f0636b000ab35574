"""Replay a recording, or any raw SSE file, as a cold ``Observable[Frame]``.

Strategy: the format is sniffed from the first line. A JSON object with ``"rxclaude_recording"``
is a recording (the format is in :mod:`rxclaude.sinks`). Anything else is fed through
:class:`~rxclaude.SSEDecoder`, which treats it as a raw ``text/event-stream`` body. The file is
read lazily, one line or one 64 KiB chunk at a time, and only one scheduled action is pending
at a time. That keeps memory flat for any file size, and disposal cancels the pending action
and closes the file. All timing goes through a reactivex scheduler, so tests can replay in
``TestScheduler`` virtual time. Each frame is due at ``subscription time + t / speed``, with
due times counted from the start, so small delays never add up.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Generator, Iterator
from typing import IO, Any

import orjson
from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable

from ._sse import SSEDecoder
from .errors import StreamFormatError
from .events import Frame
from .operators._time import Timestamped, clock
from .sinks import RECORDING_KEY, RECORDING_VERSION

__all__ = ["iter_frames", "replay", "sniff"]

Source = str | os.PathLike[str] | bytes
"""A file path, or the file's content as ``bytes``."""

_CHUNK = 64 * 1024
_BATCH = 256  # frames emitted per scheduled action when no wait is due
_SNIFF_LIMIT = 1024 * 1024
_EPSILON = 1e-6  # a frame less than a microsecond early is on time (clock rounding)


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


def _read(source: Source, interval: float | None) -> Generator[tuple[float, Frame | None], None, None]:
    """Yield ``(t, frame)`` and finally ``(t, None)`` for a recorded end; closes the file when done."""
    with _open(source) as f:
        first = f.readline(_SNIFF_LIMIT)
        header = _header(first)
        if header is None:
            yield from _read_sse(first, f, interval or 0.0)
        else:
            version = header.get(RECORDING_KEY)
            if version != RECORDING_VERSION:
                raise StreamFormatError(f"unsupported rxclaude recording version {version!r}")
            yield from _read_recording(f)


def _read_sse(first: bytes, f: IO[bytes], interval: float) -> Iterator[tuple[float, Frame | None]]:
    decoder = SSEDecoder()
    n = 0
    chunk = first
    while chunk:
        for frame in decoder.feed(chunk):
            yield n * interval, frame
            n += 1
        chunk = f.read(_CHUNK)
    for frame in decoder.close():  # always empty, by the spec; kept for symmetry
        yield n * interval, frame  # pragma: no cover


def _read_recording(f: IO[bytes]) -> Iterator[tuple[float, Frame | None]]:
    number = 1
    for line in f:
        number += 1
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            t = float(item["t"])
            if "end" in item:
                yield t, None
                return
            frame = Frame(item["event"], item["data"], item.get("id"), item.get("retry"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            if not line.endswith(b"\n"):
                return  # the last line was cut off mid-write (a crash): the recording ends before it
            raise StreamFormatError(f"recording line {number} is not a valid frame: {e}") from e
        yield t, frame


def iter_frames(source: Source, *, interval: float | None = None) -> Iterator[Timestamped[Frame]]:
    """The frames of a recording or raw SSE file with their times, read lazily and without waiting.

    For a raw SSE file, ``t`` is ``i * interval`` (``0.0`` when ``interval`` is ``None``).

    Example:
        >>> [f.value.event for f in iter_frames("run.jsonl")][:2]  # doctest: +SKIP
        ['message_start', 'content_block_start']
    """
    items = _read(source, interval)
    try:
        for t, frame in items:
            if frame is not None:
                yield Timestamped(frame, t)
    finally:
        items.close()


def _default_scheduler(fast: bool) -> abc.SchedulerBase:
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        from reactivex.scheduler.eventloop import AsyncIOScheduler

        return AsyncIOScheduler(loop)
    if fast:
        from reactivex.scheduler import CurrentThreadScheduler

        return CurrentThreadScheduler.singleton()
    from reactivex.scheduler import TimeoutScheduler

    return TimeoutScheduler.singleton()


def replay(
    source: Source,
    speed: float | None = 1.0,
    *,
    interval: float | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Observable[Frame]:
    """Play a recording, or a raw ``.sse`` file, back as a cold ``Observable[Frame]``.

    ``speed=1.0`` keeps the recorded pace and ``speed=10`` plays ten times faster. ``speed=None``
    or ``float("inf")`` plays as fast as possible, yielding to the scheduler every few hundred
    frames. A raw SSE file carries no timings: it plays as fast as possible, or with ``interval``
    seconds between frames (also divided by ``speed``). ``interval`` is ignored for recordings. A
    recording completes at its recorded end time. A recorded error is not raised again: the frames
    tell the story, and ``ops.message()`` reports a truncated stream as
    :class:`~rxclaude.IncompleteStreamError`.

    The scheduler used is ``scheduler``, else the one passed to ``subscribe``, else the running
    asyncio loop's. Outside a loop it is the current thread (as fast as possible) or reactivex's
    timeout scheduler (timed). Each subscription replays from the start. Disposing stops the
    replay and closes the file.

    Example:
        >>> replay("run.jsonl", speed=10).pipe(ops.parse(), ops.text()).subscribe(print)  # doctest: +SKIP
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be positive (or None for as fast as possible), got {speed!r}")
    if interval is not None and not interval >= 0:
        raise ValueError(f"interval must be >= 0, got {interval!r}")
    fast = speed is None or math.isinf(speed)
    rate = 1.0 if speed is None else speed

    def subscribe(
        observer: abc.ObserverBase[Frame], subscribe_scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        sched = scheduler or subscribe_scheduler or _default_scheduler(fast)
        now = clock(sched)
        start = now()
        items = _read(source, interval)
        lock = threading.RLock()  # one action at a time; dispose from another thread waits for it
        pending = SerialDisposable()
        first = SingleAssignmentDisposable()
        lookahead: tuple[float, Frame | None] | None = None
        stopped = False

        def stop() -> None:
            nonlocal stopped
            stopped = True
            items.close()

        def action(_: abc.SchedulerBase, __: Any = None) -> None:
            nonlocal lookahead
            with lock:
                budget = _BATCH
                while not stopped:
                    if lookahead is None:
                        try:
                            lookahead = next(items)
                        except StopIteration:
                            stop()
                            observer.on_completed()
                            return
                        except Exception as e:
                            stop()
                            observer.on_error(e)
                            return
                    t, frame = lookahead
                    if not fast:
                        wait = start + t / rate - now()
                        if wait > _EPSILON:
                            pending.disposable = sched.schedule_relative(wait, action)
                            return
                    if budget == 0:
                        pending.disposable = sched.schedule(action)
                        return
                    budget -= 1
                    lookahead = None
                    if frame is None:
                        stop()
                        observer.on_completed()
                        return
                    observer.on_next(frame)

        def dispose() -> None:
            with lock:
                first.dispose()
                pending.dispose()
                if not stopped:
                    stop()

        # Kept apart from ``pending``: on a trampoline the first action runs (and schedules the
        # next one into ``pending``) before this call returns.
        first.disposable = sched.schedule(action)
        return Disposable(dispose)

    return Observable(subscribe)
