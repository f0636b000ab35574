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
        total: the whole request, retries included.

    Example:
        >>> Timeouts(idle=30).idle
        30
    """

    connect: float | None = 10.0
    first_byte: float | None = 300.0
    idle: float | None = 300.0
    total: float | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """The HTTP response of a stream: status, headers, request id, retries taken."""

    status: int
    headers: Mapping[str, str]
    request_id: str | None
    retries: int
