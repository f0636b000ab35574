"""What the mock servers record of each request: :class:`RecordedRequest`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rxclaude.testing.replies import Reply

__all__ = [
    "RecordedRequest",
]


@dataclass(eq=False)
class RecordedRequest:
    """One request the server received, and what became of its response.

    ``headers`` is case-insensitive. ``json`` is the parsed body, or ``None`` if it was not JSON;
    ``body`` holds the raw bytes (left empty for ``multipart/*`` requests, so that handlers can
    still call ``request.post()``/``request.multipart()``). For streamed responses ``completed``
    means the whole body was sent, ``disconnected`` that the client went away first, ``reset``
    that the server aborted the connection on purpose (``reset_after_bytes``).

    Example::

        req = server.requests[-1]
        assert req.headers["anthropic-version"] and req.json["stream"] is True
        await req.wait_finished(timeout=2)
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    body: bytes
    json: Any
    request_id: str
    started_at: float
    stream: bool = False
    status: int | None = None
    reply: Reply | None = field(default=None, repr=False)
    events_sent: int = 0
    bytes_sent: int = 0
    completed: bool = False
    disconnected: bool = False
    reset: bool = False
    ended_at: float | None = None
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _gone: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def finished(self) -> bool:
        """Whether the handler is done with this request (sent, failed, or abandoned)."""
        return self._finished.is_set()

    async def wait_finished(self, timeout: float | None = 5.0) -> None:
        """Wait until the server is done with this request; ``TimeoutError`` after ``timeout``.

        Example::

            await server.requests[0].wait_finished(1.0)
        """
        async with asyncio.timeout(timeout):
            await self._finished.wait()

    async def wait_disconnected(self, timeout: float | None = 5.0) -> None:
        """Wait until the client disconnects mid-response; ``TimeoutError`` after ``timeout``.

        Example::

            await server.requests[0].wait_disconnected(0.5)
        """
        async with asyncio.timeout(timeout):
            await self._gone.wait()
