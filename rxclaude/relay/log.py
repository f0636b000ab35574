"""The event log behind relay nodes: the :class:`EventLog` protocol and its in-memory backend.

A stream is a sequence of encoded SSE events (``bytes``, each already carrying its ``id:``
line) with ids ``1, 2, ...``, then a final marker. The producer appends in batches; relay nodes
read after an id (blocking for a while when caught up), so any node can serve any stream and a
viewer can resume on any node. The producer refreshes a heartbeat while it runs; a node that
finds the heartbeat gone before the final marker ends the stream with an ``error`` event
(:meth:`EventLog.abandon`, atomic: only one writer can add an id).

:class:`MemoryLog` keeps streams in this process (producer and nodes on one event loop); the
Redis Streams backend is :class:`~rxclaude.relay.redis_log.RedisLog`.

Example:
    >>> import asyncio
    >>> async def demo() -> Batch | None:
    ...     log = MemoryLog()
    ...     await log.append("chat-1", 1, [b"event: ping\\ndata: {}\\nid: 1\\n\\n"], end=True)
    ...     return await log.read("chat-1", 0)
    >>> batch = asyncio.run(demo())
    >>> batch.first_id, len(batch.chunks), batch.ended
    (1, 1, True)
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from rxclaude.core.errors import StreamConflictError, StreamIdError

__all__ = ["DEFAULT_MAX_EVENTS", "DEFAULT_RETENTION", "Batch", "EventLog", "MemoryLog", "check_stream_id"]

DEFAULT_MAX_EVENTS: Final = 100_000
"""How many events a log keeps per stream by default (older ones are trimmed: a resume before them gets 410)."""
DEFAULT_RETENTION: Final = 3600.0
"""Seconds a stream is kept after its last write by default."""
_STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_stream_id(stream_id: str) -> str:
    """Return ``stream_id`` if it is 1-128 of ``A-Z a-z 0-9 . _ : -`` (not starting with a symbol).

    Raises :class:`~rxclaude.StreamIdError` otherwise.

    Example:
        >>> check_stream_id("chat-42")
        'chat-42'
    """
    if not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id):
        raise StreamIdError(f"invalid stream id {stream_id!r}: use 1-128 of A-Z a-z 0-9 . _ : -")
    return stream_id


@dataclass(frozen=True, slots=True)
class Batch:
    """What one :meth:`EventLog.read` found.

    Attributes:
        first_id: the id of ``chunks[0]`` (or where the next event will be); more than
            ``after + 1`` when the events in between were trimmed (a gap).
        chunks: encoded events ``first_id, first_id + 1, ...``.
        ended: the final marker follows the last chunk: the stream is over.
        alive: whether the producer's heartbeat is present (checked only when nothing was read).

    Example:
        >>> Batch(3, (b"a", b"b"), False).last_id
        4
    """

    first_id: int
    chunks: tuple[bytes, ...]
    ended: bool
    alive: bool | None = None

    @property
    def last_id(self) -> int:
        """The id of the last chunk (``first_id - 1`` when there is none)."""
        return self.first_id + len(self.chunks) - 1


@runtime_checkable
class EventLog(Protocol):
    """Where a producer writes a stream's events and relay nodes read them (by stream id)."""

    async def append(self, stream_id: str, first_id: int, chunks: Sequence[bytes], *, end: bool = False) -> None:
        """Add ``chunks`` as ids ``first_id, ...`` (then the final marker if ``end``).

        Raises :class:`~rxclaude.StreamConflictError` if an id is already taken (another
        producer, or a node that ended the stream after missed heartbeats), and
        :class:`~rxclaude.EventLogError` if the log cannot be reached.
        """
        ...

    async def heartbeat(self, stream_id: str, ttl: float) -> None:
        """Mark the stream's producer alive for ``ttl`` more seconds."""
        ...

    async def read(self, stream_id: str, after: int, *, limit: int = 1000, block: float | None = None) -> Batch | None:
        """Up to ``limit`` events after id ``after``; wait up to ``block`` seconds for one if there is none.

        ``None`` when the stream does not exist (no event, no heartbeat: never started, or expired).
        """
        ...

    async def abandon(self, stream_id: str, last_id: int, chunk: bytes) -> bool:
        """End a stream whose producer is gone: add ``chunk`` as ``last_id + 1``, then the final marker.

        Atomic: does nothing (``False``) if the heartbeat is back, the stream has moved past
        ``last_id`` or has ended.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(slots=True)
class _Stream:
    chunks: deque[bytes] = field(default_factory=deque)
    base: int = 0  # the id before chunks[0]
    size: int = 0
    ended: bool = False
    alive_until: float = 0.0
    expires: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last_id(self) -> int:
        return self.base + len(self.chunks)


class MemoryLog:
    """The in-memory :class:`EventLog`: streams live in this process, on one event loop.

    Args:
        max_events: events kept per stream (the oldest are trimmed).
        max_bytes: encoded bytes kept per stream.
        retention: seconds a stream is kept after its last write.

    Example::

        log = MemoryLog()
        publication = publish(stream.frames, log, "chat-42")
        app = RelayNode(log, secret=secret).app()
    """

    def __init__(
        self,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = 64 * 1024 * 1024,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        if max_events < 1 or max_bytes < 1 or not retention > 0:
            raise ValueError("max_events, max_bytes and retention must be positive")
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._retention = retention
        self._streams: dict[str, _Stream] = {}

    def _get(self, stream_id: str) -> _Stream | None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.expires <= time.monotonic():
            del self._streams[stream_id]
            stream.changed.set()
            return None
        return stream

    def _touch(self, stream_id: str) -> _Stream:
        stream = self._get(check_stream_id(stream_id))
        if stream is None:
            stream = self._streams[stream_id] = _Stream()
        stream.expires = time.monotonic() + self._retention
        return stream

    async def append(self, stream_id: str, first_id: int, chunks: Sequence[bytes], *, end: bool = False) -> None:
        """Add ``chunks`` as ids ``first_id, ...`` (see :meth:`EventLog.append`)."""
        stream = self._touch(stream_id)
        if stream.ended or first_id != stream.last_id + 1:
            raise StreamConflictError(
                f"stream {stream_id!r}: id {first_id} is taken (the log is at {stream.last_id}"
                f"{', ended' if stream.ended else ''})"
            )
        for chunk in chunks:
            stream.chunks.append(chunk)
            stream.size += len(chunk)
        while len(stream.chunks) > self._max_events or stream.size > self._max_bytes:
            stream.size -= len(stream.chunks.popleft())
            stream.base += 1
        stream.ended = end
        if end:
            stream.alive_until = 0.0
        stream.changed.set()
        stream.changed = asyncio.Event()

    async def heartbeat(self, stream_id: str, ttl: float) -> None:
        """Mark the producer alive for ``ttl`` seconds (see :meth:`EventLog.heartbeat`)."""
        self._touch(stream_id).alive_until = time.monotonic() + ttl

    async def read(self, stream_id: str, after: int, *, limit: int = 1000, block: float | None = None) -> Batch | None:
        """Up to ``limit`` events after ``after`` (see :meth:`EventLog.read`)."""
        stream = self._get(stream_id)
        if stream is None:
            return None
        if stream.last_id <= after and not stream.ended and block:
            changed = stream.changed
            try:
                async with asyncio.timeout(block):
                    await changed.wait()
            except TimeoutError:
                pass
            stream = self._get(stream_id)
            if stream is None:
                return None
        start = max(after, stream.base)
        chunks = tuple(
            stream.chunks[i] for i in range(start - stream.base, min(len(stream.chunks), start - stream.base + limit))
        )
        ended = stream.ended and start + len(chunks) >= stream.last_id
        alive = None if chunks else stream.alive_until > time.monotonic()
        return Batch(start + 1, chunks, ended, alive)

    async def abandon(self, stream_id: str, last_id: int, chunk: bytes) -> bool:
        """End a stream whose producer is gone (see :meth:`EventLog.abandon`)."""
        stream = self._get(stream_id)
        if stream is None or stream.ended or stream.last_id != last_id or stream.alive_until > time.monotonic():
            return False
        await self.append(stream_id, last_id + 1, [chunk], end=True)
        return True

    async def aclose(self) -> None:
        """Forget every stream."""
        self._streams.clear()
