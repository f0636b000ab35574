"""A local mock of Claude on Vertex AI's ``:streamRawPredict`` (aiohttp, 127.0.0.1 only).

Strategy: like the Bedrock mock, one handler reads a mutable :class:`VertexMockState`.  It
checks the URL shape (``/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:
streamRawPredict``), the ``Authorization: Bearer`` token and the body (no ``model``,
``stream: true``, ``anthropic_version: vertex-2023-10-16``).  Google-side failures (URL,
auth) answer Google-shaped errors (``{"error": {"code", "message", "status"}}``), body
failures answer Anthropic-shaped ones, as Vertex does.  Success streams SSE bytes: a
recorded ``.sse`` body, given events, or synthesized text, optionally with an unknown
``vertex_event`` injected after the first event.

Example::

    async with MockVertexServer(access_token="t", text="Hello!") as server:
        provider = VertexProvider("proj", "us-east5", access_token="t", base_url=server.url)
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from rxclaude.testing.bedrock import PlatformRequest, text_events
from rxclaude.testing.local import LocalServer

__all__ = [
    "MockVertexServer",
    "VERTEX_EVENT",
    "VertexMockState",
    "add_vertex_routes",
    "sse_from_events",
]

VERTEX_VERSION = "vertex-2023-10-16"
VERTEX_EVENT = b'event: vertex_event\ndata: {"type":"vertex_event","detail":"mock"}\n\n'
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


@dataclass(slots=True)
class VertexMockState:
    """What the mock Vertex endpoint answers, and what it saw.

    Attributes:
        access_token: the Bearer token to accept.
        project_id: the project the URL must name (``None``: any).
        region: the location the URL must name (``None``: any).
        sse: a raw SSE body to replay (wins over ``events`` and ``text``).
        events: Anthropic events (dicts or JSON bytes) to send as SSE.
        text: synthesize a whole message with this text (used when neither is set).
        inject_vertex_event: insert an unknown ``vertex_event`` after the first event.
        http_errors: a queue of ``(status, body)``; each request pops one and answers it
            (``body`` is JSON-encoded unless it is ``bytes``).
        chunk_size: write the body in pieces of this many bytes (``None``: one write).
        delay: seconds to sleep between writes.
        requests: every request received, in order.
        completed: streamed bodies written to the end.
        disconnects: streamed bodies cut short because the client closed the connection.

    Example:
        >>> VertexMockState(access_token="t", text="hi").inject_vertex_event
        False
    """

    access_token: str = "test-token"
    project_id: str | None = None
    region: str | None = None
    sse: bytes | None = None
    events: Sequence[Mapping[str, Any] | bytes] | None = None
    text: str | None = None
    inject_vertex_event: bool = False
    http_errors: list[tuple[int, Any]] = field(default_factory=list)
    chunk_size: int | None = None
    delay: float = 0.0
    requests: list[PlatformRequest] = field(default_factory=list)
    completed: int = 0
    disconnects: int = 0


def sse_from_events(events: Sequence[Mapping[str, Any] | bytes]) -> bytes:
    """Encode Anthropic events as first-party SSE (``event: <type>`` / ``data: <json>``).

    Example:
        >>> sse_from_events([{"type": "ping"}])
        b'event: ping\\ndata: {"type":"ping"}\\n\\n'
    """
    out = []
    for event in events:
        data = event if isinstance(event, bytes) else orjson.dumps(event)
        name = orjson.loads(data)["type"]
        out.append(b"event: " + name.encode() + b"\ndata: " + data + b"\n\n")
    return b"".join(out)


def add_vertex_routes(app: web.Application, state: VertexMockState, *, prefix: str = "/v1") -> None:
    """Serve ``POST {prefix}/projects/.../models/{model}:streamRawPredict`` from ``state``.

    Example::

        app = web.Application()
        add_vertex_routes(app, VertexMockState(access_token="t"))
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _handle(request, state)

    app.router.add_post(
        prefix + "/projects/{project}/locations/{location}/publishers/{publisher}/models/{model_method}",
        handle,
    )


class MockVertexServer(LocalServer):
    """A mock Vertex AI endpoint on ``127.0.0.1`` (random port) as an async context manager.

    ``url`` ends in ``/v1`` like the real bases: give it to ``VertexProvider(base_url=...)``.

    Example::

        async with MockVertexServer(access_token="t", inject_vertex_event=True) as server:
            provider = VertexProvider("p", "global", access_token="t", base_url=server.url)
    """

    url_suffix = "/v1"

    def __init__(self, state: VertexMockState | None = None, **fields: Any) -> None:
        if state is not None and fields:
            raise TypeError("pass a VertexMockState or its fields, not both")
        super().__init__()
        self.state = state if state is not None else VertexMockState(**fields)

    def make_app(self) -> web.Application:
        app = web.Application()
        add_vertex_routes(app, self.state)
        return app


def _google_error(status: int, message: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _anthropic_error(status: int, error_type: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def _handle(request: web.Request, state: VertexMockState) -> web.StreamResponse:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    info = request.match_info
    model, _, method = info["model_method"].rpartition(":")
    state.requests.append(
        PlatformRequest(request.method, request.path, request.raw_path, dict(request.headers), body, model)
    )
    if info["publisher"] != "anthropic" or method != "streamRawPredict" or not model:
        return _google_error(404, f"The requested URL {request.path} was not found on this server.")
    if state.project_id is not None and info["project"] != state.project_id:
        return _google_error(403, f"Permission denied on resource project {info['project']}.")
    if state.region is not None and info["location"] != state.region:
        return _google_error(404, f"Location {info['location']} is not supported for this model.")
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not hmac.compare_digest(auth[len("Bearer ") :], state.access_token):
        return _google_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )
    invalid = _check_body(body)
    if invalid is not None:
        return _anthropic_error(400, "invalid_request_error", invalid)
    if state.http_errors:
        status, error_body = state.http_errors.pop(0)
        data = error_body if isinstance(error_body, bytes) else orjson.dumps(error_body)
        return web.Response(status=status, body=data, content_type="application/json")
    return await _stream(request, state)


def _check_body(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if "model" in body:
        return "model: Extra inputs are not permitted (the model goes in the URL)"
    if body.get("stream") is not True:
        return "stream: streamRawPredict needs stream: true"
    if body.get("anthropic_version") != VERTEX_VERSION:
        return f"anthropic_version: must be {VERTEX_VERSION!r}"
    if not isinstance(body.get("messages"), list):
        return "messages: Field required"
    return None


def _body(state: VertexMockState) -> bytes:
    if state.sse is not None:
        data = state.sse
    else:
        events = state.events
        if events is None:
            events = text_events(
                state.text or "Hello from mock Vertex!",
                model="claude-sonnet-5-5",
                message_id="msg_vrtx_mock000000000000000",
                invocation_metrics=False,
            )
        data = sse_from_events(events)
    if state.inject_vertex_event:
        end = data.find(b"\n\n")
        cut = len(data) if end < 0 else end + 2
        data = data[:cut] + VERTEX_EVENT + data[cut:]
    return data


async def _stream(request: web.Request, state: VertexMockState) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": str(uuid.uuid4()),
        },
    )
    await response.prepare(request)
    data = _body(state)
    size = (len(data) or 1) if state.chunk_size is None else max(1, state.chunk_size)
    try:
        for i in range(0, len(data), size):
            if i and state.delay:
                await asyncio.sleep(state.delay)
            await response.write(data[i : i + size])
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        state.disconnects += 1  # the client hung up mid-body
        raise
    state.completed += 1
    return response
