"""A local mock of Bedrock's ``invoke-with-response-stream`` (aiohttp, 127.0.0.1 only).

Strategy: one handler, configured by a mutable :class:`BedrockMockState` that tests edit
between requests.  It checks what real Bedrock checks first (a well-formed SigV4
``Authorization`` for service ``bedrock``, or a Bearer API key; optionally the signature
itself; the body's ``anthropic_version`` and the absence of ``model``/``stream``) and answers
errors the way Bedrock does (``x-amzn-ErrorType`` header + ``{"message": ...}``).  Success
streams real eventstream frames, CRCs included, built by
:mod:`rxclaude.transport.providers.eventstream`: from Anthropic events, from a recorded
``.eventstream`` body, or synthesized from text, optionally cut by an exception frame.

Example::

    async with MockBedrockServer(text="Hello!") as server:
        provider = BedrockProvider("us-east-1", access_key="AKID", secret_key="s", base_url=server.url)
        request = await provider.build_request(params)  # then POST it with any HTTP client
"""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from rxclaude.testing.local import LocalServer
from rxclaude.transport.providers.eventstream import chunk_frame, exception_frame, split_frames

__all__ = [
    "BedrockMockState",
    "MockBedrockServer",
    "PlatformRequest",
    "add_bedrock_routes",
    "text_events",
]

BEDROCK_VERSION = "bedrock-2023-05-31"
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/bedrock/aws4_request,"
    r" ?SignedHeaders=(?P<signed>[a-z0-9-]+(?:;[a-z0-9-]+)*),"
    r" ?Signature=(?P<signature>[0-9a-f]{64})"
)


@dataclass(slots=True)
class PlatformRequest:
    """One request the mock received (headers may hold test credentials)."""

    method: str
    path: str
    raw_path: str
    headers: dict[str, str]
    body: Any
    model: str | None = None


@dataclass(slots=True)
class BedrockMockState:
    """What the mock Bedrock endpoint answers, and what it saw.

    Attributes:
        events: Anthropic events (dicts or JSON bytes) sent as ``chunk`` frames.
        eventstream: a raw recorded eventstream body, replayed frame by frame (wins over
            ``events``).
        text: synthesize a whole message with this text (used when neither is set).
        exception: ``(exceptionType, message)``: send this exception frame after
            ``exception_after`` frames, then end the body.
        exception_fields: extra JSON fields of the exception payload (``originalStatusCode``).
        http_errors: a queue of ``(status, ExceptionName, message)``; each request pops one
            and answers it as a Bedrock HTTP error instead of streaming.
        api_key: the Bearer token to accept (``None``: any non-empty Bearer token).
        credentials: ``(access_key, secret_key)``: also verify the SigV4 signature.
        region: the region the credential scope must name (``None``: any).
        chunk_size: write the body in pieces of this many bytes (``None``: one per frame).
        delay: seconds to sleep between writes.
        requests: every request received, in order.
        completed: streamed bodies written to the end.
        disconnects: streamed bodies cut short because the client closed the connection
            (how tests see that cancelling a stream really hung up).

    Example:
        >>> BedrockMockState(text="hi", exception=("throttlingException", "Slow"), exception_after=2).text
        'hi'
    """

    events: Sequence[Mapping[str, Any] | bytes] | None = None
    eventstream: bytes | None = None
    text: str | None = None
    exception: tuple[str, str] | None = None
    exception_after: int = 0
    exception_fields: dict[str, Any] = field(default_factory=dict)
    http_errors: list[tuple[int, str, str]] = field(default_factory=list)
    api_key: str | None = None
    credentials: tuple[str, str] | None = None
    region: str | None = None
    chunk_size: int | None = None
    delay: float = 0.0
    requests: list[PlatformRequest] = field(default_factory=list)
    completed: int = 0
    disconnects: int = 0


def text_events(
    text: str,
    *,
    model: str = "claude-haiku-4-5-20251001",
    message_id: str = "msg_bdrk_mock0000000000000000",
    input_tokens: int = 10,
    invocation_metrics: bool = True,
) -> list[dict[str, Any]]:
    """A whole Anthropic event sequence answering ``text`` (one ``text_delta`` per word).

    Example:
        >>> [e["type"] for e in text_events("a b")][:3]
        ['message_start', 'content_block_start', 'content_block_delta']
    """
    words = re.findall(r"\S+\s*|\s+", text) or [""]
    output_tokens = max(1, len(words))
    usage = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "model": model,
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for word in words:
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        }
    )
    stop: dict[str, Any] = {"type": "message_stop"}
    if invocation_metrics:
        stop["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": input_tokens,
            "outputTokenCount": output_tokens,
            "invocationLatency": 120,
            "firstByteLatency": 40,
        }
    events.append(stop)
    return events


