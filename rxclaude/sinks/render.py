"""Throttled rendering for live views: at most one render per interval, and always the latest state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reactivex import abc

from rxclaude.plumbing import clock

if TYPE_CHECKING:
    pass

__all__ = [
    "Throttle",
    "check_rate",
    "joined",
    "ui_scheduler",
]


def ui_scheduler(scheduler: abc.SchedulerBase | None) -> abc.SchedulerBase | None:
    if scheduler is not None:
        return scheduler
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    from reactivex.scheduler.eventloop import AsyncIOScheduler

    return AsyncIOScheduler(loop)


class Throttle:
    """Call ``render`` at most once per ``interval`` seconds, and once more for the latest state.

    With a scheduler a trailing render is scheduled. Without one, the latest state waits for the
    next ``poke()`` after the interval, or for ``flush()``.
    """

    def __init__(self, interval: float, scheduler: abc.SchedulerBase | None, render: Callable[[], None]) -> None:
        self._interval = interval
        self._scheduler = scheduler
        self._now = clock(scheduler)
        self._render = render
        self._last = float("-inf")
        self._dirty = False
        self._pending: abc.DisposableBase | None = None
        self.renders = 0

    def poke(self) -> None:
        self._dirty = True
        if self._pending is not None:
            return
        wait = self._last + self._interval - self._now()
        if wait <= 0:
            self._fire()
        elif self._scheduler is not None:
            self._pending = self._scheduler.schedule_relative(wait, self._timer)

    def _timer(self, scheduler: abc.SchedulerBase, state: Any = None) -> None:
        self._pending = None
        if self._dirty:
            self._fire()

    def _fire(self) -> None:
        self._dirty = False
        self._last = self._now()
        self.renders += 1
        self._render()

    def flush(self) -> None:
        if self._pending is not None:
            self._pending.dispose()
            self._pending = None
        if self._dirty:
            self._fire()


def check_rate(refresh_per_second: float) -> float:
    if not refresh_per_second > 0:
        raise ValueError(f"refresh_per_second must be positive, got {refresh_per_second!r}")
    return 1.0 / refresh_per_second


def joined(parts: list[str]) -> str:
    """Join and compact in place, so a million deltas are joined once, not a million times."""
    if len(parts) == 1:
        return parts[0]
    text = "".join(parts)
    parts[:] = [text] if text else []
    return text


# -- terminal ------------------------------------------------------------------------------------
