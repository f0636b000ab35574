"""Terminal sinks: plain text as it arrives, and live Markdown (rich)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from reactivex import Observable, abc

from rxclaude.sinks.handle import OwnedHandle, SinkHandle, run_sink
from rxclaude.sinks.render import Throttle, check_rate, joined, ui_scheduler

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "markdown",
    "print_text",
]


def print_text(
    observable: Observable[str], file: TextIO | None = None, flush: bool = True, *, end: str = "\n"
) -> SinkHandle[None]:
    """Print each piece of text as it arrives, and ``end`` when the source completes.

    ``file`` defaults to the ``sys.stdout`` in effect at call time.

    Example:
        >>> await sinks.print_text(stream.text)  # doctest: +SKIP
    """
    out = sys.stdout if file is None else file

    def on_next(piece: str) -> None:
        out.write(piece)
        if flush:
            out.flush()

    def on_stop() -> None:
        if handle.error is None and not handle.disposed and end:
            out.write(end)
            out.flush()

    handle: OwnedHandle[None] = OwnedHandle(lambda: None, on_stop=on_stop)
    run_sink(handle, observable, on_next)
    return handle


def markdown(
    observable: Observable[str],
    *,
    console: Console | None = None,
    refresh_per_second: float = 8.0,
    scheduler: abc.SchedulerBase | None = None,
    transient: bool = False,
) -> SinkHandle[str]:
    """Render text as live Markdown in the terminal (needs the ``rich`` extra).

    Text is kept in a list, and the Markdown is re-rendered at most ``refresh_per_second`` times
    a second, never once per token. A final render happens at the end. The timing comes from
    ``scheduler``, or from the running asyncio loop by default. ``await handle`` gives the full
    text.

    Example:
        >>> await sinks.markdown(stream.text)  # doctest: +SKIP
    """
    from rich.live import Live
    from rich.markdown import Markdown

    interval = check_rate(refresh_per_second)
    parts: list[str] = []
    live = Live(Markdown(""), console=console, auto_refresh=False, transient=transient, vertical_overflow="visible")

    def render() -> None:
        live.update(Markdown(joined(parts)), refresh=True)

    throttle = Throttle(interval, ui_scheduler(scheduler), render)

    def on_next(piece: str) -> None:
        parts.append(piece)
        throttle.poke()

    def on_stop() -> None:
        try:
            throttle.flush()
        finally:
            live.stop()

    handle: OwnedHandle[str] = OwnedHandle(lambda: joined(parts), on_stop=on_stop)
    live.start()
    run_sink(handle, observable, on_next)
    return handle


# -- notebook ------------------------------------------------------------------------------------