def add_bedrock_routes(app: web.Application, state: BedrockMockState) -> None:
    """Serve ``POST /model/{modelId}/invoke-with-response-stream`` from ``state`` on ``app``.

    Example::

        app = web.Application()
        add_bedrock_routes(app, BedrockMockState(text="Hi"))
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _handle(request, state)

    app.router.add_post(r"/model/{model_id:.+}/invoke-with-response-stream", handle)


class MockBedrockServer(LocalServer):
    """A mock Bedrock runtime on ``127.0.0.1`` (random port) as an async context manager.

    Pass a :class:`BedrockMockState` or its fields as keywords; ``url`` is the base URL to
    give ``BedrockProvider(base_url=...)``.

    Example::

        async with MockBedrockServer(text="Hi", api_key="k") as server:
            provider = BedrockProvider("us-east-1", api_key="k", base_url=server.url)
    """

    def __init__(self, state: BedrockMockState | None = None, **fields: Any) -> None:
        if state is not None and fields:
            raise TypeError("pass a BedrockMockState or its fields, not both")
        super().__init__()
        self.state = state if state is not None else BedrockMockState(**fields)

    def make_app(self) -> web.Application:
        app = web.Application()
        add_bedrock_routes(app, self.state)
        return app


def _error(status: int, name: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": f"{name}:{_ERROR_NAMESPACE}", "x-amzn-RequestId": str(uuid.uuid4())},
    )


async def _handle(request: web.Request, state: BedrockMockState) -> web.StreamResponse:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    state.requests.append(
        PlatformRequest(
            request.method,
            request.path,
            request.raw_path,
            dict(request.headers),
            body,
            request.match_info.get("model_id"),
        )
    )
    denied = _check_auth(request, raw, state)
    if denied is not None:
        return denied
    invalid = _check_body(body)
    if invalid is not None:
        return _error(400, "ValidationException", invalid)
    if state.http_errors:
        status, name, message = state.http_errors.pop(0)
        return _error(status, name, message)
    return await _stream(request, state)


def _check_auth(request: web.Request, raw: bytes, state: BedrockMockState) -> web.Response | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth[len("Bearer ") :]
        if not token or (state.api_key is not None and not hmac.compare_digest(token, state.api_key)):
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        return None
    if not auth:
        return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _SIGV4.fullmatch(auth)
    if match is None:
        return _error(403, "IncompleteSignatureException", "Authorization header is not a SigV4 bedrock signature.")
    signed = match["signed"].split(";")
    amz_date = request.headers.get("X-Amz-Date", "")
    problem = None
    if "host" not in signed or "x-amz-date" not in signed:
        problem = "SignedHeaders must include host and x-amz-date."
    elif not re.fullmatch(r"\d{8}T\d{6}Z", amz_date) or amz_date[:8] != match["date"]:
        problem = "X-Amz-Date is missing or does not match the credential scope date."
    elif "X-Amz-Security-Token" in request.headers and "x-amz-security-token" not in signed:
        problem = "X-Amz-Security-Token must be signed."
    elif state.region is not None and match["region"] != state.region:
        problem = f"Credential should be scoped to a valid region, not '{match['region']}'."
    if problem is not None:
        return _error(403, "IncompleteSignatureException", problem)
    if state.credentials is not None:
        access_key, secret_key = state.credentials
        if match["key"] != access_key:
            return _error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        expected = _expected_signature(request, raw, signed, amz_date, match["region"], access_key, secret_key)
        if expected is None or not hmac.compare_digest(expected, match["signature"]):
            return _error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
    return None


def _expected_signature(
    request: web.Request,
    raw: bytes,
    signed: list[str],
    amz_date: str,
    region: str,
    access_key: str,
    secret_key: str,
) -> str | None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers: dict[str, str] = {}
    for name in signed:
        values = request.headers.getall(name, [])
        if not values:
            return None
        headers[name] = ",".join(values)
    aws = AWSRequest(method=request.method, url=f"http://{request.host}{request.raw_path}", data=raw, headers=headers)
    aws.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key), "bedrock", region)
    string_to_sign = signer.string_to_sign(aws, signer.canonical_request(aws))
    return str(signer.signature(string_to_sign, aws))


def _check_body(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Malformed input request: the body must be a JSON object."
    if "model" in body or "stream" in body:
        extra = [k for k in ("model", "stream") if k in body]
        return f"Malformed input request: extraneous key [{', '.join(extra)}] is not permitted, please reformat."
    if body.get("anthropic_version") != BEDROCK_VERSION:
        return f"Malformed input request: anthropic_version must be {BEDROCK_VERSION!r}."
    if not isinstance(body.get("messages"), list):
        return "Malformed input request: required key [messages] not found."
    return None


def _frames(state: BedrockMockState) -> list[bytes]:
    if state.eventstream is not None:
        frames = split_frames(state.eventstream)
    else:
        events = state.events if state.events is not None else text_events(state.text or "Hello from mock Bedrock!")
        frames = [chunk_frame(e if isinstance(e, bytes) else orjson.dumps(e)) for e in events]
    if state.exception is not None:
        name, message = state.exception
        frames = [*frames[: state.exception_after], exception_frame(name, message, **state.exception_fields)]
    return frames


async def _stream(request: web.Request, state: BedrockMockState) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "application/vnd.amazon.eventstream",
            "x-amzn-RequestId": str(uuid.uuid4()),
            "X-Amzn-Bedrock-Content-Type": "application/json",
        },
    )
    await response.prepare(request)
    frames = _frames(state)
    if state.chunk_size is None:
        pieces = frames
    else:
        data = b"".join(frames)
        size = max(1, state.chunk_size)
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
    try:
        for i, piece in enumerate(pieces):
            if i and state.delay:
                await asyncio.sleep(state.delay)
            await response.write(piece)
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        state.disconnects += 1  # the client hung up mid-body
        raise
    state.completed += 1
    return response
