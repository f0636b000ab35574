"""``SyncClient``: rxclaude for code without an event loop (scripts, Flask, Django views).

Strategy: a thin facade. Each ``SyncClient`` runs one asyncio loop on a background thread and
one async :class:`~rxclaude.Client` on it; every call hands a coroutine to that loop and waits
for it. Values reach the calling thread through a queue that is subscribed *before* the request
starts, so nothing is missed. A wait interrupted by ``KeyboardInterrupt`` (Ctrl-C) -- or any
exception -- cancels the request before it propagates; leaving ``with client.messages.stream()``
cancels an unfinished request, and leaving ``with SyncClient()`` closes the pool, stops the loop
and joins its thread: no thread or socket is left behind.

Callbacks you subscribe to the async streams (``stream.aio``) run on the loop's thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from reactivex import Observable, abc

from rxclaude.client import Client
from rxclaude.core.deltas import TextDelta
from rxclaude.core.events import ContentBlockDeltaEvent, Event
from rxclaude.core.message import Message, Usage
from rxclaude.files import FileDeleted, FileMetadata, FilePage
from rxclaude.stream import MessageStream

__all__ = ["SyncClient", "SyncFiles", "SyncMessageStream", "SyncMessages"]

_T = TypeVar("_T")
_END = object()


class _Loop:
    """An event loop on a daemon thread; :meth:`run` waits for a coroutine from another thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="rxclaude-sync-loop", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            tasks = asyncio.all_tasks(loop)  # left running: cancel them, wait, then close
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def run(self, coro: Coroutine[Any, Any, _T], *, on_interrupt: Callable[[], None] | None = None) -> _T:
        """Run ``coro`` on the loop and wait; an interrupted wait cancels it (then ``on_interrupt``)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a SyncClient call from inside its own loop thread would deadlock")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise RuntimeError("this SyncClient is closed") from None
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()
                if on_interrupt is not None:
                    self.call(on_interrupt)
            raise

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop and wait until it ran (nothing waits on it but this)."""

        async def step() -> None:
            fn()

        if threading.current_thread() is self.thread:
            fn()
        elif self.loop.is_running():
            self.run(step())

    def stop(self) -> None:
        """Stop the loop and join its thread (which cancels what is left and closes the loop)."""
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            pass
        self.thread.join()


class _Queue(abc.ObserverBase[Any]):
    """An Observable's values handed to a blocking iterator on another thread, in order."""

    def __init__(self) -> None:
        self.items: queue.SimpleQueue[tuple[object, Any]] = queue.SimpleQueue()

    def on_next(self, value: Any) -> None:
        self.items.put((None, value))

    def on_error(self, error: Exception) -> None:
        self.items.put((_END, error))

    def on_completed(self) -> None:
        self.items.put((_END, None))


