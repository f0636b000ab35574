"""``Client`` against the mock server: configuration, headers, auth, pooling, secrecy, SDK parity."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest

import rxclaude
from rxclaude import Client, Timeouts
from rxclaude.core.errors import AuthenticationError, RxClaudeError
from rxclaude.core.retry import RetryPolicy
from rxclaude.testing import MockServer, Reply
from rxclaude.transport.providers.anthropic import AnthropicProvider

KEY = "fake-key-SECRET-do-not-leak-7f3a9c"
MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float = 10.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


# -- configuration and headers ----------------------------------------------------------------


async def test_key_and_base_url_from_environment(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url + "/")
    async with Client() as client:
        message = await within(client.messages.create(**PARAMS))
    assert message.text == "Hi"  # the default reply echoes
    assert len(server.requests) == 1
    record = server.requests[0]
    assert record.path == "/v1/messages"
    assert record.headers["x-api-key"] == KEY


async def test_arguments_win_over_environment(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-not-used")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    async with Client(KEY, server.url) as client:
        await within(client.messages.create(**PARAMS))
    assert server.requests[0].headers["x-api-key"] == KEY


async def test_headers_sent(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url) as client:
        await within(client.messages.create(**PARAMS))
    h = server.requests[0].headers
    assert h["x-api-key"] == KEY
    assert h["anthropic-version"] == "2023-06-01"
    assert "anthropic-beta" not in h
    assert h["content-type"] == "application/json"
    assert h["accept"] == "text/event-stream"
    assert h["user-agent"].startswith(f"rxclaude/{rxclaude.__version__} python/")
    assert "authorization" not in h
    body = server.requests[0].json
    assert body["stream"] is True and body["model"] == MODEL and body["messages"] == PARAMS["messages"]


async def test_version_and_betas_configurable(server: MockServer) -> None:
    betas = ("interleaved-thinking-2025-05-14", "files-api-2025-04-14")
    async with Client(api_key=KEY, base_url=server.url, anthropic_version="2026-10-21", betas=betas) as client:
        await within(client.messages.create(**PARAMS))
    h = server.requests[0].headers
    assert h["anthropic-version"] == "2026-10-21"
    assert h["anthropic-beta"] == "interleaved-thinking-2025-05-14,files-api-2025-04-14"


async def test_auth_token_sends_bearer(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-secret")
    async with Client(base_url=server.url) as client:
        await within(client.messages.create(**PARAMS))
    h = server.requests[0].headers
    assert h["authorization"] == "Bearer tok-secret" and "x-api-key" not in h


async def test_one_pooled_session(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url) as client:
        session = client.transport.session
        await within(client.messages.create(**PARAMS))
        await within(client.messages.stream(**PARAMS).final_message())
        assert client.transport.session is session
        assert not session.closed
    assert session.closed


async def test_close_leaves_no_unclosed_warnings(server: MockServer) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Client(api_key=KEY, base_url=server.url) as client:
            await within(client.messages.create(**PARAMS))
        other = Client(api_key=KEY, base_url=server.url)
        await within(other.messages.create(**PARAMS))
        await other.close()
        del client, other
        gc.collect()
        await asyncio.sleep(0)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning) or "nclosed" in str(w.message)]


# -- auth -----------------------------------------------------------------------------------------


async def test_missing_key_fails_typed_before_any_request(server: MockServer) -> None:
    async with Client(base_url=server.url) as client:
        with pytest.raises(AuthenticationError) as info:
            await within(client.messages.create(**PARAMS))
        assert "ANTHROPIC_API_KEY" in str(info.value)
        errors: list[Exception] = []
        done = asyncio.Event()

        def on_error(e: Exception) -> None:
            errors.append(e)
            done.set()

        client.messages.frames(**PARAMS).subscribe(on_error=on_error)
        await within(done.wait())
        assert isinstance(errors[0], AuthenticationError)
    assert server.requests == []


async def test_wrong_key_is_authentication_error_not_retried() -> None:
    async with MockServer(require_key="the-right-key") as server:
        async with Client(api_key=KEY, base_url=server.url) as client:
            stream = client.messages.stream(**PARAMS)
            with pytest.raises(AuthenticationError) as info:
                await within(stream.final_message())
        error = info.value
        assert error.status_code == 401
        assert error.type == "authentication_error"
        assert error.message == "invalid x-api-key"
        assert error.request_id == server.requests[0].request_id is not None
        assert len(server.requests) == 1
        assert stream.status == 401


# -- cold frames ------------------------------------------------------------------------------------


async def test_frames_is_cold_one_request_per_subscription(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url) as client:
        frames = client.messages.frames(**PARAMS)
        await asyncio.sleep(0.05)
        assert server.requests == []  # nothing sent before subscribing

        async def collect() -> list[rxclaude.Frame]:
            out: list[rxclaude.Frame] = []
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            frames.subscribe(out.append, done.set_exception, lambda: done.set_result(None))
            await within(done)
            return out

        first = await collect()
        assert len(server.requests) == 1
        second, third = await asyncio.gather(collect(), collect())
        assert len(server.requests) == 3
        assert [f.event for f in first] == [f.event for f in second] == [f.event for f in third]
        assert first[0].event == "message_start" and first[-1].event == "message_stop"


async def test_create_is_final_message(server: MockServer) -> None:
    server.enqueue(Reply.text("Done.", stop_reason="end_turn"))
    async with Client(api_key=KEY, base_url=server.url) as client:
        message = await within(client.messages.create(**PARAMS))
    assert message.text == "Done." and message.stop_reason == "end_turn" and not message.incomplete


# -- the key never leaks ----------------------------------------------------------------------------


def _assert_clean(*things: Any) -> None:
    for thing in things:
        assert KEY not in repr(thing), type(thing)
        assert KEY not in str(thing), type(thing)


def _exception_chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


async def test_api_key_never_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with MockServer(require_key=KEY) as server:
        server.enqueue(
            Reply.text("ok"),
            Reply.error(529, should_retry=False),
            Reply.text("x" * 50).with_faults(error_after=4),
            Reply.text("y").with_faults(headers_delay=30),  # first-byte timeout, then ...
            Reply.error(429, retry_after_ms=5),  # ... retries exhausted
            Reply.text("z" * 20).with_faults(malformed_after=3),
            Reply.text("w" * 200).with_faults(reset_after_bytes=700),
        )
        provider = AnthropicProvider(api_key=KEY, base_url=server.url)
        request = await provider.build_request(PARAMS)
        assert request.headers["x-api-key"] == KEY  # it is there, only hidden
        _assert_clean(provider, request)
        async with Client(
            api_key=KEY, base_url=server.url, max_retries=1, timeouts=Timeouts(first_byte=0.2), recovery=False
        ) as client:
            client.retry = RetryPolicy(max_retries=1, initial_delay=0.001)
            _assert_clean(client, client.provider, client.transport, client.messages)
            for _ in range(6):
                stream = client.messages.stream(**PARAMS)
                _assert_clean(stream)
                try:
                    await within(stream.final_message())
                except RxClaudeError as e:
                    errors.extend(_exception_chain(e))
                _assert_clean(stream, stream.response, stream.current_message)
        async with Client(api_key=KEY + "-wrong", base_url=server.url) as wrong:
            try:
                await within(wrong.messages.create(**PARAMS))
            except RxClaudeError as e:
                errors.extend(_exception_chain(e))
    async with Client(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0) as dead:
        try:
            await within(dead.messages.create(**PARAMS))
        except RxClaudeError as e:
            errors.extend(_exception_chain(e))
    kinds = {type(e).__name__ for e in errors}
    assert {
        "OverloadedError",
        "RateLimitError",
        "MalformedEventError",
        "ConnectionLostError",
        "AuthenticationError",
        "ConnectError",
    } <= kinds, kinds
    for error in errors:
        _assert_clean(
            error,
            error.args,
            getattr(error, "body", None),
            getattr(error, "headers", None),
            getattr(error, "partial", None),
        )
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.args)
    assert KEY not in caplog.text


# -- conformance with the official SDK, end to end --------------------------------------------------


async def test_final_message_equals_official_sdk(server: MockServer) -> None:
    anthropic = pytest.importorskip("anthropic")
    reply = Reply.text(
        ["Let me ", "check ", "the weather."],
        thinking=["The user ", "wants weather."],
        tool_uses=[{"name": "weather", "input": {"city": "Rome", "days": [1, 2]}}],
        id="msg_01ConformanceTest",
        input_tokens=21,
        output_tokens=42,
        seed=7,
    )
    server.enqueue(reply, reply)
    async with Client(api_key=KEY, base_url=server.url) as client:
        ours = await within(client.messages.create(**PARAMS))
    sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
    async with sdk, sdk.messages.stream(**PARAMS) as sdk_stream:
        theirs = await within(sdk_stream.get_final_message())
    assert ours.to_dict() == theirs.to_dict(mode="json")
    assert [b["type"] for b in ours.to_dict()["content"]] == ["thinking", "text", "tool_use"]
