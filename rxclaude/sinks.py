"""Sinks: where a stream ends up (the terminal, a notebook, a file, an asyncio queue).

Every sink has the same shape. It is a function that takes an Observable, subscribes at once,
and returns a :class:`SinkHandle`: ``handle.dispose()`` stops early, and ``await handle`` waits
for the end and re-raises the source's error. Nothing is printed or swallowed; the error is also
kept on ``handle.error``. :class:`Recorder` is also an Observer, for use inside a pipeline
(``frames.pipe(rx.do(recorder))``). The optional extras ``rich`` and ``ipywidgets`` are imported
only when :func:`markdown` or :func:`notebook` is called. Sinks expect their values on the event
loop's thread, which is the normal case.

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
* The end line is the last line. ``end`` is ``"completed"``, ``"error"`` (with
  ``"error": {"type": ..., "message": ...}``) or ``"stopped"`` (the sink was disposed or closed).
  A file without an end line was cut off.
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final, Literal, TextIO, TypeVar

import orjson
from reactivex import Observable, abc

from ._accumulate import merge_usage
from ._buffer import BufferOverflowError, BufferStats, Overflow, SinkHandle, to_async_sink
from .events import (
    ContentBlockDeltaEvent,
    Frame,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    TextDelta,
    ThinkingDelta,
    Usage,
)
from .operators._time import clock

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "END",
    "RECORDING_KEY",
    "RECORDING_VERSION",
    "NotebookView",
    "Recorder",
    "SinkHandle",
    "markdown",
    "notebook",
    "print_text",
    "record",
    "to_async_sink",
    "to_queue",
]

_T = TypeVar("_T")

RECORDING_KEY: Final = "rxclaude_recording"
RECORDING_VERSION: Final = 1


class _End:
    """The type of :data:`END`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "rxclaude.sinks.END"


END: Final = _End()
"""What :func:`to_queue` puts after the last value when the source completes or is disposed."""


class _Handle(SinkHandle[_T]):
    def dispose_subscription(self) -> None:
        self._subscription.dispose()


def _run(handle: _Handle[Any], observable: Observable[_T], on_next: Callable[[_T], None]) -> None:
    """Subscribe ``on_next``; a source error or an exception in ``on_next`` finishes ``handle``."""

    def safe_next(value: _T) -> None:
        if handle.done:
            return
        try:
            on_next(value)
        except Exception as e:
            handle.dispose_subscription()
            handle.finish(e)

    handle.attach(observable.subscribe(safe_next, handle.finish, handle.finish))


def _ui_scheduler(scheduler: abc.SchedulerBase | None) -> abc.SchedulerBase | None:
    if scheduler is not None:
        return scheduler
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    from reactivex.scheduler.eventloop import AsyncIOScheduler

    return AsyncIOScheduler(loop)


class _Throttle:
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


def _check_rate(refresh_per_second: float) -> float:
    if not refresh_per_second > 0:
        raise ValueError(f"refresh_per_second must be positive, got {refresh_per_second!r}")
    return 1.0 / refresh_per_second


def _joined(parts: list[str]) -> str:
    """Join and compact in place, so a million deltas are joined once, not a million times."""
    if len(parts) == 1:
        return parts[0]
    text = "".join(parts)
    parts[:] = [text] if text else []
    return text


# -- terminal ------------------------------------------------------------------------------------


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

    handle: _Handle[None] = _Handle(lambda: None, on_stop=on_stop)
    _run(handle, observable, on_next)
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

    interval = _check_rate(refresh_per_second)
    parts: list[str] = []
    live = Live(
        Markdown(""), console=console, auto_refresh=False, transient=transient, vertical_overflow="visible"
    )

    def render() -> None:
        live.update(Markdown(_joined(parts)), refresh=True)

    throttle = _Throttle(interval, _ui_scheduler(scheduler), render)

    def on_next(piece: str) -> None:
        parts.append(piece)
        throttle.poke()

    def on_stop() -> None:
        try:
            throttle.flush()
        finally:
            live.stop()

    handle: _Handle[str] = _Handle(lambda: _joined(parts), on_stop=on_stop)
    live.start()
    _run(handle, observable, on_next)
    return handle


# -- notebook ------------------------------------------------------------------------------------


