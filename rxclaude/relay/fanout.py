"""In-memory fan-out to HTTP viewers: one bounded queue and one writer per streaming response.

The upstream side (a :class:`~rxclaude.Relay`, or a node's reader for one stream) calls
:meth:`Fanout.push` with encoded events; each viewer's writer (its aiohttp handler, in
:meth:`Fanout.pump`) writes whatever its queue holds in one write, so the upstream never waits
for a viewer. A viewer whose writer is parked (everything written, its connection's send buffer
under 64 KiB) gets what one loop turn queued for it written straight into its connection at the
end of the turn: one write per turn, no task switch, no timer.
A viewer whose connection is blocked while ``client_queue`` writes wait for it is
cut off (TCP abort) and may resume with ``Last-Event-ID``; one whose write stays blocked for
``write_timeout`` seconds is cut off too. Idle viewers get a ``: keep-alive`` comment.

Example::

    fanout = Fanout(client_queue=1024, keepalive=15.0, write_timeout=30.0)
    viewer = fanout.add(request.app, request.transport)
    await fanout.pump(response, viewer, backlog)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from .wire import KEEPALIVE

__all__ = ["Fanout", "Viewer"]

_BATCH = 64 * 1024  # backlog bytes per write
_DIRECT_LIMIT = 64 * 1024  # write directly while the connection's send buffer holds less than this


class Viewer:
    """One streaming response: its queue of encoded events and its writer's state."""

    __slots__ = (
        "app",
        "blocked",
        "chunked",
        "dropped",
        "ending",
        "finished",
        "idle",
        "queue",
        "sent",
        "skip",
        "transport",
        "wake",
    )

    def __init__(self, app: web.Application, transport: asyncio.Transport, skip: int = 0) -> None:
        self.app = app
        self.transport = transport
        self.queue: list[bytes] = []
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()  # set when the handler is done with this viewer
        self.blocked = False  # the writer waits for the connection to drain
        self.dropped = False
        self.ending = False  # end the response once the queue is written
        self.skip = skip  # events up to this id are not for this viewer (it has them)
        self.idle = False  # the writer is parked, the head is sent, the queue is empty: write directly
        self.chunked = True  # the body uses chunked transfer coding (HTTP/1.1)
        self.sent = False  # something was written directly since the writer parked (no keep-alive due)


