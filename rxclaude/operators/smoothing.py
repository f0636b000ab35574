"""Smoothing: bursty text deltas re-cut into words or lines, handed on at a steady pace.

Strategy: the text waits in a buffer (new deltas kept as a list, joined only when the buffer
holds no whole chunk); a chunk goes out at once when the pace allows, else on the next tick, one
per ``delay``. Nothing is dropped or reordered: chunks are consecutive slices of the text. When
the source completes, the whole chunks left keep their pace, then the rest goes out and the
completion follows; an error sends everything buffered at once, then the error.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Literal

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler
from reactivex.scheduler.eventloop import AsyncIOScheduler

from rxclaude.operators.buffering import running_loop

__all__ = ["Chunker", "smooth"]

Chunker = Callable[[str], int | None]
"""Finds the first chunk in the buffered text: its length (end index), or ``None`` if the text
holds no whole chunk yet."""

_PATTERNS = {"word": re.compile(r"\S+\s+"), "line": re.compile(r"\n+")}


def smooth(
    chunking: Literal["word", "line"] | str | re.Pattern[str] | Chunker = "word",
    *,
    delay: float = 0.01,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[str]], Observable[str]]:
    """Text re-cut into words (with their trailing whitespace) or lines, one piece per ``delay``
    seconds at most -- for UIs and speech that want an even flow instead of bursts.

    ``chunking``: ``"word"``, ``"line"``, a regular expression (a chunk ends where its first
    match ends), or a function returning the first chunk's length (``None``: not yet). Every
    character comes out once, in order; at completion the rest is flushed (whole chunks still at
    pace), on error at once, before the error. Timers run on ``scheduler``, else the one given
    to ``subscribe``, else the running asyncio loop, else a timer thread.

    Example:
        >>> stream.text.pipe(ops.smooth("word", delay=0.03)).subscribe(print)  # doctest: +SKIP
    """
    if delay < 0:
        raise ValueError(f"smooth(): delay must be >= 0, not {delay!r}")
    find = _finder(chunking)

    def operator(source: Observable[str]) -> Observable[str]:
        def subscribe(observer: abc.ObserverBase[str], sub_scheduler: abc.SchedulerBase | None = None) -> Any:
            sched = scheduler or sub_scheduler or _default_scheduler()
            buf = ""
            pos = 0
            more: list[str] = []
            timer = SerialDisposable()
            ticking = False  # a tick is due: the next chunk waits for it
            completed = False
            stopped = False

            def next_chunk() -> str | None:
                nonlocal buf, pos
                while True:
                    end = find(buf, pos) if pos < len(buf) else None
                    if end is not None and end > pos:
                        chunk, pos = buf[pos:end], end
                        return chunk
                    if not more:
                        return None
                    buf = buf[pos:] + "".join(more)
                    pos = 0
                    more.clear()

            def rest() -> str:
                nonlocal buf, pos
                text = buf[pos:] + "".join(more)
                buf, pos = "", 0
                more.clear()
                return text

            def tick(_: abc.SchedulerBase, __: Any = None) -> None:
                nonlocal ticking, stopped
                ticking = False
                if stopped:
                    return
                try:
                    chunk = next_chunk()
                except Exception as e:  # a chunker of yours that failed
                    fail(e)
                    return
                if chunk is not None:
                    observer.on_next(chunk)
                    schedule()
                elif completed:
                    stopped = True
                    tail = rest()
                    if tail:
                        observer.on_next(tail)
                    observer.on_completed()

            def schedule() -> None:
                nonlocal ticking
                ticking = True
                timer.disposable = sched.schedule_relative(delay, timed_tick)

            def on_next(text: str) -> None:
                if stopped or not text:
                    return
                more.append(text)
                if not ticking:
                    tick(sched)

            def on_error(error: Exception) -> None:
                if not stopped:
                    fail(error)

            def fail(error: Exception) -> None:
                nonlocal stopped
                stopped = True
                timer.dispose()
                tail = rest()
                if tail:
                    observer.on_next(tail)
                observer.on_error(error)

            def on_completed() -> None:
                nonlocal completed
                if stopped:
                    return
                completed = True
                if not ticking:
                    tick(sched)

            def stop() -> None:
                nonlocal stopped
                stopped = True

            lock = threading.RLock()  # ticks may come from a timer thread (the fallback scheduler)

            def locked(fn: Callable[..., None]) -> Callable[..., None]:
                def call(*args: Any) -> None:
                    with lock:
                        fn(*args)

                return call

            timed_tick = locked(tick)
            upstream = source.subscribe(
                locked(on_next), locked(on_error), locked(on_completed), scheduler=sub_scheduler
            )
            return CompositeDisposable(upstream, timer, Disposable(stop))

        return Observable(subscribe)

    return operator


def _finder(chunking: Any) -> Callable[[str, int], int | None]:
    """``find(text, start)``: where the first chunk from ``start`` ends, or ``None``."""
    if isinstance(chunking, str):
        pattern = _PATTERNS.get(chunking) or re.compile(chunking)
    elif isinstance(chunking, re.Pattern):
        pattern = chunking
    elif callable(chunking):
        chunker: Chunker = chunking

        def by_function(text: str, start: int) -> int | None:
            end = chunker(text[start:] if start else text)
            if end is None:
                return None
            if not isinstance(end, int) or end < 0 or start + end > len(text):
                raise ValueError(f"smooth(): the chunker returned {end!r} for {len(text) - start} characters")
            return start + end

        return by_function
    else:
        raise TypeError(f"smooth(): chunking must be 'word', 'line', a regex or a function, not {chunking!r}")

    def by_pattern(text: str, start: int) -> int | None:
        m = pattern.search(text, start)
        return m.end() if m is not None else None

    return by_pattern


def _default_scheduler() -> abc.SchedulerBase:
    loop = running_loop()
    if loop is not None:
        return AsyncIOScheduler(loop)
    return TimeoutScheduler()
