"""The relay: one stream re-served byte for byte to browsers and SDKs over SSE, with resume.

Example::

    relay = rxclaude.Relay(stream.frames, cors_origins=["http://localhost:3000"])
"""

from rxclaude.relay.server import (
    DEFAULT_CLIENT_QUEUE,
    DEFAULT_REPLAY_BYTES,
    DEFAULT_REPLAY_EVENTS,
    KEEPALIVE,
    Relay,
    RelayStats,
    encode_frame,
)

__all__ = [
    "DEFAULT_CLIENT_QUEUE",
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_REPLAY_EVENTS",
    "KEEPALIVE",
    "Relay",
    "RelayStats",
    "encode_frame",
]