class SyncMessageStream:
    """A streaming request for blocking code; the async :class:`~rxclaude.MessageStream` runs
    on the client's loop (``aio``).

    Example::

        with client.messages.stream(model=m, max_tokens=256, messages=msgs) as stream:
            for text in stream.text_stream:
                print(text, end="", flush=True)
            message = stream.final_message()
    """

    def __init__(self, owner: _Loop, stream: MessageStream) -> None:
        self._loop = owner
        self.aio = stream
        """The async stream (its Observables deliver on the loop's thread)."""
        self._events: _Queue | None = None
        self._listening: abc.DisposableBase | None = None  # the events queue's subscription
        self._iterating = False
        self._done_iterating = False

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> SyncMessageStream:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> SyncMessageStream:
        """Send the request (once), listening to its events from the start."""

        async def connect() -> None:
            if self._events is None and not self.aio.started:
                self._events = _Queue()
                self._listening = self.aio.events.subscribe(self._events)
            self.aio.connect()

        self._loop.run(connect(), on_interrupt=self.aio.cancel)
        return self

    def close(self) -> None:
        """Stop the request if it is still running (the connection closes at once)."""
        if not self.aio.done:
            self._loop.call(self.aio.cancel)

    cancel = close

    # -- blocking reads -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        """Every typed event, as it arrives (starts the request if needed)."""
        if self._done_iterating:
            return
        if self._events is None:
            self.start()
        events = self._events
        assert events is not None
        self._iterating = True
        while True:
            try:
                end, item = events.items.get()
            except BaseException:  # Ctrl-C while waiting: stop the request, then let it through
                self.close()
                raise
            if end is _END:
                self._done_iterating = True
                if item is not None:
                    raise item
                return
            yield item

    @property
    def text_stream(self) -> Iterator[str]:
        """The text deltas, as they arrive (shares its position with iterating the events).

        Example::

            for text in stream.text_stream:
                print(text, end="")
        """
        for event in self:
            if type(event) is ContentBlockDeltaEvent:
                delta = event.delta
                if type(delta) is TextDelta:
                    yield delta.text

    def iterate(self, build: Callable[[MessageStream], Observable[_T]]) -> Iterator[_T]:
        """The values of any Observable made from the async stream, as a blocking iterator.

        Call it before the request starts (before ``with`` or ``start()``) to see everything.

        Example::

            outputs = stream.iterate(lambda s: s.text.pipe(ops.partial_output(City)))
            with stream:
                for output in outputs:
                    print(output.value)
        """
        sink = _Queue()

        async def subscribe() -> None:
            build(self.aio).subscribe(sink)

        self._loop.run(subscribe())
        return self._drain(sink)

    def _drain(self, sink: _Queue) -> Iterator[Any]:
        while True:
            try:
                end, item = sink.items.get()
            except BaseException:
                self.close()
                raise
            if end is _END:
                if item is not None:
                    raise item
                return
            yield item

    def final_message(self) -> Message:
        """Wait for the end and return the final :class:`~rxclaude.Message` (or raise its error).

        Called before any iteration, it stops queueing events (as with the official SDK, the
        events are then consumed: iterating afterwards yields nothing).
        """
        if self.aio.done:  # nothing to wait for (the client may be closed by now)
            if self.aio.error is not None:
                raise self.aio.error
            message = self.aio.current_message
            assert message is not None
            return message
        return self._loop.run(self._waiting(self.aio.final_message()), on_interrupt=self.aio.cancel)

    async def _waiting(self, wait: Coroutine[Any, Any, _T]) -> _T:
        """Run ``wait``; unless the events are being iterated, stop queueing them once it counts
        as the stream's listener (so dropping the queue does not cancel the request)."""
        waiter = asyncio.ensure_future(wait)
        if not self._iterating and not self._done_iterating:
            self._done_iterating = True
            await asyncio.sleep(0)  # the waiter starts, and listens
            listening, self._listening = self._listening, None
            if listening is not None:
                listening.dispose()
            self._events = None
        return await waiter

    def final_text(self) -> str:
        """The final message's text."""
        return self.final_message().text

    def until_done(self) -> None:
        """Wait for the end, whatever it is (raises nothing but an interrupt)."""
        if not self.aio.done:
            self._loop.run(self._waiting(self.aio.wait()), on_interrupt=self.aio.cancel)

    # -- state ----------------------------------------------------------------------------------

    # the official SDK's names, for code moving over
    get_final_message = final_message
    get_final_text = final_text

    @property
    def current_message(self) -> Message | None:
        """The message so far (built on the loop's thread, between two frames)."""
        return self._on_loop(lambda: self.aio.current_message)

    @property
    def usage_so_far(self) -> Usage | None:
        """The latest cumulative usage."""
        return self._on_loop(lambda: self.aio.usage_so_far)

    def _on_loop(self, read: Callable[[], _T]) -> _T:
        """``read()`` on the loop's thread while it runs (the stream's state is the loop's)."""
        loop = self._loop
        if threading.current_thread() is loop.thread or not loop.loop.is_running():
            return read()

        async def call() -> _T:
            return read()

        return loop.run(call())

    @property
    def request_id(self) -> str | None:
        """The ``request-id`` response header."""
        return self.aio.request_id

    @property
    def done(self) -> bool:
        """Whether the stream has ended."""
        return self.aio.done

    def __repr__(self) -> str:
        return repr(self.aio).replace("<MessageStream", "<SyncMessageStream", 1)