class Fanout:
    """The viewers of one stream and the policy for slow ones.

    Args:
        client_queue: writes that may wait for a blocked viewer before it is cut off.
        keepalive: seconds of silence before a ``: keep-alive`` comment (``None``: never).
        write_timeout: seconds one write may stay blocked before the viewer is cut off.

    Example:
        >>> Fanout(client_queue=8, keepalive=None, write_timeout=None).viewers
        ()
    """

    def __init__(self, *, client_queue: int, keepalive: float | None, write_timeout: float | None) -> None:
        self.client_queue = client_queue
        self.keepalive = keepalive
        self.write_timeout = write_timeout
        self.viewers: tuple[Viewer, ...] = ()
        self.done = False
        self.served = 0
        self.dropped = 0
        self.max_queue = 0
        self._direct: list[Viewer] = []  # parked viewers with events queued this loop turn

    def add(self, app: web.Application, transport: asyncio.Transport, skip: int = 0) -> Viewer:
        """Register a viewer: from now on it gets every pushed event (after ``skip``)."""
        viewer = Viewer(app, transport, skip)
        self.viewers = (*self.viewers, viewer)
        self.served += 1
        return viewer

    def remove(self, viewer: Viewer) -> None:
        """Forget a viewer (its handler is done)."""
        self.viewers = tuple(v for v in self.viewers if v is not viewer)
        viewer.queue = []
        viewer.finished.set()

    def push(self, chunk: bytes) -> None:
        """Queue ``chunk`` for every viewer and wake them."""
        for viewer in self.viewers:
            self._queue(viewer, chunk)

    def push_events(self, first_id: int, chunks: Sequence[bytes]) -> None:
        """Queue the events ``first_id, first_id + 1, ...`` as one write per viewer (``skip`` honoured)."""
        if not chunks:
            return
        last_id = first_id + len(chunks) - 1
        joined = b"".join(chunks) if len(chunks) > 1 else chunks[0]
        for viewer in self.viewers:
            data = joined
            if viewer.skip:  # a viewer that resumed ahead of this node: only what it lacks
                if viewer.skip >= last_id:
                    continue
                if viewer.skip >= first_id:
                    data = b"".join(chunks[viewer.skip - first_id + 1 :])
                viewer.skip = 0
            self._queue(viewer, data)

    def _queue(self, viewer: Viewer, data: bytes) -> None:
        queue = viewer.queue
        if viewer.blocked and len(queue) >= self.client_queue:
            self.drop(viewer)
            return
        queue.append(data)
        if len(queue) > self.max_queue:
            self.max_queue = len(queue)
        if not viewer.idle:
            viewer.wake.set()
        elif len(queue) == 1:  # a parked writer: written directly at the end of this loop turn
            self._direct.append(viewer)
            if len(self._direct) == 1:
                asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write what this loop turn queued for parked viewers straight into their connections.

        One write per viewer per turn (the events of one upstream read, or one log read), with
        no task switch and no timer; a connection whose send buffer is over 64 KiB, or that is
        closing, is left to its writer (and its timeouts and drop rule).
        """
        direct, self._direct = self._direct, []
        for viewer in direct:
            queue = viewer.queue
            if not queue or viewer.dropped:
                continue
            transport = viewer.transport
            if viewer.idle and not transport.is_closing() and transport.get_write_buffer_size() < _DIRECT_LIMIT:
                data = b"".join(queue) if len(queue) > 1 else queue[0]
                viewer.queue = []
                if viewer.chunked:  # the framing aiohttp's writer uses
                    transport.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
                else:
                    transport.write(data)
                viewer.sent = True
            else:
                viewer.wake.set()

    def end(self, tail: bytes = b"") -> None:
        """No event will follow: write ``tail`` (if any) to every viewer, then end every response."""
        self.done = True
        for viewer in self.viewers:
            if tail:
                viewer.queue.append(tail)
            viewer.wake.set()

    def drop(self, viewer: Viewer) -> None:
        """Cut off a viewer that fell ``client_queue`` writes behind or stopped reading (it may resume)."""
        if viewer.dropped:
            return
        self.viewers = tuple(v for v in self.viewers if v is not viewer)
        self.dropped += 1
        viewer.dropped = True
        viewer.queue = []
        viewer.wake.set()
        viewer.transport.abort()  # its buffers are full: a graceful close would wait for the peer

    async def pump(self, response: web.StreamResponse, viewer: Viewer, backlog: Sequence[bytes]) -> None:
        """Write the backlog, then the live events, until the end (or the viewer is dropped)."""
        start = 0
        while start < len(backlog):
            end, size = start, 0
            while end < len(backlog) and (size < _BATCH or end == start):
                size += len(backlog[end])
                end += 1
            await self.write(response, viewer, b"".join(backlog[start:end]))
            start = end
            if viewer.dropped:
                return
        keepalive = self.keepalive
        viewer.chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
        primed = start > 0  # aiohttp sends the head with the first body bytes: direct writes only after
        while not viewer.dropped:
            queue = viewer.queue
            if queue:
                viewer.queue = []
                await self.write(response, viewer, b"".join(queue) if len(queue) > 1 else queue[0])
                primed = True
                continue
            if self.done or viewer.ending:
                await response.write_eof()
                return
            viewer.wake.clear()
            viewer.idle = primed
            try:
                if keepalive is None:
                    await viewer.wake.wait()
                    continue
                async with asyncio.timeout(keepalive):
                    await viewer.wake.wait()
            except TimeoutError:
                if viewer.sent:  # events went out directly meanwhile: not idle
                    viewer.sent = False
                    continue
                viewer.idle = False
                await self.write(response, viewer, KEEPALIVE)
                primed = True
            finally:
                viewer.idle = False

    async def write(self, response: web.StreamResponse, viewer: Viewer, data: bytes) -> None:
        """One write; a viewer blocked for ``write_timeout`` is cut off (``ConnectionResetError``)."""
        viewer.blocked = True  # only seen by the upstream while this write waits for a full connection
        try:
            async with asyncio.timeout(self.write_timeout):
                await response.write(data)
        except TimeoutError:  # a viewer that stopped reading: cut off, even if no event follows
            self.drop(viewer)
            raise ConnectionResetError("the viewer stopped reading") from None
        finally:
            viewer.blocked = False

    async def end_viewers(self, app: web.Application | None, timeout: float = 1.0) -> None:
        """End the responses (of ``app``, or all): flush, then end the body; abort stragglers."""
        viewers = [v for v in self.viewers if app is None or v.app is app]
        for viewer in viewers:
            viewer.ending = True
            viewer.wake.set()
        try:
            async with asyncio.timeout(timeout):
                for viewer in viewers:
                    await viewer.finished.wait()
        except TimeoutError:
            pass
        for viewer in viewers:
            if not viewer.finished.is_set():
                viewer.transport.abort()
