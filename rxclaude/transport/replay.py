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

import math
import threading
from typing import Any

from reactivex import Observable, abc
from reactivex.disposable import Disposable, SerialDisposable, SingleAssignmentDisposable

from rxclaude.core.frame import Frame
from rxclaude.core.recording import Source, read_timed
from rxclaude.plumbing import clock

__all__ = [
    "replay",
]

_BATCH = 256  # frames emitted per scheduled action when no wait is due
_EPSILON = 1e-6  # a frame less than a microsecond early is on time (clock rounding)


def _default_scheduler() -> tuple[abc.SchedulerBase, bool]:
    """The running loop's scheduler, or the current thread's; ``True`` when waits must block."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        from reactivex.scheduler.eventloop import AsyncIOScheduler

        return AsyncIOScheduler(loop), False
    # No loop (a plain script): play on the calling thread, sleeping between frames, so that
    # ``subscribe`` returns when the replay is over. (Daemon timer threads would let a script
    # exit before the first frame is due, printing nothing.)
    from reactivex.scheduler import CurrentThreadScheduler

    return CurrentThreadScheduler.singleton(), True


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
    asyncio loop's. Outside a loop it is the current thread: ``subscribe`` plays the whole
    recording (at its pace) before it returns, as a plain script expects. Each subscription
    replays from the start. Disposing stops the replay and closes the file.

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
        sched = scheduler or subscribe_scheduler
        blocking = False
        if sched is None:
            sched, blocking = _default_scheduler()
        wake = threading.Event()  # set by dispose: ends a blocking wait at once
        now = clock(sched)
        start = now()
        items = read_timed(source, interval)
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
                            if not blocking:
                                pending.disposable = sched.schedule_relative(wait, action)
                                return
                            if wake.wait(wait):
                                return
                            continue
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
            wake.set()
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
