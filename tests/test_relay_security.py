"""Relay safety: viewer tokens, the Host allow-list, CORS for listed origins, connection caps, body limits.

Nodes run on the in-memory log here (the checks come before any log access); the single-stream
``Relay`` gets the same HTTP checks. Waits are hang guards only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import reactivex
from reactivex.subject import Subject

from rxclaude import Relay
from rxclaude.core.errors import TokenError
from rxclaude.core.frame import Frame
from rxclaude.relay.log import MemoryLog
from rxclaude.relay.node import RelayNode
from rxclaude.relay.producer import publish
from rxclaude.relay.security import HttpPolicy
from rxclaude.relay.tokens import SECRET_ENV, make_token, relay_secret, verify_token

from .redis_support import SECRET

PING = Frame("ping", '{"type": "ping"}')


async def within(aw: Any, seconds: float = 10.0) -> Any:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


# -- tokens -------------------------------------------------------------------------------------


def test_a_token_is_bound_to_its_stream_secret_and_expiry() -> None:
    token = make_token("chat-1", secret=SECRET, ttl=60, now=1_000)
    verify_token(token, "chat-1", secret=SECRET, now=1_059)
    with pytest.raises(TokenError, match="expired"):
        verify_token(token, "chat-1", secret=SECRET, now=1_060)
    with pytest.raises(TokenError, match="not valid"):
        verify_token(token, "chat-2", secret=SECRET, now=1_000)
    with pytest.raises(TokenError, match="not valid"):
        verify_token(token, "chat-1", secret=SECRET + "x", now=1_000)
    version, expiry, signature = token.split(".")
    with pytest.raises(TokenError, match="not valid"):  # a later expiry needs a new signature
        verify_token(f"{version}.{int(expiry) + 3600}.{signature}", "chat-1", secret=SECRET, now=1_000)
    for bad in ("", "v1", "v2.99999999999.x", "v1.abc.x", "v1.1.2.3", "v1." + "9" * 300 + ".x"):
        with pytest.raises(TokenError, match="malformed"):
            verify_token(bad, "chat-1", secret=SECRET, now=1_000)
    assert SECRET not in token


def test_the_secret_comes_from_the_environment_and_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(TokenError, match=SECRET_ENV):
        make_token("chat-1")
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(TokenError, match="at least 16 bytes"):
        relay_secret()
    monkeypatch.setenv(SECRET_ENV, SECRET)
    verify_token(make_token("chat-1"), "chat-1", secret=SECRET)
    with pytest.raises(TokenError):  # a node that needs tokens does not start without a secret
        monkeypatch.delenv(SECRET_ENV)
        RelayNode(MemoryLog())
    RelayNode(MemoryLog(), auth=False)  # explicit opt-out


# -- a node -------------------------------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Subject[Frame], RelayNode]]:
    """A node on the in-memory log with one live stream, ``live``."""
    log = MemoryLog()
    subject: Subject[Frame] = Subject()
    publication = publish(subject, log, "live", heartbeat=5)
    subject.on_next(PING)
    node = RelayNode(
        log,
        secret=SECRET,
        allowed_hosts=["127.0.0.1", "relay.example.com"],
        cors_origins=["https://app.example.com"],
        max_clients=3,
        max_clients_per_stream=2,
        max_body=1024,
        body_timeout=0.3,
        keepalive=None,
    )
    async with node.serve() as url:
        yield url, subject, node
    subject.on_completed()
    await within(publication)


async def status_of(url: str, method: str = "GET", path: str = "/streams/live/events", **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url + path, **kw) as response:
        body = await response.read() if response.status != 200 else b""
        return response.status, (response.headers, body)


async def test_viewers_need_a_token_for_the_stream(served: Any) -> None:
    url, _, _ = served
    token = make_token("live", secret=SECRET)
    assert (await status_of(url))[0] == 401
    assert (await status_of(url, params={"token": make_token("other", secret=SECRET)}))[0] == 401
    assert (await status_of(url, params={"token": make_token("live", secret=SECRET, ttl=1, now=0)}))[0] == 401
    assert (await status_of(url, headers={"Authorization": "Basic " + token}))[0] == 401
    status, (_, body) = await status_of(url, params={"token": "v1.1.forged"})
    assert status == 401 and b"authentication_error" in body
    async with aiohttp.ClientSession() as http:
        for kw in ({"params": {"token": token}}, {"headers": {"Authorization": f"Bearer {token}"}}):
            async with http.get(f"{url}/streams/live/events", **kw) as response:
                assert response.status == 200
                assert (
                    await within(response.content.readuntil(b"\n\n"))
                    == b'event: ping\ndata: {"type": "ping"}\nid: 1\n\n'
                )


async def test_only_listed_hosts_are_served(served: Any) -> None:
    url, _, _ = served
    token = make_token("live", secret=SECRET)
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost"):
        status, (_, body) = await status_of(url, params={"token": token}, headers={"Host": host})
        assert status == 403 and b"permission_error" in body, host
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{url}/streams/live/events", params={"token": token}, headers={"Host": "relay.example.com:443"}
        ) as response,
    ):
        assert response.status == 200


async def test_cors_only_for_listed_origins(served: Any) -> None:
    url, _, _ = served
    token = make_token("live", secret=SECRET)
    listed = {"Origin": "https://app.example.com"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/streams/live/events", params={"token": token}, headers=listed) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
            assert response.headers["Vary"] == "Origin"
        async with http.get(
            f"{url}/streams/live/events", params={"token": token}, headers={"Origin": "https://evil.example"}
        ) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    status, (headers, _) = await status_of(url, "OPTIONS", "/streams/live/v1/messages", headers={**listed, **preflight})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Headers"] == "authorization"
    status, (headers, _) = await status_of(url, "OPTIONS", headers={"Origin": "https://evil.example", **preflight})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    for bad in (["*"], ["app.example.com"], ["https://app.example.com/"]):
        with pytest.raises(ValueError, match="exact origins"):
            HttpPolicy(cors_origins=bad)
        with pytest.raises(ValueError, match="exact origins"):
            RelayNode(MemoryLog(), auth=False, cors_origins=bad)


async def test_connection_caps_per_stream_and_per_node(served: Any) -> None:
    url, _, node = served
    token = make_token("live", secret=SECRET)
    async with aiohttp.ClientSession() as http:
        open_ = [await http.get(f"{url}/streams/live/events", params={"token": token}) for _ in range(2)]
        assert [r.status for r in open_] == [200, 200]
        status, (_, body) = await status_of(url, params={"token": token})
        assert status == 429 and b"rate_limit_error" in body
        node.max_clients = 2  # the node's cap counts every stream
        status, (_, body) = await status_of(
            url, "GET", "/streams/other/events", params={"token": make_token("other", secret=SECRET)}
        )
        assert status == 429
        for response in open_:
            response.close()


async def test_request_bodies_are_small_and_timed(served: Any) -> None:
    url, _, _ = served
    token = make_token("live", secret=SECRET)
    path = "/streams/live/v1/messages"
    status, (_, body) = await status_of(url, "POST", path, params={"token": token}, data=b"x" * 2048)
    assert status == 413 and b"request_too_large" in body

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 256

    status, _ = await status_of(url, "POST", path, params={"token": token}, data=chunked())
    assert status == 413
    # a body that never arrives: 408 after body_timeout, not a stuck handler
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST {path}?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nab".encode())
    await writer.drain()
    head = await within(reader.readuntil(b"\r\n"))
    assert head.startswith(b"HTTP/1.1 408")
    writer.close()


# -- the single-stream Relay gets the same HTTP checks ------------------------------------------


async def test_the_relay_checks_host_origin_and_body() -> None:
    relay = Relay(reactivex.from_iterable([PING]), cors_origins=["https://app.example.com"], max_body=16)
    async with relay.serve() as url:
        assert (await status_of(url, path="/events", headers={"Host": "evil.example"}))[0] == 403
        assert (await status_of(url, "POST", "/v1/messages", data=b"z" * 64))[0] == 413
        status, (headers, _) = await status_of(
            url, path="/events", headers={"Origin": "https://app.example.com", "Last-Event-ID": "2"}
        )  # the ping and our error event
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    with pytest.raises(ValueError, match="exact origins"):
        Relay(reactivex.empty(), cors_origins=["*"])
