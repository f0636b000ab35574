"""Sinks: terminal text, live Markdown, the notebook view, recordings and asyncio queues."""

from __future__ import annotations

import asyncio
import io
import math
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.testing import ReactiveTest, TestScheduler

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.frame import Frame
from rxclaude.operators import Broadcast
from rxclaude.operators.buffering import BufferOverflowError
from rxclaude.sinks import END, Recorder, markdown, notebook, print_text, record, to_queue
from rxclaude.sinks.handle import SinkHandle
from rxclaude.transport.replay import replay

from .helpers import FIXTURES

# Typed loosely: reactivex annotates ticks as int, and virtual seconds here are often fractional.
on_next: Any = ReactiveTest.on_next
on_completed: Any = ReactiveTest.on_completed
on_error: Any = ReactiveTest.on_error
HANG = 30.0


def test_sinks_import_without_optional_extras() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('rich', 'ipywidgets', 'IPython', 'markdown_it'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import rxclaude.sinks, rxclaude.transport.replay, rxclaude.operators.buffering\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=HANG)


# -- print_text ----------------------------------------------------------------------------------


def test_print_text_writes_each_piece_then_end() -> None:
    out = io.StringIO()
    handle = print_text(reactivex.of("Hel", "lo"), out)
    assert out.getvalue() == "Hello\n"
    assert handle.done and handle.error is None


def test_print_text_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    print_text(reactivex.of("a", "b"), end="")
    assert capsys.readouterr().out == "ab"


def test_print_text_keeps_the_error_and_prints_nothing_for_it() -> None:
    out = io.StringIO()
    error = RuntimeError("boom")
    handle = print_text(reactivex.concat(reactivex.of("x"), reactivex.throw(error)), out)
    assert out.getvalue() == "x"
    assert handle.error is error


def test_print_text_flushes_per_piece() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    out = Counting()
    print_text(reactivex.of("a", "b", "c"), out, end="")
    assert out.flushes == 3
    out2 = Counting()
    print_text(reactivex.of("a", "b", "c"), out2, flush=False, end="")
    assert out2.flushes == 0


def test_print_text_write_failure_disposes_the_source() -> None:
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError("closed")

    hub: Broadcast[str] = Broadcast()
    handle = print_text(hub, Broken())
    hub.on_next("x")
    assert isinstance(handle.error, BrokenPipeError)
    assert hub.observer_count == 0


async def test_print_text_await_and_dispose() -> None:
    hub: Broadcast[str] = Broadcast()
    out = io.StringIO()
    handle = print_text(hub, out)

    async def produce() -> None:
        for piece in ("one ", "two"):
            await asyncio.sleep(0)
            hub.on_next(piece)
        hub.on_completed()

    task = asyncio.ensure_future(produce())
    await asyncio.wait_for(handle, HANG)
    await task
    assert handle.result is None
    assert out.getvalue() == "one two\n"

    hub2: Broadcast[str] = Broadcast()
    out2 = io.StringIO()
    handle2 = print_text(hub2, out2)
    hub2.on_next("x")
    handle2.dispose()
    hub2.on_next("y")
    assert out2.getvalue() == "x"  # no end after a dispose
    assert hub2.observer_count == 0
    await handle2
    assert handle2.disposed


# -- markdown ------------------------------------------------------------------------------------


def test_markdown_renders_at_a_bounded_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    import rich.markdown as rich_markdown
    from rich.console import Console

    renders: list[str] = []

    class CountingMarkdown(rich_markdown.Markdown):
        def __init__(self, markup: str, *args: Any, **kwargs: Any) -> None:
            renders.append(markup)
            super().__init__(markup, *args, **kwargs)

    monkeypatch.setattr(rich_markdown, "Markdown", CountingMarkdown)
    console = Console(file=io.StringIO(), force_terminal=True, width=60, color_system=None)
    s = TestScheduler()
    tokens = ["# Title\n\n", *[f"word{i} " for i in range(200)]]
    hot = s.create_hot_observable(*[on_next(201.0 + 0.007 * i, t) for i, t in enumerate(tokens)], on_completed(205.0))
    handles: list[SinkHandle[str]] = []
    s.schedule_absolute(
        200, lambda *_: handles.append(markdown(hot, console=console, refresh_per_second=4, scheduler=s))
    )
    s.start()
    (handle,) = handles
    duration = 0.007 * (len(tokens) - 1)
    assert 2 <= len(renders) - 1 <= math.ceil(duration * 4) + 2  # minus the initial empty Markdown
    assert renders[-1] == "".join(tokens)  # the last render shows everything
    assert handle.done and handle.result == "".join(tokens)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Title" in output and "word199" in output


