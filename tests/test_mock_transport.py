"""The in-memory transport: the client's whole stack with no socket (rxclaude.transport.mock)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import reactivex

import rxclaude
from rxclaude import operators as ops
from rxclaude.transport import MockRequest, MockResponse, MockTransport

from .helpers import SSE_FIXTURES, chunkings

PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any network socket the client opened would fail the test (the event loop's own
    AF_UNIX self-pipe is allowed)."""

    class NoNetwork(socket.socket):
        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> None:
            if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                raise AssertionError("a network socket was opened")
            super().__init__(family, type, proto, fileno)

    monkeypatch.setattr(socket, "socket", NoNetwork)


def _expected(data: bytes) -> tuple[Any, Exception | None]:
    """What the operators make of the same bytes: the final message, or the error."""
    result: list[Any] = []
    errors: list[Exception] = []
    reactivex.of(data).pipe(ops.frames(), ops.parse(), ops.message()).subscribe(result.append, errors.append)
    return (result[0] if result else None), (errors[0] if errors else None)


@pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name)
async def test_every_recording_streams_through_the_client_with_no_socket(path: Path, no_sockets: None) -> None:
    data = path.read_bytes()
    want, want_error = _expected(data)
    for name, pieces in list(chunkings(data))[::2]:  # whole, two random chunkings
        transport = MockTransport(lambda request, pieces=pieces: MockResponse.sse(pieces))
        async with rxclaude.Client(api_key="k-mock", transport=transport) as client:
            stream = client.messages.stream(**PARAMS)
            texts: list[str] = []
            stream.text.subscribe(texts.append)
            await stream.wait()
            if want_error is None:
                assert stream.error is None, (name, stream.error)
                assert await stream.final_message() == want, name
                assert "".join(texts) == want.text
            else:
                assert type(stream.error) is type(want_error), name
        assert transport.requests[0].json()["stream"] is True
        assert transport.requests[0].headers["x-api-key"] == "k-mock"


async def test_retries_run_as_over_the_network(no_sockets: None) -> None:
    answers = [MockResponse(529, json=OVERLOADED), MockResponse.sse(SSE_FIXTURES[0].read_bytes())]
    transport = MockTransport(lambda request: answers.pop(0))
    client = rxclaude.Client(api_key="k", transport=transport, max_retries=2)
    try:
        stream = client.messages.stream(**PARAMS)
        await stream.wait()
        assert stream.error is None and len(transport.requests) == 2
    finally:
        await client.close()


async def test_an_error_status_is_typed_from_its_body(no_sockets: None) -> None:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}}
    transport = MockTransport(lambda request: MockResponse(400, json=body))
    async with rxclaude.Client(api_key="k", transport=transport) as client:
        with pytest.raises(rxclaude.BadRequestError, match="max_tokens"):
            await client.messages.create(**PARAMS)


async def test_a_reset_mid_body_is_a_typed_error_with_the_partial(no_sockets: None) -> None:
    data = (Path(__file__).parent / "fixtures" / "text-basic-sonnet4.sse").read_bytes()
    cut = data.index(b"content_block_delta") + 200
    transport = MockTransport(lambda request: MockResponse.sse([data[:cut], ConnectionResetError("reset by peer")]))
    async with rxclaude.Client(api_key="k", transport=transport, max_retries=0) as client:
        stream = client.messages.stream(**PARAMS)
        await stream.wait()
        assert isinstance(stream.error, rxclaude.ConnectionLostError)
        assert stream.error.partial is not None and stream.current_message.incomplete


async def test_silence_mid_body_ends_in_the_idle_timeout(no_sockets: None) -> None:
    head = SSE_FIXTURES[0].read_bytes()[:200]

    async def stalls() -> AsyncIterator[bytes]:
        yield head
        await asyncio.sleep(30)

    transport = MockTransport(lambda request: MockResponse.sse(stalls()))
    timeouts = rxclaude.Timeouts(idle=0.05)
    async with rxclaude.Client(api_key="k", transport=transport, timeouts=timeouts, max_retries=0) as client:
        stream = client.messages.stream(**PARAMS)
        await stream.wait()
        assert isinstance(stream.error, rxclaude.StreamStalledError)


async def test_an_async_handler_sees_the_request(no_sockets: None) -> None:
    seen: list[MockRequest] = []

    async def handler(request: MockRequest) -> MockResponse:
        seen.append(request)
        return MockResponse.sse(SSE_FIXTURES[0].read_bytes())

    async with rxclaude.Client(api_key="k", transport=MockTransport(handler)) as client:
        await client.messages.create(**PARAMS)
    assert seen[0].method == "POST" and seen[0].url.endswith("/v1/messages")


async def test_the_files_api_says_it_needs_the_http_transport(no_sockets: None) -> None:
    transport = MockTransport(lambda request: MockResponse(404))
    async with rxclaude.Client(api_key="k", transport=transport) as client:
        with pytest.raises(rxclaude.UnsupportedFeatureError, match="HTTP transport"):
            await client.files.list_page()