def _usage_html(usage: Usage | None) -> str:
    if usage is None:
        return ""
    items = [f"in {usage.input_tokens or 0}", f"out {usage.output_tokens or 0}"]
    if usage.cache_read_input_tokens:
        items.append(f"cache read {usage.cache_read_input_tokens}")
    if usage.cache_creation_input_tokens:
        items.append(f"cache write {usage.cache_creation_input_tokens}")
    return '<span style="color: gray">' + " · ".join(items) + " tokens</span>"


class NotebookView(_Handle[str]):
    """A live notebook view of one stream. This is the :class:`SinkHandle` that :func:`notebook` returns.

    Attributes: ``widget`` (the ``VBox`` to display), ``text_html``, ``thinking_html``,
    ``usage_html``, ``status`` and ``button`` (the Stop button), plus ``text``, ``thinking`` and
    ``usage``, the data so far.

    Example:
        >>> view = sinks.notebook(stream); view.button.click()  # same as pressing Stop  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        stream: Any = None,
        on_stop: Callable[[], None] | None = None,
        render: Literal["markdown", "text"] = "markdown",
        interval: float = 0.1,
        scheduler: abc.SchedulerBase | None = None,
    ) -> None:
        import ipywidgets as w

        super().__init__(lambda: self.text, on_stop=self._stopped)
        self._stream = stream
        self._user_on_stop = on_stop
        self._parts: list[str] = []
        self._thinking: list[str] = []
        self.usage: Usage | None = None
        self._to_html = _markdown_to_html() if render == "markdown" else _text_to_html
        self.text_html = w.HTML(value="")
        self.thinking_html = w.HTML(value="", layout=w.Layout(display="none"))
        self.usage_html = w.HTML(value="")
        self.status = w.HTML(value="streaming…")
        self.button = w.Button(description="Stop", button_style="danger", icon="stop", tooltip="Stop this stream")
        self.button.on_click(self._clicked)
        self.widget = w.VBox([self.thinking_html, self.text_html, w.HBox([self.button, self.status, self.usage_html])])
        self._throttle = _Throttle(interval, scheduler, self._render)

    @property
    def text(self) -> str:
        """The text so far."""
        return _joined(self._parts)

    @property
    def thinking(self) -> str:
        """The thinking so far."""
        return _joined(self._thinking)

    def stop(self) -> None:
        """What the Stop button does: unsubscribe, ``stream.cancel()``, then ``on_stop()``."""
        if self.done:
            return
        self.dispose()
        cancel = getattr(self._stream, "cancel", None)
        if callable(cancel):
            cancel()
        if self._user_on_stop is not None:
            self._user_on_stop()

    def _clicked(self, button: Any) -> None:
        self.stop()

    def _feed(self, value: Any) -> None:
        t = type(value)
        if t is str:
            self._parts.append(value)
        elif t is ContentBlockDeltaEvent:
            delta = value.delta
            if type(delta) is TextDelta:
                self._parts.append(delta.text)
            elif type(delta) is ThinkingDelta:
                self._thinking.append(delta.thinking)
            else:
                return
        elif t is MessageStartEvent:
            self.usage = value.message.usage
        elif t is MessageDeltaEvent:
            self.usage = value.usage if self.usage is None else merge_usage(self.usage, value.usage)
        elif t is Usage:
            self.usage = value
        elif t is Message:
            self._parts[:] = [value.text]
            self.usage = value.usage
        else:
            return
        self._throttle.poke()

    def _render(self) -> None:
        text = self.text
        if text:
            self.text_html.value = self._to_html(text)
        thinking = self.thinking
        if thinking:
            style = "color: gray; font-style: italic; white-space: pre-wrap"
            self.thinking_html.value = f'<div style="{style}">{html.escape(thinking)}</div>'

            self.thinking_html.layout.display = None
        self.usage_html.value = _usage_html(self.usage)

    def _stopped(self) -> None:
        self._throttle.flush()
        self.button.disabled = True
        error = self.error
        if error is not None:
            self.status.value = (
                f'<span style="color: crimson">error: {html.escape(type(error).__name__)}: '
                f"{html.escape(str(error))}</span>"
            )
        elif self.disposed:
            self.status.value = "stopped"
        else:
            self.status.value = "done"

    def __repr__(self) -> str:
        return f"<NotebookView {'streaming' if not self.done else self.status.value!r} chars={len(self.text)}>"


def _text_to_html(text: str) -> str:
    return '<div style="white-space: pre-wrap">' + html.escape(text) + "</div>"


def _markdown_to_html() -> Callable[[str], str]:
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it-py comes with rich
        return _text_to_html
    md = MarkdownIt("commonmark", {"html": False})  # raw HTML from the model is shown, never run
    return md.render


def notebook(
    source: Any,
    *,
    on_stop: Callable[[], None] | None = None,
    display: bool = True,
    render: Literal["markdown", "text"] = "markdown",
    refresh_per_second: float = 10.0,
    scheduler: abc.SchedulerBase | None = None,
) -> NotebookView:
    """Show a stream live in a notebook, with a Stop button (needs the ``ipywidgets`` extra).

    ``source`` is a ``MessageStream``, or any Observable of text (``str``), events, ``Usage`` or
    ``Message`` values. Text (rendered as Markdown, or as plain text with ``render="text"``),
    thinking and usage are shown as they arrive, refreshed at most ``refresh_per_second`` times a
    second. A ``MessageStream`` is connected if it has not started yet. Pressing Stop unsubscribes,
    calls ``stream.cancel()`` and then ``on_stop()``. Errors are shown in the view and kept on it.

    Example::

        view = sinks.notebook(client.messages.stream(**params))
        await view  # the final text
    """
    interval = _check_rate(refresh_per_second)
    if render not in ("markdown", "text"):
        raise ValueError(f"render must be 'markdown' or 'text', got {render!r}")
    events = getattr(source, "events", None)
    stream = source if isinstance(events, Observable) and callable(getattr(source, "cancel", None)) else None
    observable: Observable[Any] = events if stream is not None else source  # type: ignore[assignment]
    view = NotebookView(
        stream=stream, on_stop=on_stop, render=render, interval=interval, scheduler=_ui_scheduler(scheduler)
    )
    if display:
        from IPython.display import display as show

        show(view.widget)
    _run(view, observable, view._feed)
    connect = getattr(stream, "connect", None)
    if callable(connect) and not view.done:
        connect()
    return view


# -- files ---------------------------------------------------------------------------------------


class Recorder(abc.ObserverBase[Frame]):
    """Write frames and their arrival times to a recording (the format is in the module docstring).

    ``path`` is a file name (created or truncated) or a binary file object, which is left open.
    Times come from ``scheduler`` (virtual time in tests) or ``time.monotonic``. Every line is
    flushed as it is written. The end line is written by ``on_completed``, by ``on_error``, or
    by :meth:`close` (``"stopped"``).

    Example:
        >>> with Recorder("run.jsonl") as rec:  # doctest: +SKIP
        ...     stream.frames.subscribe(rec); await stream.wait()
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | IO[bytes],
        *,
        meta: Mapping[str, Any] | None = None,
        scheduler: abc.SchedulerBase | None = None,
    ) -> None:
        self._owned = isinstance(path, (str, os.PathLike))
        self._file: IO[bytes] = open(path, "wb") if isinstance(path, (str, os.PathLike)) else path  # noqa: SIM115
        self._lock = threading.Lock()
        self._now = clock(scheduler)
        self._start = self._now()
        self.frames = 0
        """How many frames were written."""
        self.closed = False
        header: dict[str, Any] = {
            RECORDING_KEY: RECORDING_VERSION,
            "started": datetime.now(UTC).isoformat(),
            "clock": "monotonic" if scheduler is None else "scheduler",
        }
        if meta is not None:
            header["meta"] = dict(meta)
        self._write(header)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    def _t(self) -> float:
        return round(self._now() - self._start, 6)

    def on_next(self, value: Frame) -> None:
        """Write one frame line."""
        record: dict[str, Any] = {"t": self._t(), "event": value.event, "data": value.data}
        if value.id is not None:
            record["id"] = value.id
        if value.retry is not None:
            record["retry"] = value.retry
        with self._lock:
            if self.closed:
                return
            self._write(record)
            self.frames += 1

    def on_error(self, error: Exception) -> None:
        """Write the end line (``"error"``) and close."""
        self._end("error", {"type": type(error).__name__, "message": str(error)})

    def on_completed(self) -> None:
        """Write the end line (``"completed"``) and close."""
        self._end("completed")

    def close(self) -> None:
        """Stop recording: write the end line (``"stopped"``) unless the source already ended."""
        self._end("stopped")

    def _end(self, how: str, error: dict[str, str] | None = None) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            record: dict[str, Any] = {"t": self._t(), "end": how}
            if error is not None:
                record["error"] = error
            try:
                self._write(record)
            finally:
                if self._owned:
                    self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def record(
    observable: Observable[Frame],
    path: str | os.PathLike[str] | IO[bytes],
    *,
    meta: Mapping[str, Any] | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> SinkHandle[int]:
    """Record frames with their arrival times to ``path``; ``await`` gives the frame count.

    Times count from this call. Disposing the handle writes the ``"stopped"`` end line. The
    source's error is recorded and raised by ``await handle``. The file can be replayed with
    :func:`rxclaude.replay`.

    Example:
        >>> await sinks.record(stream.frames, "run.jsonl", meta={"model": params["model"]})  # doctest: +SKIP
    """
    recorder = Recorder(path, meta=meta, scheduler=scheduler)

    def on_stop() -> None:
        error = handle.error
        if error is not None:
            recorder.on_error(error)
        elif handle.disposed:
            recorder.close()
        else:
            recorder.on_completed()

    handle: _Handle[int] = _Handle(lambda: recorder.frames, on_stop=on_stop)
    _run(handle, observable, recorder.on_next)
    return handle


# -- asyncio -------------------------------------------------------------------------------------


def to_queue(
    observable: Observable[_T], queue: asyncio.Queue[Any], *, overflow: Overflow = "error"
) -> SinkHandle[None]:
    """Put each value into an ``asyncio.Queue``, then :data:`END` or the error itself.

    When the source completes, and also when the handle is disposed, :data:`END` is put, so a
    consumer never waits forever. When it fails, the exception object is put. A consumer loop::

        while (item := await queue.get()) is not END:
            if isinstance(item, BaseException): raise item
            use(item)

    A full bounded queue applies ``overflow`` (see :func:`rxclaude.aiter`). Under ``"error"``
    the subscription is disposed and :class:`~rxclaude.BufferOverflowError` is put. The end
    item is never dropped: if the queue is full it waits for room. ``handle.stats`` counts the
    values: ``delivered`` is the number put and not dropped since, and ``maxsize`` 0 means
    unbounded. This needs a running asyncio loop. ``on_next`` may
    come from another thread.

    Example:
        >>> q: asyncio.Queue = asyncio.Queue(maxsize=100); sinks.to_queue(stream.text, q)  # doctest: +SKIP
    """
    if overflow not in ("error", "drop_oldest", "latest"):
        raise ValueError(f"unknown overflow policy {overflow!r}")
    loop = asyncio.get_running_loop()
    thread = threading.get_ident()
    stats = BufferStats(queue.maxsize, overflow)
    ended = False

    def put_end(item: Any) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            task = loop.create_task(queue.put(item))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)

    def drop_one() -> None:
        queue.get_nowait()
        queue.task_done()
        stats.delivered -= 1
        stats.dropped += 1

    def put(value: Any) -> None:
        nonlocal ended
        if ended:
            return
        stats.received += 1
        if queue.full():
            if overflow == "error":
                stats.dropped += 1
                ended = True
                error = BufferOverflowError(queue.maxsize)
                handle.dispose_subscription()
                put_end(error)
                handle.finish(error)
                return
            if overflow == "drop_oldest":
                drop_one()
            else:
                while not queue.empty():
                    drop_one()
        queue.put_nowait(value)
        stats.delivered += 1
        stats.high_water = max(stats.high_water, queue.qsize())

    def on_loop(fn: Callable[..., None], *args: Any) -> None:
        if threading.get_ident() == thread:
            fn(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def on_stop() -> None:
        nonlocal ended
        if not ended:
            ended = True
            error = handle.error
            on_loop(put_end, END if error is None else error)

    handle: _Handle[None] = _Handle(lambda: None, on_stop=on_stop)
    handle.stats = stats

    def on_next(value: Any) -> None:
        on_loop(put, value)

    def on_error(error: Exception) -> None:
        on_loop(handle.finish, error)

    def on_completed() -> None:
        on_loop(handle.finish, None)

    handle.attach(observable.subscribe(on_next, on_error, on_completed))
    return handle


_PENDING: set[asyncio.Task[None]] = set()  # strong references to end items waiting for room