def test_markdown_without_a_scheduler_or_loop_renders_at_the_end() -> None:
    pytest.importorskip("rich")
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=60, color_system=None)
    handle = markdown(reactivex.of("**bold** ", "text"), console=console)
    assert handle.result == "**bold** text"
    assert "bold text" in console.file.getvalue()  # type: ignore[attr-defined]


def test_markdown_rejects_a_bad_rate() -> None:
    pytest.importorskip("rich")
    with pytest.raises(ValueError):
        markdown(reactivex.empty(), refresh_per_second=0)


# -- notebook ------------------------------------------------------------------------------------


class FakeStream:
    """The duck type ``notebook()`` accepts: ``events``, ``cancel()`` and ``connect()``."""

    def __init__(self) -> None:
        self.hub: Broadcast[Any] = Broadcast()
        self.events: Observable[Any] = self.hub
        self.cancelled = 0
        self.connected = 0

    def connect(self) -> FakeStream:
        self.connected += 1
        return self

    def cancel(self) -> None:
        self.cancelled += 1
        self.hub.on_completed()


def events_of(name: str) -> list[Any]:
    out: list[Any] = []
    replay(FIXTURES / name, None).pipe(ops.parse()).subscribe(out.append, lambda e: None)
    return out


def test_notebook_live_text_and_done() -> None:
    pytest.importorskip("ipywidgets")
    s = TestScheduler()
    hub: Broadcast[str] = Broadcast()
    view = notebook(hub, display=False, render="text", scheduler=s, refresh_per_second=10)
    assert view.status.value.startswith("streaming")
    hub.on_next("Hello ")
    hub.on_next("<b>world</b>")
    s.advance_by(1)
    assert "Hello &lt;b&gt;world&lt;/b&gt;" in view.text_html.value
    assert view.text == "Hello <b>world</b>"
    hub.on_completed()
    assert view.status.value == "done"
    assert view.button.disabled
    assert view.result == "Hello <b>world</b>"


def test_notebook_throttles_widget_updates() -> None:
    pytest.importorskip("ipywidgets")
    s = TestScheduler()
    hub: Broadcast[str] = Broadcast()
    view = notebook(hub, display=False, render="text", scheduler=s, refresh_per_second=10)
    updates: list[Any] = []
    view.text_html.observe(updates.append, names="value")
    for i in range(100):
        s.advance_by(0.001)
        hub.on_next(f"{i} ")
    s.advance_by(1)
    assert 1 <= len(updates) <= 3  # 100 tokens within 0.1 s: at most one render per 0.1 s, plus the last one
    assert "99" in view.text_html.value


def test_notebook_stop_button_disposes_and_calls_on_stop() -> None:
    pytest.importorskip("ipywidgets")
    s = TestScheduler()
    hub: Broadcast[str] = Broadcast()
    stopped: list[bool] = []
    view = notebook(hub, display=False, scheduler=s, on_stop=lambda: stopped.append(True))
    hub.on_next("partial")
    view.button.click()
    assert hub.observer_count == 0
    assert stopped == [True]
    assert view.status.value == "stopped"
    assert view.button.disabled
    assert view.disposed and view.text == "partial"
    assert "partial" in view.text_html.value  # the pending render was flushed
    view.button.click()  # a second click does nothing
    assert stopped == [True]


def test_notebook_with_a_stream_cancels_it_and_shows_usage() -> None:
    pytest.importorskip("ipywidgets")
    s = TestScheduler()
    stream = FakeStream()
    view = notebook(stream, display=False, scheduler=s)
    assert stream.connected == 1
    events = events_of("thinking-then-text-long.sse")
    half = len(events) // 2
    for event in events[:half]:
        stream.hub.on_next(event)
    s.advance_by(1)
    assert view.usage is not None and view.usage.input_tokens
    assert "in " in view.usage_html.value and "tokens" in view.usage_html.value
    assert view.thinking and view.thinking_html.layout.display is None
    view.button.click()
    assert stream.cancelled == 1
    assert view.status.value == "stopped"


def test_notebook_full_stream_of_events() -> None:
    pytest.importorskip("ipywidgets")
    stream = FakeStream()
    view = notebook(stream, display=False, scheduler=TestScheduler())
    expected: list[rxclaude.Message] = []
    replay(FIXTURES / "text-basic-sonnet4.sse", None).pipe(ops.parse(), ops.message()).subscribe(expected.append)
    for event in events_of("text-basic-sonnet4.sse"):
        stream.hub.on_next(event)
    stream.hub.on_completed()
    assert view.text == expected[0].text
    assert view.usage is not None and view.usage.output_tokens == expected[0].usage.output_tokens
    assert f"out {expected[0].usage.output_tokens}" in view.usage_html.value
    assert view.status.value == "done"
    assert stream.cancelled == 0


