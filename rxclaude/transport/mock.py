"""An in-memory transport: the client's whole stack (retries, timeouts, decoding, the stream) with
no socket, in the spirit of httpx's ``MockTransport``.

Strategy: :class:`MockTransport` is the real :class:`~rxclaude.transport.http.Transport` over a
:class:`MockExchange`, which hands each request to your handler and returns the
:class:`MockResponse` it makes. Only the exchange is replaced, so everything above it -- retry
policy, typed HTTP errors, idle and total timeouts, the SSE decoder -- runs exactly as it does over
the network. For a server that also speaks HTTP (headers, resets, a real socket), use
:class:`rxclaude.testing.MockServer`.

Example::

    def handler(request: MockRequest) -> MockResponse:
        return MockResponse.sse(open("tests/fixtures/text-basic-sonnet4.sse", "rb").read())

    async with rxclaude.Client(api_key="k", transport=MockTransport(handler)) as client:
        message = await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=msgs)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from rxclaude.transport.base import HTTPResponse, Timeouts
from rxclaude.transport.http import Transport

__all__ = ["Chunk", "Handler", "MockExchange", "MockRequest", "MockResponse", "MockTransport"]

Chunk = bytes | BaseException
"""A piece of a mock body: bytes, or an exception raised at that point (``ConnectionResetError()``
for a reset mid-stream)."""


@dataclass(frozen=True)
class MockRequest:
    """A request as the transport sent it (headers are the provider's, signed where it signs)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def json(self) -> Any:
        """The body, parsed."""
        return orjson.loads(self.body)


class MockResponse:
    """A scripted response: status, headers, and a body given whole, as chunks, or as an async
    iterable (which may wait between chunks, for idle-timeout tests).

    Example:
        >>> MockResponse(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "x"}}).status
        529
    """

    def __init__(
        self,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        body: bytes | Iterable[Chunk] | AsyncIterable[Chunk] = b"",
        json: Any = None,
    ) -> None:
        self.status = status
        head: CIMultiDict[str] = CIMultiDict(headers or {})
        if json is not None:
            body = orjson.dumps(json)
            head.setdefault("content-type", "application/json")
        self.headers: Mapping[str, str] = CIMultiDictProxy(head)
        self._chunks = _chunks([body] if isinstance(body, bytes) else body)
        self.released = False
        self.closed = False

    @classmethod
    def sse(
        cls, body: bytes | Iterable[Chunk] | AsyncIterable[Chunk], *, headers: Mapping[str, str] | None = None
    ) -> MockResponse:
        """A 200 ``text/event-stream`` response.

        Example:
            >>> MockResponse.sse(b"event: ping\\ndata: {}\\n\\n").headers["Content-Type"]
            'text/event-stream'
        """
        return cls(200, {"content-type": "text/event-stream", **(headers or {})}, body=body)

    async def read_chunk(self) -> bytes:
        if self.closed:
            raise ConnectionResetError("the mock response was closed")
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            return b""
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


async def _chunks(body: Iterable[Chunk] | AsyncIterable[Chunk]) -> Any:
    if isinstance(body, AsyncIterable):
        async for chunk in body:
            yield chunk
    else:
        for chunk in body:
            await asyncio.sleep(0)  # each chunk is a read: other tasks run between them
            yield chunk


Handler = Callable[[MockRequest], MockResponse | Awaitable[MockResponse]]
"""Makes the response for a request (sync or async); raising a transport error simulates a
failure before the response (e.g. ``rxclaude.ConnectError``)."""


class MockExchange:
    """The :class:`~rxclaude.transport.base.Exchange` that asks a handler; it records every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[MockRequest] = []
        self.responses: list[MockResponse] = []

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> HTTPResponse:
        request = MockRequest(method, url, dict(headers), body)
        self.requests.append(request)
        result = self.handler(request)
        response = await result if inspect.isawaitable(result) else result
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        pass


class MockTransport(Transport):
    """The real transport over a :class:`MockExchange`: ``Client(transport=MockTransport(handler))``.

    Example::

        transport = MockTransport(lambda request: MockResponse.sse(sse_bytes))
        client = rxclaude.Client(api_key="k", transport=transport)
        ...
        assert transport.requests[0].json()["stream"] is True
    """

    def __init__(self, handler: Handler) -> None:
        self.mock = MockExchange(handler)
        super().__init__(exchange=self.mock)

    @property
    def requests(self) -> list[MockRequest]:
        """Every request sent, in order (retries included)."""
        return self.mock.requests
