"""Sinks: where a stream ends up (the terminal, a notebook, a file, an asyncio queue).

Every sink has the same shape. It is a function that takes an Observable, subscribes at once,
and returns a :class:`SinkHandle`: ``handle.dispose()`` stops early, and ``await handle`` waits
for the end and re-raises the source's error. Nothing is printed or swallowed; the error is also
kept on ``handle.error``. :class:`Recorder` is also an Observer, for use inside a pipeline
(``frames.pipe(rx.do(recorder))``). The optional extras ``rich`` and ``ipywidgets`` are imported
only when :func:`markdown` or :func:`notebook` is called. Sinks expect their values on the event
loop's thread, which is the normal case.

The recording format is described in :mod:`rxclaude.core.recording`.

Modules: :mod:`~rxclaude.sinks.terminal`, :mod:`~rxclaude.sinks.notebook`, :mod:`~rxclaude.sinks.record`,
:mod:`~rxclaude.sinks.queue`, :mod:`~rxclaude.sinks.bridge` (``aiter``, ``to_async_sink``), and
:mod:`~rxclaude.sinks.handle` (what every sink returns).
"""

from rxclaude.sinks.bridge import BufferedIterator, aiter, to_async_sink
from rxclaude.sinks.handle import SinkHandle
from rxclaude.sinks.notebook import NotebookView, notebook
from rxclaude.sinks.queue import END, to_queue
from rxclaude.sinks.record import Recorder, record
from rxclaude.sinks.terminal import markdown, print_text

__all__ = [
    "END",
    "BufferedIterator",
    "NotebookView",
    "Recorder",
    "SinkHandle",
    "aiter",
    "markdown",
    "notebook",
    "print_text",
    "record",
    "to_async_sink",
    "to_queue",
]
