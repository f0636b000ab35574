"""Issue 11, item 8: errors keep their cause, a content watchdog, and the connection released at
``message_stop``. Against the mock (and, for a close-delimited body, a bare asyncio server)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

import rxclaude
from rxclaude import Client, Timeouts
from rxclaude.core.errors import (
    ConnectionLostError,
    ContentStalledError,
    IncompleteStreamError,
    OverloadedError,
    StreamStalledError,
    UnexpectedResponseError,
)
from rxclaude.testing import MockServer, Reply

KEY = "fake-key-test-causes-0123456789"
MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


def client_for(server: MockServer | str, **options: Any) -> Client:
    url = server if isinstance(server, str) else server.url
    options.setdefault("max_retries", 0)
    return Client(api_key=KEY, base_url=url, **options)


async def final(client: Client) -> Any:
    stream = client.messages.stream(**PARAMS)
    return stream, await asyncio.wait_for(stream.final_message(), 10)


# -- a 200 that is not a stream, a redirect --------------------------------------------------------


async def test_a_200_html_page_says_what_came_and_is_retried(server: MockServer) -> None:
    server.enqueue(Reply.raw(HTML, status=200, content_type="text/html"), Reply.text("Hello."))
    async with client_for(server, max_retries=1) as client:
        stream, message = await final(client)
    assert message.text == "Hello." and stream.response.retries == 1  # transient, as in the SDK
    server.enqueue(Reply.raw(HTML, status=200, content_type="text/html"))
    async with client_for(server) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            await final(client)
    error = info.value
    assert "text/html" in str(error) and "502 Bad Gateway" in str(error) and error.status_code == 200
    assert error.retryable and error.content_type == "text/html"


async def test_x_should_retry_false_stops_the_retry(server: MockServer) -> None:
    server.enqueue(
        Reply.raw(HTML, status=200, content_type="text/html", headers={"x-should-retry": "false"}), Reply.text("x")
    )
    async with client_for(server, max_retries=2) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            await final(client)
    assert not info.value.retryable and len(server.requests) == 1


async def test_a_200_json_error_body_is_typed_from_the_body(server: MockServer) -> None:
    server.enqueue(Reply.json(OVERLOADED, status=200))
    async with client_for(server) as client:
        with pytest.raises(OverloadedError) as info:
            await final(client)
    assert info.value.message == "Overloaded" and info.value.status_code == 200 and info.value.retryable
    server.enqueue(Reply.json(OVERLOADED, status=200), Reply.text("Recovered."))
    async with client_for(server, max_retries=1) as client:
        _, message = await final(client)
    assert message.text == "Recovered."


async def test_a_200_json_body_that_is_no_error(server: MockServer) -> None:
    server.enqueue(Reply.json({"type": "message", "content": []}, status=200), Reply.text("x"))
    async with client_for(server, max_retries=2) as client:
        with pytest.raises(UnexpectedResponseError, match="JSON body instead of an event stream") as info:
            await final(client)
    assert info.value.body == {"type": "message", "content": []} and len(server.requests) == 1


async def test_a_redirect_names_where_it_points(server: MockServer) -> None:
    server.enqueue(
        Reply.raw(b"", status=301, content_type="text/plain", headers={"location": "https://elsewhere.example/v1"})
    )
    async with client_for(server, max_retries=2) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            await final(client)
    error = info.value
    assert error.status_code == 301 and error.location == "https://elsewhere.example/v1"
    assert "redirect" in str(error) and not error.retryable and len(server.requests) == 1


# -- a close-delimited body ----------------------------------------------------------------------

START = {
    "type": "message_start",
    "message": {"id": "m", "type": "message", "role": "assistant", "model": MODEL, "content": [], "usage": {}},
}


async def _close_delimited(reset: bool) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        writer.write(head + b"event: message_start\ndata: " + orjson.dumps(START) + b"\n\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        if reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # RST
        else:
            writer.close()  # FIN: a clean end of the body, without message_stop

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize("reset", [True, False])
async def test_a_reset_on_a_close_delimited_body_is_told_from_a_clean_end(reset: bool) -> None:
    srv, url = await _close_delimited(reset)
    try:
        async with client_for(url) as client:
            stream = client.messages.stream(**PARAMS)
            with pytest.raises(IncompleteStreamError if not reset else ConnectionLostError) as info:
                await asyncio.wait_for(stream.final_message(), 10)
    finally:
        srv.close()
        await srv.wait_closed()
    if reset:
        assert "reset" in str(info.value) and info.value.partial is not None  # the cause, and the partial
    else:
        assert "before message_stop" in str(info.value)


# -- the content watchdog ---------------------------------------------------------------------------


async def test_only_pings_end_the_stream_with_a_content_stall(server: MockServer) -> None:
    server.enqueue(Reply.text(["Hel", "lo"]).with_faults(delay=30, ping_every=0.05))
    async with client_for(server, timeouts=Timeouts(idle=0.3, content=1.0)) as client:
        stream = client.messages.stream(**PARAMS)
        with pytest.raises(ContentStalledError) as info:
            await asyncio.wait_for(stream.final_message(), 10)
    error = info.value
    assert isinstance(error, StreamStalledError) and error.timeout == 1.0  # pings kept idle=0.3 from firing
    assert "only pings" in str(error) and error.partial is not None


def test_the_default_content_watchdog() -> None:
    t = Timeouts()
    assert t.content is not None and t.content >= 2 * (t.idle or 0)  # long thinking streams deltas: 600 s
    assert Timeouts(content=None).content is None


# -- release at message_stop -----------------------------------------------------------------------


async def test_the_connection_is_released_at_message_stop(server: MockServer) -> None:
    events = [
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Done."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    server.enqueue(Reply.events(events).with_faults(stall_after=len(events), stall_seconds=3600))
    async with client_for(server) as client:  # idle and content: 300 s and 600 s
        _, message = await final(client)
        assert message.text == "Done."
        await asyncio.wait_for(server.wait_disconnect(), 5)  # not after the idle timeout
        for _ in range(100):
            if client.transport.open_requests == 0:
                break
            await asyncio.sleep(0.01)
        assert client.transport.open_requests == 0


async def test_an_event_that_is_not_json_is_transient_one_of_the_wrong_shape_is_not(server: MockServer) -> None:
    server.enqueue(Reply.text("Hello there.").with_faults(malformed_after=3))
    async with client_for(server) as client:
        stream = client.messages.stream(**PARAMS)
        with pytest.raises(rxclaude.MalformedEventError) as info:
            await asyncio.wait_for(stream.final_message(), 10)
    assert info.value.retryable and info.value.partial is not None  # a proxy cut it: send again
    wrong = rxclaude.MalformedEventError("x", event="message_start", data="{}")
    assert not wrong.retryable
