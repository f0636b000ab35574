"""Vertex AI: URLs, body, token refresh, error typing, and the mock server end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import google.auth
import pytest
import yarl
from google.auth import credentials as google_credentials

from rxclaude.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    GatewayTimeoutError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RxClaudeError,
    ServerError,
    ServiceUnavailableError,
)
from rxclaude.core.frame import Frame
from rxclaude.testing.vertex import VERTEX_EVENT, MockVertexServer, VertexMockState, sse_from_events
from rxclaude.transport.providers.base import HTTPRequest
from rxclaude.transport.providers.vertex import VertexProvider, vertex_base_url

FIXTURE = Path(__file__).parent / "fixtures" / "vertex-forced-tool-claude37.sse"
TOKEN = "ya29.test-access-token-EXAMPLE"
MODEL = "claude-3-7-sonnet@20250219"
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Make a person"}],
}
EXPECTED = {
    "id": "msg_vrtx_016LVviTuDTey6wqvCXkQyRQ",
    "model": "claude-3-7-sonnet-20250219",
    "stop_reason": "tool_use",
    "input_tokens": 453,
    "output_tokens": 67,
    "text": "",
    "tools": [("Person", {"name": "Alice", "age": 30, "city": "Paris"})],
}


@pytest.fixture(autouse=True)
def _isolated_google(monkeypatch: pytest.MonkeyPatch) -> None:
    """No environment or Application Default Credentials lookups reach the real world."""
    for name in ("CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "ANTHROPIC_VERTEX_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def no_adc(**kwargs: Any) -> Any:
        raise google.auth.exceptions.DefaultCredentialsError("no ADC in tests")

    monkeypatch.setattr(google.auth, "default", no_adc)


class FakeCredentials(google_credentials.Credentials):
    """google-auth credentials whose refresh mints numbered tokens, without any network."""

    def __init__(self, *, token: str | None = None, expiry: datetime | None = None, fail: bool = False) -> None:
        super().__init__()
        self.token = token
        self.expiry = expiry
        self.fail = fail
        self.refreshes: list[threading.Thread] = []
        self.requests: list[Any] = []

    def refresh(self, request: Any) -> None:
        self.refreshes.append(threading.current_thread())
        self.requests.append(request)
        if self.fail:
            raise google.auth.exceptions.RefreshError(f"refresh failed for {self.token}")
        self.token = f"{TOKEN}-{len(self.refreshes)}"
        self.expiry = _utcnow() + timedelta(hours=1)


def _utcnow() -> datetime:
    from google.auth import _helpers

    now: datetime = _helpers.utcnow()
    return now


def summarize(frames: Sequence[Frame]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": ""}
    usage: dict[str, Any] = {}
    tools: dict[int, list[str]] = {}
    for frame in frames:
        event = json.loads(frame.data)
        kind = event["type"]
        if kind == "message_start":
            out["id"], out["model"] = event["message"]["id"], event["message"]["model"]
            usage.update(event["message"]["usage"])
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            tools[event["index"]] = [event["content_block"]["name"], ""]
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                out["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                tools[event["index"]][1] += delta["partial_json"]
        elif kind == "message_delta":
            out["stop_reason"] = event["delta"]["stop_reason"]
            usage.update(event["usage"])
    out["tools"] = [(name, json.loads(raw)) for name, raw in (tools[k] for k in sorted(tools))]
    out["input_tokens"], out["output_tokens"] = usage.get("input_tokens"), usage.get("output_tokens")
    return out


def lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# -- URL and body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "base"),
    [
        ("global", "https://aiplatform.googleapis.com/v1"),
        ("us", "https://aiplatform.us.rep.googleapis.com/v1"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com/v1"),
        ("us-east5", "https://us-east5-aiplatform.googleapis.com/v1"),
        ("europe-west1", "https://europe-west1-aiplatform.googleapis.com/v1"),
    ],
)
def test_url_for_each_region_kind(region: str, base: str) -> None:
    assert vertex_base_url(region) == base
    p = VertexProvider("my-proj", region, access_token=TOKEN)
    assert p.url_for(MODEL) == (
        f"{base}/projects/my-proj/locations/{region}/publishers/anthropic/models/{MODEL}:streamRawPredict"
    )


def test_env_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD_ML_REGION", "us-east5")
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "env-proj")
    monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", "https://proxy.example/v1/")
    p = VertexProvider(access_token=TOKEN)
    assert (p.region, p.project_id, p.base_url) == ("us-east5", "env-proj", "https://proxy.example/v1")
    assert p.url_for("m").startswith("https://proxy.example/v1/projects/env-proj/locations/us-east5/")
    q = VertexProvider("arg-proj", "global", access_token=TOKEN, base_url="http://127.0.0.1:1/v1")
    assert (q.project_id, q.region, q.base_url) == ("arg-proj", "global", "http://127.0.0.1:1/v1")


def test_missing_region_and_project() -> None:
    with pytest.raises(ValueError, match="CLOUD_ML_REGION"):
        VertexProvider("p", access_token=TOKEN)
    with pytest.raises(ValueError, match="ANTHROPIC_VERTEX_PROJECT_ID"):
        VertexProvider(region="global", access_token=TOKEN).url_for(MODEL)
    with pytest.raises(ValueError):
        VertexProvider("p", "global", access_token=TOKEN, credentials=FakeCredentials())


def test_url_quotes_odd_characters_but_keeps_at() -> None:
    p = VertexProvider("p", "global", access_token=TOKEN)
    assert p.url_for("claude x/y@1").endswith("/models/claude%20x%2Fy@1:streamRawPredict")


def test_body_transform() -> None:
    p = VertexProvider("p", "us-east5", access_token=TOKEN)
    params = {**PARAMS, "stream": False}
    body = p.body_for(params)
    assert "model" not in body and body["stream"] is True
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert body["messages"] == PARAMS["messages"] and body["max_tokens"] == 64
    assert params["model"] == MODEL and params["stream"] is False  # not mutated
    assert (
        VertexProvider("p", "us", access_token=TOKEN, anthropic_version="x").body_for(PARAMS)["anthropic_version"]
        == "x"
    )


async def test_build_request_with_access_token_and_betas() -> None:
    p = VertexProvider("p", "us-east5", access_token=TOKEN)
    request = await p.build_request(PARAMS, betas=["context-1m-2025-08-07", "token-efficient-tools-2025-02-19"])
    headers = lower(request.headers)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["anthropic-beta"] == "context-1m-2025-08-07,token-efficient-tools-2025-02-19"
    assert headers["content-type"] == "application/json"
    assert request.method == "POST" and request.url == p.url_for(MODEL)
    body = json.loads(request.body)
    assert body["stream"] is True and "model" not in body and "anthropic_beta" not in body
    assert "anthropic-beta" not in lower((await p.build_request(PARAMS)).headers)
    with pytest.raises(ValueError):
        await p.build_request(PARAMS, path="/v1/messages/count_tokens")
    with pytest.raises(ValueError):
        await p.build_request({"max_tokens": 1})


async def test_tokens_never_appear_in_reprs() -> None:
    creds = FakeCredentials()
    for p in (
        VertexProvider("p", "global", access_token=TOKEN),
        VertexProvider("p", "global", credentials=creds),
    ):
        request = await p.build_request(PARAMS)
        token = lower(request.headers)["authorization"].removeprefix("Bearer ")
        for text in (repr(p), str(p), repr(request), str(request)):
            assert token not in text
    assert repr(VertexProvider("p", "eu", access_token=TOKEN)) == (
        "VertexProvider(project_id='p', region='eu', auth='access_token', "
        "base_url='https://aiplatform.eu.rep.googleapis.com/v1')"
    )


# -- token refresh -----------------------------------------------------------------------------


async def test_empty_token_is_refreshed_off_the_loop_thread() -> None:
    creds = FakeCredentials()
    p = VertexProvider("p", "global", credentials=creds)
    request = await p.build_request(PARAMS)
    assert lower(request.headers)["authorization"] == f"Bearer {TOKEN}-1"
    assert len(creds.refreshes) == 1 and creds.refreshes[0] is not threading.current_thread()
    assert creds.requests[0] is not None  # a google-auth transport request was passed
    await p.build_request(PARAMS)
    assert len(creds.refreshes) == 1  # still valid: not refreshed again


async def test_expired_token_is_refreshed_valid_token_is_not() -> None:
    valid = FakeCredentials(token="still-good", expiry=_utcnow() + timedelta(hours=1))
    request = await VertexProvider("p", "global", credentials=valid).build_request(PARAMS)
    assert lower(request.headers)["authorization"] == "Bearer still-good" and not valid.refreshes
    expired = FakeCredentials(token="stale", expiry=_utcnow() - timedelta(minutes=1))
    request = await VertexProvider("p", "global", credentials=expired).build_request(PARAMS)
    assert lower(request.headers)["authorization"] == f"Bearer {TOKEN}-1" and len(expired.refreshes) == 1
    soon = FakeCredentials(token="nearly", expiry=_utcnow() + timedelta(seconds=30))  # inside the skew
    await VertexProvider("p", "global", credentials=soon).build_request(PARAMS)
    assert len(soon.refreshes) == 1


async def test_concurrent_requests_refresh_once() -> None:
    creds = FakeCredentials()
    p = VertexProvider("p", "global", credentials=creds)
    requests = await asyncio.gather(*(p.build_request(PARAMS) for _ in range(8)))
    assert len(creds.refreshes) == 1
    assert {lower(r.headers)["authorization"] for r in requests} == {f"Bearer {TOKEN}-1"}


async def test_quota_project_header() -> None:
    creds = FakeCredentials(token="t", expiry=_utcnow() + timedelta(hours=1))
    creds._quota_project_id = "billing-proj"
    request = await VertexProvider("p", "global", credentials=creds).build_request(PARAMS)
    assert lower(request.headers)["x-goog-user-project"] == "billing-proj"


async def test_refresh_failure_is_wrapped_without_the_token() -> None:
    creds = FakeCredentials(token="secret-stale-token", expiry=_utcnow() - timedelta(hours=1), fail=True)
    with pytest.raises(RxClaudeError) as info:
        await VertexProvider("p", "global", credentials=creds).build_request(PARAMS)
    assert "secret-stale-token" not in str(info.value) and "RefreshError" in str(info.value)


async def test_application_default_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = FakeCredentials()
    seen: dict[str, Any] = {}

    def fake_default(**kwargs: Any) -> tuple[Any, str]:
        seen.update(kwargs)
        return creds, "adc-project"

    monkeypatch.setattr(google.auth, "default", fake_default)
    p = VertexProvider(region="us-east5")
    assert p.auth == "default"
    request = await p.build_request(PARAMS)
    assert seen["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert "/projects/adc-project/locations/us-east5/" in request.url
    assert lower(request.headers)["authorization"] == f"Bearer {TOKEN}-1"
    explicit = VertexProvider("mine", "us-east5")
    assert "/projects/mine/" in (await explicit.build_request(PARAMS)).url


async def test_no_application_default_credentials() -> None:
    with pytest.raises(RxClaudeError, match="no Google credentials found"):
        await VertexProvider("p", "global").build_request(PARAMS)


def test_missing_google_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    p = VertexProvider("p", "global")
    with pytest.raises(ImportError, match=r"rxclaude\[vertex\]"):
        asyncio.run(p.build_request(PARAMS))


def test_import_does_not_need_google_auth() -> None:
    code = (
        "import sys; sys.modules['google.auth'] = None; sys.modules['google'] = None\n"
        "import rxclaude.transport.providers.vertex as v, rxclaude.testing.vertex\n"
        "print(v.VertexProvider('p', 'global', access_token='t').url_for('m'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().endswith("/models/m:streamRawPredict")


# -- errors ------------------------------------------------------------------------------------


def _google(code: int, status: str, message: str = "boom") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


@pytest.mark.parametrize(
    ("status", "body", "cls", "error_type"),
    [
        (429, _google(429, "RESOURCE_EXHAUSTED"), RateLimitError, "rate_limit_error"),
        (429, [_google(429, "RESOURCE_EXHAUSTED")], RateLimitError, "rate_limit_error"),
        (400, _google(400, "INVALID_ARGUMENT"), BadRequestError, "invalid_request_error"),
        (400, _google(400, "FAILED_PRECONDITION"), BadRequestError, "invalid_request_error"),
        (401, _google(401, "UNAUTHENTICATED"), AuthenticationError, "authentication_error"),
        (403, [_google(403, "PERMISSION_DENIED")], PermissionDeniedError, "permission_error"),
        (404, _google(404, "NOT_FOUND"), NotFoundError, "not_found_error"),
        (500, _google(500, "INTERNAL"), InternalServerError, "api_error"),
        (503, _google(503, "UNAVAILABLE"), ServiceUnavailableError, "service_unavailable_error"),
        (504, _google(504, "DEADLINE_EXCEEDED"), GatewayTimeoutError, "timeout_error"),
        (499, _google(499, "CANCELLED"), APIError, "CANCELLED"),
        (
            400,
            {"type": "error", "error": {"type": "invalid_request_error", "message": "boom"}},
            BadRequestError,
            "invalid_request_error",
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "boom"}},
            OverloadedError,
            "overloaded_error",
        ),
        (
            429,
            [{"type": "error", "error": {"type": "rate_limit_error", "message": "boom"}}],
            RateLimitError,
            "rate_limit_error",
        ),
    ],
)
def test_error_mapping(status: int, body: Any, cls: type[APIError], error_type: str) -> None:
    p = VertexProvider("p", "global", access_token=TOKEN)
    error = p.error_from_response(status, {"x-request-id": "rid"}, json.dumps(body).encode())
    assert type(error) is cls
    assert error.type == error_type and error.message == "boom" and error.status_code == status
    assert error.retryable == (status in (408, 409, 429) or status >= 500)


def test_error_mapping_odd_bodies() -> None:
    p = VertexProvider("p", "global", access_token=TOKEN)
    e = p.error_from_response(404, {}, b"<!DOCTYPE html><title>Error 404 (Not Found)</title>")
    assert type(e) is NotFoundError and "Not Found" in e.message and e.type is None
    e = p.error_from_response(502, {}, b"")
    assert type(e) is ServerError and e.message == "HTTP 502" and e.retryable
    e = p.error_from_response(400, {}, b"[]")
    assert type(e) is BadRequestError and e.message == "HTTP 400"
    e = p.error_from_response(400, {"request-id": "req_1"}, b'{"type":"error","error":{"type":"x","message":"m"}}')
    assert e.request_id == "req_1"


# -- decoding ----------------------------------------------------------------------------------


def decode(data: bytes, size: int) -> list[Frame]:
    decoder = VertexProvider("p", "global", access_token=TOKEN).new_decoder()
    frames: list[Frame] = []
    for i in range(0, len(data), size):
        frames += decoder.feed(data[i : i + size])
    return frames + decoder.close()


def test_decoder_is_the_shared_sse_decoder_and_passes_unknown_events() -> None:
    pytest.importorskip("rxclaude.core.sse")
    data = FIXTURE.read_bytes()
    end = data.index(b"\n\n") + 2
    with_unknown = data[:end] + VERTEX_EVENT + data[end:]
    for size in (1, 7, len(with_unknown)):
        frames = decode(with_unknown, size)
        unknown = [f for f in frames if f.event == "vertex_event"]
        assert unknown == [Frame("vertex_event", '{"type":"vertex_event","detail":"mock"}')]
        known = [f for f in frames if f.event not in ("vertex_event", "ping")]
        assert summarize(known) == EXPECTED
    assert frames[0].event == "message_start" and frames[2].event == "ping"  # ping before the first block


def test_sse_from_events() -> None:
    body = sse_from_events([{"type": "message_stop"}, b'{"type": "ping"}'])
    assert body == b'event: message_stop\ndata: {"type":"message_stop"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'


# -- end to end against the mock server --------------------------------------------------------


async def post(request: HTTPRequest, *, chunk: int = 5) -> tuple[int, Any, bytes, list[Frame]]:
    async with aiohttp.ClientSession() as session:
        url = yarl.URL(request.url, encoded=True)
        async with session.post(url, headers=dict(request.headers), data=request.body) as response:
            if response.status != 200:
                return response.status, response.headers, await response.read(), []
            assert response.headers["Content-Type"].startswith("text/event-stream")
            decoder = VertexProvider("p", "global", access_token=TOKEN).new_decoder()
            frames: list[Frame] = []
            async for piece in response.content.iter_chunked(chunk):
                frames += decoder.feed(piece)
            return 200, response.headers, b"", frames + decoder.close()


async def test_e2e_recorded_stream_with_a_vertex_only_event() -> None:
    pytest.importorskip("rxclaude.core.sse")
    state = VertexMockState(
        access_token=TOKEN,
        project_id="proj",
        region="us-east5",
        sse=FIXTURE.read_bytes(),
        inject_vertex_event=True,
        chunk_size=11,
    )
    async with MockVertexServer(state) as server:
        p = VertexProvider("proj", "us-east5", access_token=TOKEN, base_url=server.url)
        status, _, _, frames = await post(await p.build_request(PARAMS, betas=["b1"]))
    assert status == 200
    assert [f.event for f in frames][:2] == ["message_start", "vertex_event"]
    assert frames[1].data == '{"type":"vertex_event","detail":"mock"}'
    assert summarize([f for f in frames if f.event not in ("vertex_event", "ping")]) == EXPECTED
    (seen,) = state.requests
    assert seen.model == MODEL and seen.path.endswith(f"/models/{MODEL}:streamRawPredict")
    assert seen.body["stream"] is True and "model" not in seen.body
    assert seen.body["anthropic_version"] == "vertex-2023-10-16" and seen.headers["anthropic-beta"] == "b1"


async def test_e2e_refreshing_credentials_and_synthesized_text() -> None:
    pytest.importorskip("rxclaude.core.sse")
    creds = FakeCredentials()
    async with MockVertexServer(access_token=f"{TOKEN}-1", text="Bonjour tout le monde") as server:
        p = VertexProvider("proj", "global", credentials=creds, base_url=server.url)
        status, _, _, frames = await post(await p.build_request(PARAMS), chunk=1)
    assert status == 200 and summarize(frames)["text"] == "Bonjour tout le monde"
    assert frames[0].data.startswith('{"type":"message_start"') and "msg_vrtx_" in frames[0].data


async def test_e2e_wrong_token_project_and_location() -> None:
    async with MockVertexServer(access_token=TOKEN, project_id="proj", region="us-east5") as server:
        bad_token = VertexProvider("proj", "us-east5", access_token="nope", base_url=server.url)
        status, headers, body, _ = await post(await bad_token.build_request(PARAMS))
        error = bad_token.error_from_response(status, headers, body)
        assert type(error) is AuthenticationError and error.type == "authentication_error"
        bad_project = VertexProvider("other", "us-east5", access_token=TOKEN, base_url=server.url)
        status, headers, body, _ = await post(await bad_project.build_request(PARAMS))
        assert type(bad_project.error_from_response(status, headers, body)) is PermissionDeniedError
        bad_region = VertexProvider("proj", "europe-west4", access_token=TOKEN, base_url=server.url)
        status, headers, body, _ = await post(await bad_region.build_request(PARAMS))
        assert type(bad_region.error_from_response(status, headers, body)) is NotFoundError


async def test_e2e_url_shape_and_body_are_checked() -> None:
    async with MockVertexServer(access_token=TOKEN) as server:
        p = VertexProvider("proj", "global", access_token=TOKEN, base_url=server.url)
        good = await p.build_request(PARAMS)
        wrong_method = HTTPRequest(
            "POST", good.url.replace(":streamRawPredict", ":streamGenerateContent"), good.headers, good.body
        )
        status, headers, body, _ = await post(wrong_method)
        assert type(p.error_from_response(status, headers, body)) is NotFoundError
        for forged in (
            {**PARAMS, "stream": True, "anthropic_version": "vertex-2023-10-16"},
            {"messages": [], "stream": True},
            {"messages": [], "anthropic_version": "vertex-2023-10-16"},
        ):
            status, headers, body, _ = await post(
                HTTPRequest("POST", good.url, good.headers, json.dumps(forged).encode())
            )
            error = p.error_from_response(status, headers, body)
            assert type(error) is BadRequestError and error.type == "invalid_request_error"


async def test_e2e_http_error_queue_then_success() -> None:
    pytest.importorskip("rxclaude.core.sse")
    state = VertexMockState(
        access_token=TOKEN,
        http_errors=[
            (429, [_google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com")]),
            (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ],
    )
    async with MockVertexServer(state) as server:
        p = VertexProvider("proj", "global", access_token=TOKEN, base_url=server.url)
        status, headers, body, _ = await post(await p.build_request(PARAMS))
        error = p.error_from_response(status, headers, body)
        assert type(error) is RateLimitError and error.retryable and error.message.startswith("Quota exceeded")
        status, headers, body, _ = await post(await p.build_request(PARAMS))
        assert type(p.error_from_response(status, headers, body)) is OverloadedError
        status, _, _, frames = await post(await p.build_request(PARAMS))
        assert status == 200 and frames[-1].event == "message_stop"
