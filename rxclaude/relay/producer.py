"""The producer side: publish one upstream stream into an :class:`~rxclaude.relay.log.EventLog` by id.

:func:`publish` subscribes to the frames at once (call it before ``stream.connect()``: nothing is
missed), numbers them ``1, 2, ...``, encodes each once and appends them in batches: the frames
of one network read go in one write (one pipelined round trip to Redis), and frames that arrive
while a write is in flight go in the next. Only the frames are written: no header, request or key.

While it runs it refreshes a heartbeat every ``heartbeat`` seconds (valid for
``3 * heartbeat``). If the producer dies before ``message_stop``, a relay node that serves the
stream finds the heartbeat gone and ends the stream with an ``api_error`` event: viewers get it
within ``4 * heartbeat + 0.1`` seconds of the last heartbeat (about 4 s by default).

The end follows the :class:`~rxclaude.Relay` rules: an upstream failure (or an end before
``message_stop``) adds one ``error`` event in the API's shape unless the upstream sent one;
then the final marker.

Example::

    log = RedisLog("redis://127.0.0.1:6379/0")
    stream = client.messages.stream(model="claude-sonnet-5-5", max_tokens=1024, messages=msgs)
    publication = publish(stream.frames, log, "chat-42")   # before connect()
    await stream.final_message()
    last_id = await publication                              # every event is in the log
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any, Final

from reactivex import Observable, abc

from rxclaude.core.errors import RelayError
from rxclaude.core.frame import Frame

from .log import EventLog, check_stream_id
from .wire import encode_frame, error_body, upstream_error_body

__all__ = ["DEFAULT_HEARTBEAT", "Publication", "publish"]

DEFAULT_HEARTBEAT: Final = 1.0
"""Seconds between a producer's heartbeats by default."""
HEARTBEAT_TTL_FACTOR: Final = 3
"""A heartbeat stays valid for this many intervals."""


class Publication:
    """A stream being published: await it for the last id written (or the log's error).

    Made by :func:`publish`. :meth:`cancel` stops reading the upstream (its subscription is
    disposed) and ends the stream with an ``api_error`` event.

    Example::

        publication = publish(stream.frames, log, "chat-42")
        print(publication.stream_id, publication.last_id)
        await publication
    """

    def __init__(self, source: Observable[Frame], log: EventLog, stream_id: str, heartbeat: float) -> None:
        self.stream_id = check_stream_id(stream_id)
        self._log = log
        self._heartbeat = heartbeat
        self._pending: list[bytes] = []
        self._next_id = 1  # the id the next frame gets
        self._written = 0  # the last id written to the log
        self._saw_error = False
        self._saw_stop = False
        self._end: str | None = None  # set when the upstream is over: the error body to add, or ""
        self._ended = False
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._done: asyncio.Future[int] = self._loop.create_future()
        self._writer = self._loop.create_task(self._write_loop(), name=f"rxclaude-publish-{stream_id}")
        self._subscription: abc.DisposableBase | None = None
        subscription = source.subscribe(self._on_next, self._on_error, self._on_completed)
        if self._ended:
            subscription.dispose()
        else:
            self._subscription = subscription

    # -- upstream ---------------------------------------------------------------------------------

    def _on_next(self, frame: Frame) -> None:
        if self._end is not None:
            return
        event = frame.event
        if event == "error":
            self._saw_error = True
        elif event == "message_stop":
            self._saw_stop = True
        self._pending.append(encode_frame(event, frame.data, self._next_id))
        self._next_id += 1
        self._wake.set()

    def _on_error(self, error: Exception) -> None:
        self._finish(upstream_error_body(error))

    def _on_completed(self) -> None:
        self._finish(error_body("api_error", "the upstream stream ended before message_stop"))

    def _finish(self, error: str) -> None:
        if self._end is not None:
            return
        if not self._saw_error and not self._saw_stop:
            self._pending.append(encode_frame("error", error, self._next_id))
            self._next_id += 1
        self._end = ""
        self._wake.set()

    # -- the log ----------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """The only task that talks to the log: heartbeats and batches in order, so the end is the last word."""
        loop = self._loop
        ttl = self._heartbeat * HEARTBEAT_TTL_FACTOR
        next_beat = 0.0
        try:
            while True:
                if loop.time() >= next_beat:
                    await self._log.heartbeat(self.stream_id, ttl)
                    next_beat = loop.time() + self._heartbeat
                try:
                    async with asyncio.timeout(max(0.0, next_beat - loop.time())):
                        await self._wake.wait()
                except TimeoutError:
                    continue
                self._wake.clear()
                chunks, self._pending = self._pending, []
                end = self._end is not None
                if chunks or end:
                    await self._log.append(self.stream_id, self._written + 1, chunks, end=end)
                    self._written += len(chunks)
                if end:
                    break
            self._settle(None)
        except asyncio.CancelledError:
            self._settle(RelayError("the publication was cancelled"))
            raise
        except Exception as e:  # EventLogError, StreamConflictError: the log is the source of truth
            self._settle(e)

    def _settle(self, error: Exception | None) -> None:
        self._ended = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        if self._done.done():
            return
        if error is None:
            self._done.set_result(self._written)
        else:
            self._done.set_exception(error)
            self._done.exception()  # retrieved: a publication nobody awaits logs nothing

    # -- handle -----------------------------------------------------------------------------------

    @property
    def last_id(self) -> int:
        """The id of the newest event written to the log (0 before the first)."""
        return self._written

    @property
    def done(self) -> bool:
        """Whether the stream has ended in the log (or publishing failed)."""
        return self._done.done()

    def cancel(self) -> None:
        """Stop reading the upstream; the stream ends with an ``api_error`` event.

        Example:
            >>> publication.cancel()  # doctest: +SKIP
        """
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        self._finish(error_body("api_error", "the producer cancelled the stream"))

    async def aclose(self, timeout: float = 5.0) -> None:
        """:meth:`cancel`, then wait up to ``timeout`` seconds for the log to have the end.

        Example:
            >>> await publication.aclose()  # doctest: +SKIP
        """
        self.cancel()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._done)
        except (TimeoutError, Exception):
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer

    def __await__(self) -> Generator[Any, None, int]:
        return asyncio.shield(self._done).__await__()

    def __repr__(self) -> str:
        state = "done" if self.done else "live"
        return f"<Publication {self.stream_id!r} {state} last_id={self._written}>"


def publish(
    source: Observable[Frame], log: EventLog, stream_id: str, *, heartbeat: float = DEFAULT_HEARTBEAT
) -> Publication:
    """Publish ``source`` (e.g. ``stream.frames``) into ``log`` as stream ``stream_id``; call in the event loop.

    Subscribes now (before ``stream.connect()``), heartbeats every ``heartbeat`` seconds and
    returns a :class:`Publication`; awaiting it gives the last id once the end is in the log, or
    raises :class:`~rxclaude.EventLogError` / :class:`~rxclaude.StreamConflictError`.

    Example::

        publication = publish(stream.frames, RedisLog(url), "chat-42")
        await stream.final_message()
        await publication
    """
    if not heartbeat > 0:
        raise ValueError(f"heartbeat must be positive, got {heartbeat!r}")
    return Publication(source, log, stream_id, heartbeat)
