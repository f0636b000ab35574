"""What every transport shares: the timeouts it applies and the response head it reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Response",
    "Timeouts",
]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Timeouts in seconds (``None`` disables one).

    Attributes:
        connect: to open the TCP/TLS connection.
        first_byte: from sending the request to the response status line.
        idle: the longest silence mid-body; every byte counts, so pings keep a long thinking
            phase alive while a dead connection fails in ``idle`` seconds (StreamStalledError).
        content: the longest time without a content event (anything but a ping) mid-body; a
            server that only sends pings ends the stream with ContentStalledError. Thinking
            and tool-input deltas count as content, so the 600 s default fits long thinking;
            server tools (web search, code execution) and thinking with ``display: "omitted"``
            can be silent but for pings for minutes: raise it for those.
        total: the whole request, retries included.

    Example:
        >>> Timeouts(idle=30).idle
        30
    """

    connect: float | None = 10.0
    first_byte: float | None = 300.0
    idle: float | None = 300.0
    content: float | None = 600.0
    total: float | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """The HTTP response of a stream: status, headers, request id, retries taken."""

    status: int
    headers: Mapping[str, str]
    request_id: str | None
    retries: int
