"""Relays: streams re-served byte for byte to browsers and SDKs over SSE, with resume.

* :class:`Relay` (``server``): one upstream stream, in this process.
* :class:`RelayNode` (``node``): many streams by id from an event log; any number of nodes on
  any number of machines serve any stream, and a viewer resumes on any node.
* The event log (``log``): :class:`MemoryLog` in this process, or Redis Streams with
  :class:`rxclaude.relay.redis_log.RedisLog` (extra ``[redis]``).
* :func:`publish` (``producer``): the backend with the API key writes a stream into the log.
* Viewer tokens (``tokens``) and the HTTP checks (``security``): ``Host`` allow-list, CORS for
  listed origins, body limits.

Example::

    relay = rxclaude.Relay(stream.frames, cors_origins=["http://localhost:3000"])
"""

from rxclaude.relay.log import Batch, EventLog, MemoryLog
from rxclaude.relay.node import NodeStats, RelayNode
from rxclaude.relay.producer import Publication, publish
from rxclaude.relay.security import HttpPolicy
from rxclaude.relay.server import (
    DEFAULT_CLIENT_QUEUE,
    DEFAULT_REPLAY_BYTES,
    DEFAULT_REPLAY_EVENTS,
    KEEPALIVE,
    Relay,
    RelayStats,
    encode_frame,
)
from rxclaude.relay.tokens import make_token, verify_token

__all__ = [
    "DEFAULT_CLIENT_QUEUE",
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_REPLAY_EVENTS",
    "KEEPALIVE",
    "Batch",
    "EventLog",
    "HttpPolicy",
    "MemoryLog",
    "NodeStats",
    "Publication",
    "Relay",
    "RelayNode",
    "RelayStats",
    "encode_frame",
    "make_token",
    "publish",
    "verify_token",
]