def test_notebook_shows_errors_and_escapes_model_html() -> None:
    pytest.importorskip("ipywidgets")
    hub: Broadcast[Any] = Broadcast()
    view = notebook(hub, display=False, scheduler=TestScheduler())
    hub.on_next("<script>alert(1)</script> *hi*")
    error = RuntimeError("<overloaded>")
    hub.on_error(error)
    assert "<script>" not in view.text_html.value
    assert "<em>hi</em>" in view.text_html.value
    assert "error: RuntimeError: &lt;overloaded&gt;" in view.status.value
    assert view.error is error


async def test_notebook_on_the_running_loop_and_await() -> None:
    pytest.importorskip("ipywidgets")
    hub: Broadcast[Any] = Broadcast()
    view = notebook(hub, display=False)

    async def produce() -> None:
        for piece in ("a", "b", "c"):
            await asyncio.sleep(0)
            hub.on_next(piece)
        hub.on_next(rxclaude.Usage(input_tokens=3, output_tokens=4))
        hub.on_completed()

    task = asyncio.ensure_future(produce())
    assert await asyncio.wait_for(view, HANG) == "abc"
    await task
    assert "out 4" in view.usage_html.value


# -- Recorder / record ---------------------------------------------------------------------------


FRAMES = [
    Frame("message_start", '{"type":"message_start"}'),
    Frame("ping", '{"type": "ping"}', id="7"),
    Frame("content_block_delta", "é\nb", id="8", retry=3000),
]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_record_format_in_virtual_time(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    s = TestScheduler()
    hot = s.create_hot_observable(
        on_next(200.5, FRAMES[0]), on_next(201.25, FRAMES[1]), on_next(203, FRAMES[2]), on_completed(204)
    )
    handles: list[SinkHandle[int]] = []
    s.schedule_absolute(200, lambda sch, _: handles.append(record(hot, path, scheduler=sch, meta={"model": "m"})))
    s.start()
    header, *frames, end = read_lines(path)
    assert header["rxclaude_recording"] == 1 and header["clock"] == "scheduler" and header["meta"] == {"model": "m"}
    assert "started" in header
    assert frames == [
        {"t": 0.5, "event": "message_start", "data": '{"type":"message_start"}'},
        {"t": 1.25, "event": "ping", "data": '{"type": "ping"}', "id": "7"},
        {"t": 3.0, "event": "content_block_delta", "data": "é\nb", "id": "8", "retry": 3000},
    ]
    assert end == {"t": 4.0, "end": "completed"}
    assert handles[0].result == 3


def test_record_error_and_dispose_end_lines(tmp_path: Path) -> None:
    failed = tmp_path / "failed.jsonl"
    handle = record(
        reactivex.concat(reactivex.of(FRAMES[0]), reactivex.throw(rxclaude.ConnectionLostError("lost"))), failed
    )
    assert isinstance(handle.error, rxclaude.ConnectionLostError)
    end = read_lines(failed)[-1]
    assert end["end"] == "error" and end["error"] == {"type": "ConnectionLostError", "message": "lost"}
    assert read_lines(failed)[0]["clock"] == "monotonic"

    stopped = tmp_path / "stopped.jsonl"
    hub: Broadcast[Frame] = Broadcast()
    handle = record(hub, stopped)
    hub.on_next(FRAMES[0])
    handle.dispose()
    hub.on_next(FRAMES[1])
    lines = read_lines(stopped)
    assert len(lines) == 3 and lines[-1]["end"] == "stopped"
    assert hub.observer_count == 0


def test_each_line_is_flushed_before_the_end(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    hub: Broadcast[Frame] = Broadcast()
    record(hub, path)
    hub.on_next(FRAMES[0])
    lines = read_lines(path)  # read while the recording is still open
    assert len(lines) == 2 and lines[1]["event"] == "message_start"
    hub.on_completed()


def test_recorder_as_an_observer_and_context_manager(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with Recorder(buf) as rec:
        reactivex.from_(FRAMES).subscribe(rec.on_next)
    assert rec.frames == 3 and rec.closed
    assert not buf.closed  # a file object we were given stays open
    lines = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[-1]["end"] == "stopped"
    got: list[Frame] = []
    replay(buf.getvalue(), None).subscribe(got.append)
    assert got == FRAMES
    path = tmp_path / "x.jsonl"
    rec2 = Recorder(path)
    reactivex.from_(FRAMES).subscribe(rec2)
    assert read_lines(path)[-1]["end"] == "completed"
    rec2.on_next(FRAMES[0])  # ignored after the end
    assert rec2.frames == 3


async def test_record_a_fixture_on_the_loop_and_replay_it(tmp_path: Path) -> None:
    path = tmp_path / "hello.jsonl"
    source = replay(FIXTURES / "docs-basic-hello.sse", 1.0, interval=0.001)
    count = await asyncio.wait_for(record(source, path), HANG)
    original: list[rxclaude.Message] = []
    replay(FIXTURES / "docs-basic-hello.sse", None).pipe(ops.parse(), ops.message()).subscribe(original.append)
    again = await asyncio.wait_for(replay(path, None).pipe(ops.parse(), ops.message()), HANG)
    assert again == original[0]
    assert count == len(read_lines(path)) - 2


# -- to_queue ------------------------------------------------------------------------------------


async def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while True:
        item = await asyncio.wait_for(queue.get(), HANG)
        queue.task_done()
        items.append(item)
        if item is END or isinstance(item, BaseException):
            return items


async def test_to_queue_values_then_end() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue()
    handle = to_queue(reactivex.of(1, 2, 3), q)
    assert await drain(q) == [1, 2, 3, END]
    assert handle.done and repr(END) == "rxclaude.sinks.END"


async def test_to_queue_puts_the_error_object() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue()
    error = RuntimeError("boom")
    handle = to_queue(reactivex.concat(reactivex.of(1), reactivex.throw(error)), q)
    items = await drain(q)
    assert items[:1] == [1] and items[1] is error
    with pytest.raises(RuntimeError):
        await handle


async def test_to_queue_dispose_puts_end() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue()
    hub: Broadcast[int] = Broadcast()
    handle = to_queue(hub, q)
    hub.on_next(1)
    handle.dispose()
    hub.on_next(2)
    assert await drain(q) == [1, END]
    assert hub.observer_count == 0


async def test_to_queue_bounded_drop_oldest_and_end_waits_for_room() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue(maxsize=3)
    handle = to_queue(reactivex.from_(range(10)), q, overflow="drop_oldest")
    assert q.qsize() == 3
    assert await drain(q) == [7, 8, 9, END]  # END waited for room
    s = handle.stats
    assert s is not None and (s.received, s.dropped, s.delivered, s.high_water) == (10, 7, 3, 3)
    await asyncio.wait_for(q.join(), HANG)  # dropped items were marked done too


async def test_to_queue_latest() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue(maxsize=3)
    to_queue(reactivex.from_(range(10)), q, overflow="latest")
    assert await drain(q) == [9, END]


async def test_to_queue_overflow_error() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue(maxsize=2)
    disposed: list[bool] = []

    def subscribe(observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        for i in range(5):
            observer.on_next(i)
        return Disposable(lambda: disposed.append(True))

    handle = to_queue(Observable(subscribe), q)
    items = await drain(q)
    assert items[:2] == [0, 1] and isinstance(items[2], BufferOverflowError)
    assert disposed == [True]
    assert isinstance(handle.error, BufferOverflowError)


async def test_to_queue_from_another_thread() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue()

    def subscribe(observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        def run() -> None:
            for i in range(500):
                observer.on_next(i)
            observer.on_completed()

        threading.Thread(target=run, daemon=True).start()
        return Disposable()

    to_queue(Observable(subscribe), q)
    assert await drain(q) == [*range(500), END]


async def test_to_queue_rejects_unknown_policies() -> None:
    with pytest.raises(ValueError):
        to_queue(reactivex.empty(), asyncio.Queue(), overflow="block")  # type: ignore[arg-type]


async def test_displaying_a_message_stream_shows_it_live(monkeypatch: pytest.MonkeyPatch) -> None:
    """``display(stream)`` in Jupyter: the notebook view, started, with the real stream behind it."""
    pytest.importorskip("ipywidgets")
    import IPython.display

    from rxclaude.testing import MockServer, Reply

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    async with MockServer() as server:
        server.enqueue(Reply.text(["Hello ", "there"], input_tokens=5, output_tokens=2))
        async with rxclaude.Client(api_key="fake-key-display-0123456789", base_url=server.url) as client:
            stream = client.messages.stream(
                model="claude-opus-4-7", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
            )
            stream._ipython_display_()
            assert stream.started and len(shown) == 1  # the view's widget
            message = await asyncio.wait_for(stream.final_message(), 10)
            await asyncio.sleep(0.3)  # the view refreshes at most 10 times a second
            widget = shown[0]
            html = " ".join(getattr(child, "value", "") for child in widget.children)
            assert message.text == "Hello there" and "Hello there" in html
