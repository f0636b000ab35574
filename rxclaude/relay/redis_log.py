"""The Redis Streams :class:`~rxclaude.relay.log.EventLog` (extra ``[redis]``; Valkey works too).

Per stream id two keys (hash-tagged, so a cluster keeps them on one node):
``<prefix>{<id>}:events`` a Redis Stream and ``<prefix>{<id>}:alive`` the producer's heartbeat.
Event ``n`` is the entry ``0-n`` with one field ``f`` (the encoded SSE event, ``id: n``
included), added with ``XADD ... MAXLEN = max_events 0-n`` so ids stay ``1..n`` and an id can be
written once only; the final marker is an entry with the field ``x``. The first write, every
heartbeat and the final write set ``EXPIRE retention`` on the stream; the final one deletes the
heartbeat. A batch of events is one pipelined round trip; a node reads with one ``XREAD COUNT
limit BLOCK ms`` per round. Abandoning a stream (its heartbeat expired) is one Lua script, so the
check and both writes are atomic.
Nothing else is stored: no request, header or key.

Example::

    log = RedisLog("redis://127.0.0.1:6379/0")
    publication = publish(stream.frames, log, "chat-42")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

try:
    import redis.asyncio as aioredis
    from redis import exceptions as redis_errors
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("RedisLog needs the redis package: pip install 'rxclaude[redis]'") from e

from rxclaude.core.errors import EventLogError, StreamConflictError

from .log import DEFAULT_MAX_EVENTS, DEFAULT_RETENTION, Batch, check_stream_id

__all__ = ["DEFAULT_PREFIX", "RedisLog"]

DEFAULT_PREFIX: Final = "rxclaude:"
"""The key prefix :class:`RedisLog` uses by default."""

# KEYS: events, alive.  ARGV: expected last id, error chunk, retention seconds.
_ABANDON = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local n = 0
if #top > 0 then
  if top[1][2][1] == 'x' then return 0 end
  n = tonumber(string.match(top[1][1], '%-(%d+)$'))
end
if n ~= tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[1], '0-' .. (n + 1), 'f', ARGV[2])
redis.call('XADD', KEYS[1], '0-' .. (n + 2), 'x', '1')
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
_FAILURES = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


def _seq(entry_id: bytes) -> int:
    return int(entry_id.rpartition(b"-")[2])


class RedisLog:
    """Streams in Redis Streams, shared by producers and any number of relay nodes.

    Args:
        url: a ``redis://`` URL, or an existing ``redis.asyncio.Redis`` client (bytes
            responses: ``decode_responses=False``), which :meth:`aclose` leaves open.
        prefix: the key prefix.
        max_events: events kept per stream (``MAXLEN``; a resume before them gets 410).
        retention: seconds a stream is kept after its last write (``EXPIRE``).
        timeout: seconds a command may take before :class:`~rxclaude.EventLogError`.

    Example::

        async with RedisLog("redis://127.0.0.1:6379/0") as log:
            node = RelayNode(log)
    """

    def __init__(
        self,
        url: str | aioredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_events: int = DEFAULT_MAX_EVENTS,
        retention: float = DEFAULT_RETENTION,
        timeout: float = 5.0,
    ) -> None:
        if max_events < 1 or not retention >= 1:
            raise ValueError("max_events must be >= 1 and retention >= 1 second")
        if isinstance(url, str):
            self._redis = aioredis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=False,
                retry_on_error=[],
                max_connections=None,
            )
            self._owned = True
        else:
            self._redis = url
            self._owned = False
        self._prefix = prefix
        self._max_events = max_events
        self._retention = int(retention)
        self._timeout = timeout
        self._abandon = self._redis.register_script(_ABANDON)
        self.commands = 0
        """Commands sent so far (pipelined ones counted one by one)."""

    def keys(self, stream_id: str) -> tuple[str, str]:
        """The stream's two keys: its events and its heartbeat.

        Example:
            >>> RedisLog.__new__(RedisLog)._keys_for("rxclaude:", "chat-1")
            ('rxclaude:{chat-1}:events', 'rxclaude:{chat-1}:alive')
        """
        return self._keys_for(self._prefix, check_stream_id(stream_id))

    @staticmethod
    def _keys_for(prefix: str, stream_id: str) -> tuple[str, str]:
        return f"{prefix}{{{stream_id}}}:events", f"{prefix}{{{stream_id}}}:alive"

    def _failed(self, error: Exception, doing: str) -> EventLogError:
        return EventLogError(f"the event log (Redis) failed while {doing}: {type(error).__name__}: {error}")

    async def append(self, stream_id: str, first_id: int, chunks: Sequence[bytes], *, end: bool = False) -> None:
        """Add ``chunks`` as ids ``first_id, ...`` in one round trip (see :meth:`EventLog.append`)."""
        events, alive = self.keys(stream_id)
        pipe = self._redis.pipeline(transaction=False)
        n = first_id
        for chunk in chunks:
            pipe.xadd(events, {b"f": chunk}, id=f"0-{n}", maxlen=self._max_events, approximate=False)
            n += 1
        if end:
            pipe.xadd(events, {b"x": b"1"}, id=f"0-{n}", maxlen=self._max_events, approximate=False)
        if first_id == 1 or end:  # heartbeats refresh it in between
            pipe.expire(events, self._retention)
        if end:
            pipe.delete(alive)  # the producer is done: no heartbeat to check
        self.commands += len(pipe)
        try:
            results = await pipe.execute(raise_on_error=False)
        except _FAILURES as e:
            raise self._failed(e, "appending events") from None
        for result in results:
            if isinstance(result, redis_errors.ResponseError):
                if "equal or smaller" in str(result):
                    raise StreamConflictError(
                        f"stream {stream_id!r}: id {first_id} or later is taken (another producer, or a relay "
                        "ended the stream after missed heartbeats)"
                    )
                raise EventLogError(f"the event log (Redis) refused a write: {result}")
            if isinstance(result, Exception):
                raise self._failed(result, "appending events")

    async def heartbeat(self, stream_id: str, ttl: float) -> None:
        """``SET <alive> 1 PX ttl`` and ``EXPIRE <events> retention``, one round trip (:meth:`EventLog.heartbeat`)."""
        events, alive = self.keys(stream_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(alive, b"1", px=max(1, int(ttl * 1000)))
        pipe.expire(events, self._retention)
        self.commands += 2
        try:
            await pipe.execute()
        except _FAILURES as e:
            raise self._failed(e, "refreshing the heartbeat") from None

    async def read(self, stream_id: str, after: int, *, limit: int = 1000, block: float | None = None) -> Batch | None:
        """``XREAD COUNT limit [BLOCK ms] STREAMS <events> 0-after`` (see :meth:`EventLog.read`)."""
        events, alive = self.keys(stream_id)
        block_ms = None if not block else max(1, int(block * 1000))
        self.commands += 1
        try:
            reply: Any = await self._redis.xread({events: f"0-{after}"}, count=limit, block=block_ms)
        except _FAILURES as e:
            raise self._failed(e, "reading events") from None
        entries: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1] if reply else []
        if entries:
            first = _seq(entries[0][0])
            chunks = tuple(fields[b"f"] for _, fields in entries if b"f" in fields)
            ended = b"x" in entries[-1][1]
            return Batch(first, chunks, ended)
        self.commands += 2
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.exists(events)
            pipe.exists(alive)
            has_events, is_alive = await pipe.execute()
        except _FAILURES as e:
            raise self._failed(e, "checking the heartbeat") from None
        if not has_events and not is_alive:
            return None
        return Batch(after + 1, (), False, bool(is_alive))

    async def abandon(self, stream_id: str, last_id: int, chunk: bytes) -> bool:
        """One Lua script: the heartbeat check, the ``error`` event, the final marker (see :meth:`EventLog.abandon`)."""
        events, alive = self.keys(stream_id)
        self.commands += 1
        try:
            done = await self._abandon(keys=[events, alive], args=[last_id, chunk, self._retention])
        except _FAILURES as e:
            raise self._failed(e, "ending an abandoned stream") from None
        return bool(done)

    async def ping(self) -> None:
        """Check that Redis answers; :class:`~rxclaude.EventLogError` if not."""
        try:
            await self._redis.ping()
        except _FAILURES as e:
            raise self._failed(e, "connecting") from None

    async def aclose(self) -> None:
        """Close the connection pool (unless the client was passed in)."""
        if self._owned:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<RedisLog prefix={self._prefix!r} max_events={self._max_events} retention={self._retention}>"
