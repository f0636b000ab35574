"""The live notebook view: text, thinking, usage and a Stop button that cancels the request."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from reactivex import Observable, abc

from rxclaude.core.accumulate import merge_usage
from rxclaude.core.deltas import TextDelta, ThinkingDelta
from rxclaude.core.events import ContentBlockDeltaEvent, MessageDeltaEvent, MessageStartEvent
from rxclaude.core.message import Message, Usage
from rxclaude.sinks.handle import OwnedHandle, run_sink
from rxclaude.sinks.render import Throttle, check_rate, joined, ui_scheduler

if TYPE_CHECKING:
    pass

__all__ = [
    "NotebookView",
    "notebook",
]


def _usage_html(usage: Usage | None) -> str:
    if usage is None:
        return ""
    items = [f"in {usage.input_tokens or 0}", f"out {usage.output_tokens or 0}"]
    if usage.cache_read_input_tokens:
        items.append(f"cache read {usage.cache_read_input_tokens}")
    if usage.cache_creation_input_tokens:
        items.append(f"cache write {usage.cache_creation_input_tokens}")
    return '<span style="color: gray">' + " · ".join(items) + " tokens</span>"


class NotebookView(OwnedHandle[str]):
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
        self._throttle = Throttle(interval, scheduler, self._render)

    @property
    def text(self) -> str:
        """The text so far."""
        return joined(self._parts)

    @property
    def thinking(self) -> str:
        """The thinking so far."""
        return joined(self._thinking)

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
    interval = check_rate(refresh_per_second)
    if render not in ("markdown", "text"):
        raise ValueError(f"render must be 'markdown' or 'text', got {render!r}")
    events = getattr(source, "events", None)
    stream = source if isinstance(events, Observable) and callable(getattr(source, "cancel", None)) else None
    observable: Observable[Any] = events if stream is not None else source  # type: ignore[assignment]
    view = NotebookView(
        stream=stream, on_stop=on_stop, render=render, interval=interval, scheduler=ui_scheduler(scheduler)
    )
    if display:
        from IPython.display import display as show

        show(view.widget)
    run_sink(view, observable, view._feed)
    connect = getattr(stream, "connect", None)
    if callable(connect) and not view.done:
        connect()
    return view


# -- files ---------------------------------------------------------------------------------------