class SyncMessages:
    """``client.messages`` of a :class:`SyncClient`."""

    def __init__(self, owner: SyncClient) -> None:
        self._owner = owner

    def stream(self, **params: Any) -> SyncMessageStream:
        """A streaming request, sent on entering ``with`` (or on first read).

        Example::

            with client.messages.stream(model=m, max_tokens=64, messages=msgs) as stream:
                print(stream.final_text())
        """
        owner = self._owner

        async def make() -> MessageStream:
            return owner.aio.messages.stream(**params)

        return SyncMessageStream(owner._loop, owner._run(make()))

    def create(self, **params: Any) -> Message:
        """Send a request and return its final message.

        Example::

            message = client.messages.create(model=m, max_tokens=64, messages=msgs)
        """
        with self.stream(**params) as stream:
            return stream.final_message()


class SyncFiles:
    """``client.files`` of a :class:`SyncClient`: the Files API calls, blocking (same arguments
    as :class:`~rxclaude.Files`).

    Example::

        meta = client.files.upload("report.pdf")
        for f in client.files.list():
            print(f.id, f.filename)
    """

    def __init__(self, owner: SyncClient) -> None:
        self._owner = owner

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        files = self._owner.aio.files

        async def call() -> Any:
            return await getattr(files, name)(*args, **kwargs)

        return self._owner._loop.run(call())

    def upload(self, *args: Any, **kwargs: Any) -> FileMetadata:
        """Upload a file (see :meth:`rxclaude.Files.upload`)."""
        return cast(FileMetadata, self._call("upload", *args, **kwargs))

    def list_page(self, **kwargs: Any) -> FilePage:
        """One page of files (see :meth:`rxclaude.Files.list_page`)."""
        return cast(FilePage, self._call("list_page", **kwargs))

    def retrieve(self, file_id: str) -> FileMetadata:
        """A file's metadata."""
        return cast(FileMetadata, self._call("retrieve", file_id))

    def delete(self, file_id: str) -> FileDeleted:
        """Delete a file."""
        return cast(FileDeleted, self._call("delete", file_id))

    def content(self, file_id: str) -> bytes:
        """A file's bytes."""
        return cast(bytes, self._call("content", file_id))

    def download(self, file_id: str, path: Any) -> Path:
        """Save a file's bytes to ``path``."""
        return cast(Path, self._call("download", file_id, path))

    def list(self, *args: Any, **kwargs: Any) -> Iterator[FileMetadata]:
        """Every file, walking all pages (see :meth:`rxclaude.Files.list`)."""
        loop, files = self._owner._loop, self._owner.aio.files
        walk = files.list(*args, **kwargs)  # (checks its arguments; walks nothing until read)
        try:
            while True:
                try:
                    yield loop.run(_next(walk))
                except StopAsyncIteration:
                    return
        finally:
            if not loop.loop.is_closed():
                loop.run(_close(walk))


async def _next(it: AsyncIterator[_T]) -> _T:
    return await anext(it)


async def _close(it: AsyncIterator[Any]) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()


class SyncClient:
    """The :class:`~rxclaude.Client` for code without an event loop; same arguments.

    ``factory`` makes another async client instead (``lambda: rxclaude.BedrockClient(...)``);
    it runs on the client's loop thread.

    Example::

        with rxclaude.SyncClient() as client:
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=256,
                                        messages=[{"role": "user", "content": "Hi"}]) as stream:
                for text in stream.text_stream:
                    print(text, end="", flush=True)
    """

    def __init__(self, *args: Any, factory: Callable[[], Client] | None = None, **kwargs: Any) -> None:
        self._loop = _Loop()

        async def make() -> Client:
            return factory() if factory is not None else Client(*args, **kwargs)

        try:
            self.aio: Client = self._run(make())
            """The async client (use it only from the loop's thread)."""
        except BaseException:
            self._loop.stop()
            raise
        self.messages = SyncMessages(self)
        self.files = SyncFiles(self)
        self._closed = False

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._loop.run(coro)

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine of yours on the client's loop and wait for it (e.g. a Files call).

        Example::

            page = client.run(client.aio.files.list_page())
        """
        return self._loop.run(coro)

    def close(self) -> None:
        """Cancel running requests, close the connection pool, stop the loop thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self.aio.close())
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SyncClient(provider={self.aio.provider!r})"
