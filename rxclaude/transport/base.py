"""What every transport shares: the timeouts it applies, the response head it reports, and the
one-exchange interface (:class:`Exchange`) that the aiohttp and in-memory transports implement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Exchange",
    "HTTPResponse",
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


class HTTPResponse(Protocol):
    """A response as the transport reads it: the head, then the body a chunk at a time."""

    @property
    def status(self) -> int:
        """The HTTP status code."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers (case-insensitive lookups)."""
        ...

    async def read_chunk(self) -> bytes:
        """The next piece of the body as it arrives, ``b""`` at its end. A broken connection
        raises ``ConnectionError`` (or the HTTP library's own error)."""
        ...

    def release(self) -> None:
        """Give the connection back to the pool (the body was read, or is not wanted)."""
        ...

    def close(self) -> None:
        """Close the connection now (a cancelled stream: the server sees the disconnect)."""
        ...


class Exchange(Protocol):
    """One HTTP request/response exchange: what a transport needs below its retries and decoding.

    Errors before the response are rxclaude's typed transport errors (``ConnectError``,
    ``ConnectTimeoutError``, ``FirstByteTimeoutError``, ``ConnectionLostError``).
    """

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> HTTPResponse:
        """Send the request; return once the response head has arrived."""
        ...

    async def aclose(self) -> None:
        """Release the connections this exchange holds."""
        ...
