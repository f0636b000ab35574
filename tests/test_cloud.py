"""Bedrock and Vertex AI end to end: the real Client stack (transport, MessageStream, operators)
against the local mock servers. No network beyond 127.0.0.1; no real AWS or Google call."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import google.auth
import pytest
from google.auth import credentials as google_credentials
from reactivex import Observable

from rxclaude import Client
from rxclaude import operators as ops
from rxclaude.cloud import PROVIDERS, BedrockClient, VertexClient, client_for
from rxclaude.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MediaTooLargeError,
    ModelStreamError,
    RateLimitError,
    RequestTimeoutError,
    RxClaudeError,
    ServiceUnavailableError,
    StreamCancelledError,
)
from rxclaude.core.events import Event, MessageStopEvent, PingEvent, UnknownEvent
from rxclaude.core.message import Message, ToolInput, Usage
from rxclaude.core.retry import RetryPolicy
from rxclaude.stream import MessageStream
from rxclaude.testing import (
    VERTEX_EVENT,
    BedrockMockState,
    MockBedrockServer,
    MockVertexServer,
    VertexMockState,
    sse_from_events,
    text_events,
)
from rxclaude.transport.providers.bedrock import BEDROCK_MAX_REQUEST_BYTES, BedrockProvider
from rxclaude.transport.providers.vertex import VERTEX_MAX_REQUEST_BYTES, VertexProvider

T = TypeVar("T")

FIXTURES = Path(__file__).parent / "fixtures"
HAIKU = FIXTURES / "bedrock-haiku45-text.eventstream"
SONNET = FIXTURES / "bedrock-sonnet45-tool-use.eventstream"
VERTEX_SSE = FIXTURES / "vertex-forced-tool-claude37.sse"

ACCESS_KEY = "AKIDCLOUDTESTEXAMPLE"
SECRET_KEY = "wJalrCLOUDsecretKEY/K7MDENG+bPxRfiCYEXAMPLE"
SESSION_TOKEN = "FwoGZXIvYXdzCLOUDsessionTOKEN////+"
API_KEY = "ABSKcloudTestBedrockApiKey=="
TOKEN = "ya29.cloud-test-token"
SECRETS = (SECRET_KEY, SESSION_TOKEN, API_KEY, TOKEN)

BEDROCK_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
VERTEX_MODEL = "claude-3-7-sonnet@20250219"
MESSAGES = [{"role": "user", "content": "Hi"}]
BEDROCK_PARAMS: dict[str, Any] = {"model": BEDROCK_MODEL, "max_tokens": 64, "messages": MESSAGES}
VERTEX_PARAMS: dict[str, Any] = {"model": VERTEX_MODEL, "max_tokens": 64, "messages": MESSAGES}
FAST_RETRY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005)

# tests/fixtures/SOURCES.md
BEDROCK_EXPECTED: dict[str, dict[str, Any]] = {
    HAIKU.name: {
        "id": "msg_bdrk_01QTwwkoXQVhw3GTizpNP7Fk",
        "model": "claude-haiku-4-5-20251001",
        "stop_reason": "end_turn",
        "usage": (16, 18),
        "text": "Olá! 👋\n\nHow can I help you today?",
        "tools": [],
        "metrics": {"inputTokenCount": 16, "outputTokenCount": 18, "invocationLatency": 1743, "firstByteLatency": 1608},
    },
    SONNET.name: {
        "id": "msg_bdrk_01Ux65kdHoC23qJYeB98HG5N",
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": "tool_use",
        "usage": (577, 53),
        "text": "",
        "tools": [("toolu_bdrk_018dfpvS9zVjdozFjuwZf5cx", "weather", {"location": "Florence,Italy"})],
        "metrics": {
            "inputTokenCount": 577,
            "outputTokenCount": 53,
            "invocationLatency": 1967,
            "firstByteLatency": 1603,
        },
    },
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real AWS or Google configuration, credentials or metadata server can be reached."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_BEARER_TOKEN_BEDROCK",
        "ANTHROPIC_BEDROCK_BASE_URL",
        "CLOUD_ML_REGION",
        "ANTHROPIC_VERTEX_PROJECT_ID",
        "ANTHROPIC_VERTEX_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def no_adc(**kwargs: Any) -> Any:
        raise google.auth.exceptions.DefaultCredentialsError("no ADC in tests")

    monkeypatch.setattr(google.auth, "default", no_adc)


class FakeCredentials(google_credentials.Credentials):
    """google-auth credentials whose refresh mints numbered tokens on the calling thread, offline."""

    def __init__(self, *, token: str | None = None, expiry: datetime | None = None) -> None:
        super().__init__()
        self.token = token
        self.expiry = expiry
        self.refresh_threads: list[threading.Thread] = []

    def refresh(self, request: Any) -> None:
        self.refresh_threads.append(threading.current_thread())
        self.token = f"{TOKEN}-{len(self.refresh_threads)}"
        self.expiry = _utcnow() + timedelta(hours=1)


def _utcnow() -> datetime:
    from google.auth import _helpers

    now: datetime = _helpers.utcnow()
    return now


async def within(aw: Awaitable[T], seconds: float = 10.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await within(poll(), seconds)


async def collect(source: Observable[T]) -> tuple[list[T], Exception | None]:
    """Subscribe and wait for the end: the values and the error (or ``None``)."""
    values: list[T] = []
    done: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
    source.subscribe(values.append, lambda e: done.set_result(e), lambda: done.set_result(None))
    return values, await within(done)


@dataclass
class Seen:
    """What every derived stream of a MessageStream delivered."""

    text: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    tools: list[ToolInput] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    errors: dict[str, Exception] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)


def watch(stream: MessageStream) -> Seen:
    """Subscribe to every stream before the request starts."""
    seen = Seen()
    sources: dict[str, tuple[Observable[Any], list[Any]]] = {
        "text": (stream.text, seen.text),
        "events": (stream.events, seen.events),
        "tool_input": (stream.tool_input, seen.tools),
        "usage": (stream.usage, seen.usage),
        "message": (stream.message, seen.messages),
    }
    for name, (source, sink) in sources.items():
        source.subscribe(
            sink.append,
            lambda e, n=name: seen.errors.__setitem__(n, e),
            lambda n=name: seen.completed.add(n),
        )
    return seen


async def run(stream: MessageStream) -> tuple[Seen, Message | Exception]:
    seen = watch(stream)
    try:
        result: Message | Exception = await within(stream.final_message())
    except RxClaudeError as e:
        result = e
    return seen, result


def lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# -- Bedrock -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [HAIKU, SONNET], ids=lambda p: p.stem)
async def test_bedrock_recordings_through_every_stream(path: Path) -> None:
    expected = BEDROCK_EXPECTED[path.name]
    state = BedrockMockState(
        eventstream=path.read_bytes(), credentials=(ACCESS_KEY, SECRET_KEY), region="us-west-2", chunk_size=7
    )
    async with (
        MockBedrockServer(state) as server,
        BedrockClient(
            "us-west-2", access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=SESSION_TOKEN, base_url=server.url
        ) as client,
    ):
        stream = client.messages.stream(**BEDROCK_PARAMS)
        seen, final = await run(stream)

    assert isinstance(final, Message), final  # SigV4 signature verified by the mock
    assert not seen.errors and seen.completed == {"text", "events", "tool_input", "usage", "message"}
    assert "".join(seen.text) == final.text == expected["text"]
    assert (final.id, final.model, final.stop_reason) == (expected["id"], expected["model"], expected["stop_reason"])
    assert (final.usage.input_tokens, final.usage.output_tokens) == expected["usage"]
    assert (seen.usage[-1].input_tokens, seen.usage[-1].output_tokens) == expected["usage"]
    assert seen.messages == [final]
    assert [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"] == expected["tools"]
    finished = [(t.id, t.name, t.input) for t in seen.tools if t.done]
    assert finished == expected["tools"]
    assert all(isinstance(t.input, dict) for t in seen.tools)
    assert not any(isinstance(e, PingEvent) for e in seen.events)  # Bedrock sends none
    stop = seen.events[-1]
    assert isinstance(stop, MessageStopEvent)
    assert stop.extra["amazon-bedrock-invocationMetrics"] == expected["metrics"]

    (request,) = state.requests
    assert request.raw_path == f"/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    assert "model" not in request.body and "stream" not in request.body
    assert request.body["anthropic_version"] == "bedrock-2023-05-31" and request.body["messages"] == MESSAGES
    headers = lower(request.headers)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDCLOUDTESTEXAMPLE/")
    assert "/us-west-2/bedrock/aws4_request" in headers["authorization"]
    assert stream.status == 200 and state.completed == 1


async def test_bedrock_bearer_api_key() -> None:
    async with MockBedrockServer(api_key=API_KEY, text="Olá mundo") as server:
        async with BedrockClient(api_key=API_KEY, base_url=server.url) as client:
            assert client.auth == "bearer" and client.region == "us-east-1"
            message = await within(client.messages.create(**BEDROCK_PARAMS))
        assert message.text == "Olá mundo" and message.stop_reason == "end_turn"
        headers = lower(server.state.requests[0].headers)
        assert headers["authorization"] == f"Bearer {API_KEY}" and "x-amz-date" not in headers

        async with BedrockClient(api_key="not-the-key", base_url=server.url) as client:
            _, error = await collect(client.messages.frames(**BEDROCK_PARAMS))
        assert type(error) is AuthenticationError and error.status_code == 403
        assert len(server.state.requests) == 2  # a 403 is not retried


async def test_bedrock_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    async with MockBedrockServer(api_key=API_KEY) as server, BedrockClient(base_url=server.url) as client:
        assert (client.auth, client.region) == ("bearer", "ap-northeast-1")
        assert (await within(client.messages.create(**BEDROCK_PARAMS))).text == "Hello from mock Bedrock!"


async def test_bedrock_throttling_429_before_the_first_byte_is_retried_and_re_signed() -> None:
    state = BedrockMockState(
        credentials=(ACCESS_KEY, SECRET_KEY),
        text="made it",
        http_errors=[(429, "ThrottlingException", "Too many requests, please wait before trying again.")] * 2,
    )
    async with (
        MockBedrockServer(state) as server,
        BedrockClient("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url) as client,
    ):
        client.retry = FAST_RETRY
        stream = client.messages.stream(**BEDROCK_PARAMS)
        seen, final = await run(stream)
    assert isinstance(final, Message) and final.text == "made it" and "".join(seen.text) == "made it"
    assert len(state.requests) == 3  # two 429s, then the stream: every attempt signed anew and verified
    assert stream.response is not None and stream.response.retries == 2


async def test_bedrock_throttling_429_exhausting_the_retries_is_a_rate_limit_error() -> None:
    state = BedrockMockState(api_key=API_KEY, http_errors=[(429, "ThrottlingException", "Slow down")] * 3)
    async with (
        MockBedrockServer(state) as server,
        BedrockClient(api_key=API_KEY, base_url=server.url, max_retries=1) as client,
    ):
        client.retry = RetryPolicy(max_retries=1, initial_delay=0.001)
        stream = client.messages.stream(**BEDROCK_PARAMS)
        seen, error = await run(stream)
    assert type(error) is RateLimitError and error.status_code == 429 and error.message == "Slow down"
    assert error.type == "rate_limit_error" and error.retryable and not error.in_stream
    assert type(seen.errors["text"]) is RateLimitError and not seen.text
    assert len(state.requests) == 2


async def test_bedrock_throttling_frame_mid_stream_is_a_typed_error_and_not_retried() -> None:
    state = BedrockMockState(
        api_key=API_KEY,
        events=text_events("one two three four"),
        exception=("throttlingException", "Too many tokens, please wait before trying again."),
        exception_after=3,
    )
    async with (
        MockBedrockServer(state) as server,
        BedrockClient(api_key=API_KEY, base_url=server.url, max_retries=3) as client,
    ):
        client.retry = FAST_RETRY
        stream = client.messages.stream(**BEDROCK_PARAMS)
        seen, error = await run(stream)
    assert type(error) is RateLimitError and not isinstance(error, ValueError)
    assert error.in_stream and error.type == "rate_limit_error" and error.status_code == 200
    assert error.message == "Too many tokens, please wait before trying again."
    assert error.body["error"]["bedrock_exception"] == "throttlingException"
    for name in ("text", "events", "tool_input", "usage", "message"):
        assert seen.errors[name] is error, name
    assert seen.text == ["one "]  # what arrived before the exception frame was delivered
    assert error.partial is not None and error.partial.text == "one "
    assert len(state.requests) == 1  # mid-stream: never retried, so no text is duplicated


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("throttlingException", RateLimitError),
        ("modelStreamErrorException", ModelStreamError),
        ("serviceUnavailableException", ServiceUnavailableError),
        ("modelTimeoutException", RequestTimeoutError),
        ("internalServerException", InternalServerError),
        ("validationException", BadRequestError),
    ],
)
async def test_bedrock_exception_frames_reach_on_error_typed(name: str, cls: type[APIError]) -> None:
    state = BedrockMockState(api_key=API_KEY, exception=(name, f"{name} happened"), exception_after=2)
    async with MockBedrockServer(state) as server, BedrockClient(api_key=API_KEY, base_url=server.url) as client:
        values, error = await collect(client.messages.frames(**BEDROCK_PARAMS).pipe(ops.parse()))
    assert type(error) is cls and error.in_stream and error.message == f"{name} happened"
    assert [e.type for e in values] == ["message_start", "content_block_start"]


async def test_bedrock_model_stream_error_keeps_the_original_status() -> None:
    state = BedrockMockState(
        api_key=API_KEY,
        exception=("modelStreamErrorException", "Model stream failed"),
        exception_after=4,
        exception_fields={"originalStatusCode": 529, "originalMessage": "Overloaded"},
    )
    async with MockBedrockServer(state) as server, BedrockClient(api_key=API_KEY, base_url=server.url) as client:
        _, error = await run(client.messages.stream(**BEDROCK_PARAMS))
    assert type(error) is ModelStreamError and error.type == "model_stream_error"
    assert error.body["error"]["originalStatusCode"] == 529 and error.body["error"]["originalMessage"] == "Overloaded"
    assert len(state.requests) == 1


async def test_bedrock_validation_400_fails_fast() -> None:
    message = "Malformed input request: #/messages/0/content: expected type: String, found: Integer"
    state = BedrockMockState(api_key=API_KEY, http_errors=[(400, "ValidationException", message)])
    async with (
        MockBedrockServer(state) as server,
        BedrockClient(api_key=API_KEY, base_url=server.url, max_retries=5) as client,
    ):
        stream = client.messages.stream(**BEDROCK_PARAMS)
        seen, error = await run(stream)
    assert type(error) is BadRequestError and not isinstance(error, ValueError)
    assert error.status_code == 400 and error.type == "invalid_request_error" and error.message == message
    assert not error.in_stream and not error.retryable and error.request_id
    assert not seen.events and not seen.text and type(seen.errors["events"]) is BadRequestError
    assert len(state.requests) == 1 and stream.status == 400


async def test_bedrock_body_through_a_plain_client_with_the_provider() -> None:
    betas = ("context-1m-2025-08-07", "interleaved-thinking-2025-05-14")
    async with MockBedrockServer(credentials=(ACCESS_KEY, SECRET_KEY), text="ok") as server:
        provider = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url)
        async with Client(provider=provider, betas=betas) as client:
            message = await within(client.messages.create(**BEDROCK_PARAMS, stream=True, temperature=0.2))
        assert message.text == "ok"
        (request,) = server.state.requests
    assert request.model == BEDROCK_MODEL
    assert request.body == {
        "max_tokens": 64,
        "messages": MESSAGES,
        "temperature": 0.2,
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": list(betas),
    }
    assert "anthropic-beta" not in lower(request.headers)


async def test_bedrock_inference_profile_arn_is_signed_and_routed() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    async with (
        MockBedrockServer(credentials=(ACCESS_KEY, SECRET_KEY), text="arn ok") as server,
        BedrockClient("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url) as client,
    ):
        message = await within(client.messages.create(**{**BEDROCK_PARAMS, "model": arn}))
        assert message.text == "arn ok" and server.state.requests[0].model == arn


async def test_bedrock_operators_work_unchanged() -> None:
    async with (
        MockBedrockServer(eventstream=SONNET.read_bytes(), chunk_size=3) as server,
        BedrockClient(api_key=API_KEY, base_url=server.url) as client,
    ):
        frames = client.messages.frames(**BEDROCK_PARAMS)
        tools, error = await collect(frames.pipe(ops.parse(), ops.tool_input()))
        assert error is None and tools[-1].done and tools[-1].input == {"location": "Florence,Italy"}
        server.state.eventstream = HAIKU.read_bytes()
        text, error = await collect(frames.pipe(ops.parse(), ops.text()))  # cold: a second request
        assert error is None and "".join(text) == BEDROCK_EXPECTED[HAIKU.name]["text"]
        (message,), error = await collect(frames.pipe(ops.parse(), ops.message()))
        assert error is None and message.usage.output_tokens == 18
        assert len(server.state.requests) == 3


async def test_bedrock_cancel_closes_the_connection() -> None:
    state = BedrockMockState(api_key=API_KEY, events=text_events("word " * 400), delay=0.01)
    async with MockBedrockServer(state) as server, BedrockClient(api_key=API_KEY, base_url=server.url) as client:
        stream = client.messages.stream(**BEDROCK_PARAMS)
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stream.text.subscribe(lambda t: first.done() or first.set_result(t))
        stream.connect()
        assert await within(first) == "word "
        stream.cancel()
        await until(lambda: state.disconnects == 1)
        assert client.transport.open_requests == 0 and state.completed == 0
        with pytest.raises(StreamCancelledError) as info:
            await within(stream.final_message())
        assert info.value.partial is not None and info.value.partial.text.startswith("word ")
        assert stream.usage_so_far is not None and stream.usage_so_far.input_tokens == 10


async def test_bedrock_disposing_a_frames_subscription_closes_the_connection() -> None:
    state = BedrockMockState(api_key=API_KEY, events=text_events("word " * 400), delay=0.01)
    async with MockBedrockServer(state) as server, BedrockClient(api_key=API_KEY, base_url=server.url) as client:
        got: list[str] = []
        subscription = client.messages.frames(**BEDROCK_PARAMS).pipe(ops.parse(), ops.text()).subscribe(got.append)
        await until(lambda: len(got) >= 3)
        subscription.dispose()
        await until(lambda: state.disconnects == 1)
        assert client.transport.open_requests == 0


async def test_bedrock_request_cap_is_20_mb() -> None:
    big = {**BEDROCK_PARAMS, "messages": [{"role": "user", "content": "x" * (21 * 1024 * 1024)}]}
    async with (
        MockBedrockServer(api_key=API_KEY) as server,
        BedrockClient(api_key=API_KEY, base_url=server.url) as client,
    ):
        with pytest.raises(MediaTooLargeError) as info:
            client.messages.stream(**big)
        assert info.value.limit == BEDROCK_MAX_REQUEST_BYTES == 20 * 1024 * 1024
        assert not server.state.requests
    async with BedrockClient(api_key=API_KEY, validate=False) as unchecked:
        unchecked.messages.frames(**big)  # validation off: nothing raised, nothing sent (cold)


async def test_bedrock_secrets_stay_out_of_reprs_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = BedrockMockState(credentials=(ACCESS_KEY, "the-server-wants-another-secret"))
    async with (
        MockBedrockServer(state) as server,
        BedrockClient(
            "us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=SESSION_TOKEN, base_url=server.url
        ) as client,
    ):
        _, error = await run(client.messages.stream(**BEDROCK_PARAMS))
        shown = [repr(client), str(client.provider), repr(client.messages), repr(error), str(error), caplog.text]
    assert type(error) is AuthenticationError and "signature" in error.message
    for text in shown:
        for secret in SECRETS:
            assert secret not in text
    assert repr(client) == f"BedrockClient(region='us-east-1', auth='sigv4', base_url='{server.url}')"


# -- Vertex AI ---------------------------------------------------------------------------------


async def test_vertex_recording_through_every_stream_with_an_unknown_vertex_event() -> None:
    creds = FakeCredentials(token="stale", expiry=_utcnow() - timedelta(minutes=5))
    state = VertexMockState(
        access_token=f"{TOKEN}-1",
        project_id="proj",
        region="us-east5",
        sse=VERTEX_SSE.read_bytes(),
        inject_vertex_event=True,
        chunk_size=11,
    )
    async with (
        MockVertexServer(state) as server,
        VertexClient("proj", "us-east5", credentials=creds, base_url=server.url) as client,
    ):
        stream = client.messages.stream(**VERTEX_PARAMS)
        seen, final = await run(stream)

    assert isinstance(final, Message), final
    assert not seen.errors and seen.completed == {"text", "events", "tool_input", "usage", "message"}
    unknown = [e for e in seen.events if isinstance(e, UnknownEvent)]
    assert [(u.type, u.data) for u in unknown] == [("vertex_event", {"type": "vertex_event", "detail": "mock"})]
    assert seen.events.index(unknown[0]) == 1  # right after message_start, as injected
    assert any(isinstance(e, PingEvent) for e in seen.events)  # Vertex pings before the first block
    assert final.id == "msg_vrtx_016LVviTuDTey6wqvCXkQyRQ" and final.model == "claude-3-7-sonnet-20250219"
    assert final.stop_reason == "tool_use" and final.text == "" and not seen.text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (453, 67)
    assert (seen.usage[-1].input_tokens, seen.usage[-1].output_tokens) == (453, 67)
    (tool,) = [b for b in final.content if b.type == "tool_use"]
    assert tool.id.startswith("toolu_vrtx_") and tool.name == "Person"
    assert tool.input == {"name": "Alice", "age": 30, "city": "Paris"}
    assert seen.tools[-1].done and seen.tools[-1].input == tool.input
    assert seen.messages == [final]

    (request,) = state.requests
    assert (
        request.path
        == f"/v1/projects/proj/locations/us-east5/publishers/anthropic/models/{VERTEX_MODEL}:streamRawPredict"
    )
    assert request.body["stream"] is True and "model" not in request.body
    assert request.body["anthropic_version"] == "vertex-2023-10-16"
    assert lower(request.headers)["authorization"] == f"Bearer {TOKEN}-1"
    assert len(creds.refresh_threads) == 1 and creds.refresh_threads[0] is not threading.current_thread()


async def test_vertex_token_is_refreshed_only_when_expired() -> None:
    creds = FakeCredentials()  # no token yet
    state = VertexMockState(access_token=f"{TOKEN}-1", text="first")
    async with (
        MockVertexServer(state) as server,
        VertexClient("proj", "global", credentials=creds, base_url=server.url) as client,
    ):
        assert client.auth == "credentials"
        assert (await within(client.messages.create(**VERTEX_PARAMS))).text == "first"
        assert (await within(client.messages.create(**VERTEX_PARAMS))).text == "first"
        assert len(creds.refresh_threads) == 1  # a valid token is reused, not refreshed per request
        creds.expiry = _utcnow() - timedelta(seconds=1)
        state.access_token, state.text = f"{TOKEN}-2", "second"
        assert (await within(client.messages.create(**VERTEX_PARAMS))).text == "second"
        assert len(creds.refresh_threads) == 2
    tokens = [lower(r.headers)["authorization"] for r in state.requests]
    assert tokens == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]


async def test_vertex_401_is_an_authentication_error_and_not_retried() -> None:
    async with (
        MockVertexServer(access_token=TOKEN) as server,
        VertexClient("proj", "us-east5", access_token="revoked-token", base_url=server.url) as client,
    ):
        stream = client.messages.stream(**VERTEX_PARAMS)
        seen, error = await run(stream)
        assert type(error) is AuthenticationError and error.status_code == 401
        assert error.type == "authentication_error" and "invalid authentication credentials" in error.message
        assert type(seen.errors["text"]) is AuthenticationError
        assert len(server.state.requests) == 1


async def test_vertex_429_quota_is_retried_then_typed() -> None:
    quota = [
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded for aiplatform.googleapis.com/online_prediction",
                "status": "RESOURCE_EXHAUSTED",
            }
        }
    ]
    state = VertexMockState(access_token=TOKEN, text="after the quota", http_errors=[(429, quota)])
    async with (
        MockVertexServer(state) as server,
        VertexClient("proj", "us-east5", access_token=TOKEN, base_url=server.url) as client,
    ):
        client.retry = FAST_RETRY
        stream = client.messages.stream(**VERTEX_PARAMS)
        assert (await within(stream.final_message())).text == "after the quota"
        assert len(state.requests) == 2 and stream.response is not None and stream.response.retries == 1

        state.http_errors = [(429, quota)] * 3
        client.retry = RetryPolicy(max_retries=0)
        _, error = await run(client.messages.stream(**VERTEX_PARAMS))
    assert type(error) is RateLimitError and error.status_code == 429 and error.type == "rate_limit_error"
    assert error.message.startswith("Quota exceeded") and error.retryable
    assert len(state.requests) == 3


@pytest.mark.parametrize(
    ("region", "default_base"),
    [
        ("us-east5", "https://us-east5-aiplatform.googleapis.com/v1"),
        ("europe-west1", "https://europe-west1-aiplatform.googleapis.com/v1"),
        ("global", "https://aiplatform.googleapis.com/v1"),
        ("us", "https://aiplatform.us.rep.googleapis.com/v1"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com/v1"),
    ],
)
async def test_vertex_url_per_region(region: str, default_base: str) -> None:
    assert VertexClient("proj", region, access_token=TOKEN).base_url == default_base
    state = VertexMockState(access_token=TOKEN, project_id="proj", region=region, text=f"hello from {region}")
    async with (
        MockVertexServer(state) as server,
        VertexClient("proj", region, access_token=TOKEN, base_url=server.url) as client,
    ):
        assert (await within(client.messages.create(**VERTEX_PARAMS))).text == f"hello from {region}"
    assert state.requests[0].path == (
        f"/v1/projects/proj/locations/{region}/publishers/anthropic/models/{VERTEX_MODEL}:streamRawPredict"
    )


async def test_vertex_region_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD_ML_REGION", "asia-southeast1")
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "env-proj")
    client = VertexClient(access_token=TOKEN)
    assert (client.project_id, client.region) == ("env-proj", "asia-southeast1")
    assert client.base_url == "https://asia-southeast1-aiplatform.googleapis.com/v1"
    monkeypatch.delenv("CLOUD_ML_REGION")
    with pytest.raises(ValueError, match="region"):
        VertexClient("proj", access_token=TOKEN)


async def test_vertex_body_through_a_plain_client_with_the_provider() -> None:
    async with MockVertexServer(access_token=TOKEN, text="ok") as server:
        provider = VertexProvider("proj", "us-east5", access_token=TOKEN, base_url=server.url)
        async with Client(provider=provider, betas=["context-1m-2025-08-07"]) as client:
            message = await within(client.messages.create(**VERTEX_PARAMS, stream=False, system="Be brief."))
        assert message.text == "ok"
        (request,) = server.state.requests
    assert request.model == VERTEX_MODEL
    assert request.body == {
        "max_tokens": 64,
        "messages": MESSAGES,
        "stream": True,  # forced on whatever the caller passed
        "system": "Be brief.",
        "anthropic_version": "vertex-2023-10-16",
    }
    assert lower(request.headers)["anthropic-beta"] == "context-1m-2025-08-07"


async def test_vertex_operators_work_unchanged() -> None:
    async with (
        MockVertexServer(
            access_token=TOKEN, sse=VERTEX_SSE.read_bytes(), inject_vertex_event=True, chunk_size=5
        ) as server,
        VertexClient("proj", "global", access_token=TOKEN, base_url=server.url) as client,
    ):
        frames = client.messages.frames(**VERTEX_PARAMS)
        events, error = await collect(frames.pipe(ops.parse()))
        assert error is None and sum(isinstance(e, UnknownEvent) for e in events) == 1
        tools, error = await collect(frames.pipe(ops.parse(), ops.tool_input()))
        assert error is None and tools[-1].input == {"name": "Alice", "age": 30, "city": "Paris"}
        server.state.sse, server.state.text = None, "plain text"
        text, error = await collect(frames.pipe(ops.parse(), ops.text()))
        assert error is None and "".join(text) == "plain text"


async def test_vertex_cancel_closes_the_connection() -> None:
    state = VertexMockState(access_token=TOKEN, text="word " * 400, chunk_size=64, delay=0.01)
    async with (
        MockVertexServer(state) as server,
        VertexClient("proj", "global", access_token=TOKEN, base_url=server.url) as client,
    ):
        async with client.messages.stream(**VERTEX_PARAMS) as stream:
            first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            stream.text.subscribe(lambda t: first.done() or first.set_result(t))
            assert await within(first) == "word "
        # leaving ``async with`` cancels
        assert stream.cancelled
        await until(lambda: state.disconnects == 1)
        assert client.transport.open_requests == 0 and state.completed == 0


async def test_vertex_request_cap_is_30_mb() -> None:
    async with VertexClient("proj", "global", access_token=TOKEN) as client:
        over = {**VERTEX_PARAMS, "messages": [{"role": "user", "content": "x" * (31 * 1024 * 1024)}]}
        with pytest.raises(MediaTooLargeError) as info:
            client.messages.frames(**over)
        assert info.value.limit == VERTEX_MAX_REQUEST_BYTES == 30 * 1024 * 1024
        under = {**VERTEX_PARAMS, "messages": [{"role": "user", "content": "x" * (25 * 1024 * 1024)}]}
        client.messages.frames(**under)  # over Bedrock's cap, under Vertex's: accepted (cold, not sent)


async def test_vertex_tokens_stay_out_of_reprs_and_errors() -> None:
    creds = FakeCredentials(token=TOKEN, expiry=_utcnow() + timedelta(hours=1))
    async with (
        MockVertexServer(access_token="another-token") as server,
        VertexClient("proj", "us-east5", credentials=creds, base_url=server.url) as client,
    ):
        _, error = await run(client.messages.stream(**VERTEX_PARAMS))
        shown = [repr(client), repr(client.provider), repr(error), str(error)]
    assert type(error) is AuthenticationError
    for text in shown:
        assert TOKEN not in text
    assert repr(client) == (
        f"VertexClient(project_id='proj', region='us-east5', auth='credentials', base_url='{server.url}')"
    )


# -- client_for and construction ---------------------------------------------------------------


def test_client_for_each_provider() -> None:
    assert PROVIDERS[:3] == ("anthropic", "bedrock", "vertex")  # the platforms follow (tests/test_platforms.py)
    first = client_for("anthropic", base_url="http://127.0.0.1:9", api_key="sk-test", region=None, project_id=None)
    assert type(first) is Client and first.provider.name == "anthropic"
    bedrock = client_for("Bedrock", region="eu-west-3", api_key=API_KEY, project_id=None, max_retries=5)
    assert isinstance(bedrock, BedrockClient) and bedrock.region == "eu-west-3" and bedrock.retry.max_retries == 5
    vertex = client_for(" vertex ", region="us-east5", project_id="proj", access_token=TOKEN, base_url=None)
    assert isinstance(vertex, VertexClient) and (vertex.project_id, vertex.region) == ("proj", "us-east5")
    assert isinstance(bedrock, Client) and isinstance(vertex, Client)


def test_client_for_rejects_unknown_providers_and_misplaced_options() -> None:
    with pytest.raises(ValueError, match="unknown provider 'azure'"):
        client_for("azure")
    with pytest.raises(ValueError, match="project_id does not apply to provider 'bedrock'"):
        client_for("bedrock", project_id="proj", api_key=API_KEY)
    with pytest.raises(ValueError, match="region does not apply to provider 'anthropic'"):
        client_for("anthropic", region="us-east-1")
    with pytest.raises(TypeError, match="default_headers"):
        BedrockClient(api_key=API_KEY, default_headers={"x": "y"})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="provider"):
        client_for("vertex", region="global", access_token=TOKEN, provider=object())


def test_client_options_are_forwarded() -> None:
    client = VertexClient("p", "global", access_token=TOKEN, betas=["b1"], max_retries=0, validate=False)
    assert client.betas == ("b1",) and client.retry.max_retries == 0 and not client.validate
    assert client.messages.stream.__self__ is client.messages  # same Messages API as Client


def test_importing_cloud_needs_neither_botocore_nor_google_auth() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('botocore', 'boto3', 'google'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from rxclaude.cloud import BedrockClient, VertexClient, client_for\n"
        "BedrockClient('us-east-1', api_key='k'); VertexClient('p', 'global', access_token='t')\n"
        "try:\n"
        "    BedrockClient('us-east-1', access_key='a', secret_key='s')\n"
        "except ImportError as e:\n"
        "    print('hint' if \"rxclaude[bedrock]\" in str(e) else e)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'google')))\n"
    )
    env_free = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_free, check=False)
    assert out.stdout.split() == ["hint", "[]"], out.stderr


@pytest.mark.parametrize(
    "where",
    [
        "first",
        "between_deltas",
        "after_message_stop",
    ],
)
async def test_vertex_event_anywhere_passes_through(where: str) -> None:
    """An unknown event is delivered as UnknownEvent and otherwise ignored, wherever it comes."""
    events = text_events("a b c", model="claude-sonnet-4-5-20250929", invocation_metrics=False)
    sse = sse_from_events(events)
    cut = {
        "first": 0,
        "between_deltas": sse.index(b"event: content_block_delta", sse.index(b"text_delta")),
        "after_message_stop": len(sse),
    }[where]
    body = sse[:cut] + VERTEX_EVENT + sse[cut:]
    async with (
        MockVertexServer(access_token=TOKEN, sse=body) as server,
        VertexClient("proj", "global", access_token=TOKEN, base_url=server.url) as client,
    ):
        seen, final = await run(client.messages.stream(**VERTEX_PARAMS))
        piped, error = await collect(client.messages.frames(**VERTEX_PARAMS).pipe(ops.parse(), ops.text()))
    assert error is None and "".join(piped) == "a b c"
    assert isinstance(final, Message), final
    assert final.text == "a b c" and not seen.errors
    if where != "after_message_stop":  # after the end, the events stream has completed
        assert sum(isinstance(e, UnknownEvent) for e in seen.events) == 1


async def test_request_id_of_cloud_responses() -> None:
    state = BedrockMockState(api_key=API_KEY, exception=("throttlingException", "Slow"), exception_after=3)
    async with MockBedrockServer(state) as server, BedrockClient(api_key=API_KEY, base_url=server.url) as client:
        stream = client.messages.stream(**BEDROCK_PARAMS)
        _, error = await run(stream)
    assert isinstance(error, RateLimitError)
    assert stream.request_id is not None and stream.request_id == stream.headers["x-amzn-RequestId"]
    assert error.request_id == stream.request_id


async def test_the_files_api_on_bedrock_is_a_typed_unsupported_feature_error() -> None:
    """Bad input gets a typed error: the Files API exists only on the first-party API."""
    from rxclaude.core.errors import RxClaudeError, UnsupportedFeatureError

    async with BedrockClient(api_key=API_KEY, base_url="http://127.0.0.1:9", region="us-east-1") as client:
        with pytest.raises(UnsupportedFeatureError, match="only on the first-party Anthropic API") as info:
            await client.files.retrieve("file_011CNha8iCJcU1wXNR6q4V8w")
        assert isinstance(info.value, RxClaudeError) and isinstance(info.value, NotImplementedError)
