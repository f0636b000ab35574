"""What the mock server answers: :class:`Reply` scripts and composable :class:`Faults`.

Example::

    server.enqueue(
        Reply.text("Hello!", thinking="Greet back."),
        Reply.from_sse("tests/fixtures/text-basic-sonnet4.sse").with_faults(error_after=5),
        Reply.error(529),
    )
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rxclaude.testing.sse import accumulate, events_from_sse, split_frames, sse_bytes, synthesize_frames
from rxclaude.testing.structured import json_pieces

__all__ = ["DEFAULT_ERROR_MESSAGES", "ERROR_STATUS", "ERROR_TYPES", "Faults", "Reply", "request_text"]

ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The ``error.type`` the API uses for each HTTP status."""

ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""The HTTP status for each ``error.type`` (used when a non-streamed request hits an in-stream error)."""

DEFAULT_ERROR_MESSAGES: Mapping[str, str] = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of requests has exceeded your rate limit.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour layered onto a streamed reply. Event counts are counts of script frames.

    Attributes:
        headers_delay: seconds to wait before the status line and headers (first-byte timeouts).
        delay: seconds between consecutive events.
        tokens_per_second: pace ``content_block_delta`` events at this rate (adds to ``delay``).
        ping_every: during any wait (``delay``/pacing, not stalls) send a ping every N seconds.
        error_after: after N events send an ``event: error`` and end the body (no ``message_stop``).
        error_type / error_message: the in-stream error (default ``overloaded_error`` / "Overloaded").
        close_after: after N events end the body cleanly (chunked terminator), no ``message_stop``.
        stall_after: after N events go silent for ``stall_seconds`` with the connection open,
            then carry on.
        reset_after_bytes: after N body bytes, abort the TCP connection (RST, no chunk terminator).
        malformed_after: after N events insert a frame whose ``data`` is invalid JSON.
        drip: write the body one byte per write.
        chunk_size: write the body in pieces of this many bytes, across event boundaries; the
            short remainder goes out before each pause and at the end (default: one write per
            event). Large values (e.g. 65536) serve million-event streams fast.

    Example::

        Reply.text("slow").with_faults(tokens_per_second=50, ping_every=0.2)
    """

    headers_delay: float = 0.0
    delay: float = 0.0
    tokens_per_second: float | None = None
    ping_every: float | None = None
    error_after: int | None = None
    error_type: str = "overloaded_error"
    error_message: str | None = None
    close_after: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 3600.0
    reset_after_bytes: int | None = None
    malformed_after: int | None = None
    drip: bool = False
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if self.tokens_per_second is not None and self.tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be > 0")
        if self.ping_every is not None and self.ping_every <= 0:
            raise ValueError("ping_every must be > 0")


_Render = Callable[[Mapping[str, Any]], Sequence[bytes]]


def request_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message in a Messages request body ("" if none).

    Example::

        request_text({"messages": [{"role": "user", "content": "Hi"}]})    # 'Hi'
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for msg in reversed(messages):
        if not isinstance(msg, Mapping) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(b.get("text", "")) for b in content if isinstance(b, Mapping) and b.get("type") == "text"
            )
    return ""


def _estimate_input_tokens(body: Mapping[str, Any]) -> int:
    try:
        size = len(orjson.dumps(body.get("messages", []))) + len(orjson.dumps(body.get("system", "")))
    except TypeError:
        size = 40
    return max(1, size // 4)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer to one request. Build with the class methods; it is immutable.

    A streamed reply is a list of SSE frames, rendered per request (so ``model=None`` follows the
    request's ``model``). For ``"stream": false`` requests the server answers the accumulated
    Message of the same frames (or the HTTP error an in-stream error maps to).

    Example::

        reply = Reply.text("Hi!").with_faults(error_after=3)
    """

    status: int = 200
    render: _Render | None = None
    error_type: str | None = None
    error_message: str | None = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    faults: Faults = field(default_factory=Faults)
    label: str = ""

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        text: str | Sequence[str] = "Hello! How can I help you today?",
        *,
        thinking: str | Sequence[str] | None = None,
        tool_uses: Sequence[Mapping[str, Any]] = (),
        model: str | None = None,
        id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        usage: Mapping[str, Any] | None = None,
        stop_reason: str | None = None,
        stop_sequence: str | None = None,
        signature: str | None = None,
        padding: bool = True,
        seed: int | None = None,
    ) -> Reply:
        """A synthesized, realistic stream (see :func:`rxclaude.testing.synthesize`).

        ``model=None`` echoes the request's model; ``input_tokens=None`` estimates from the request.

        Example::

            Reply.text("Let me check.", tool_uses=[{"name": "weather", "input": {"city": "Rome"}}])
        """
        tools = tuple(dict(t) for t in tool_uses)
        pieces: str | tuple[str, ...] = text if isinstance(text, str) else tuple(text)
        think: str | tuple[str, ...] | None = (
            thinking if thinking is None or isinstance(thinking, str) else tuple(thinking)
        )

        def render(req: Mapping[str, Any]) -> Sequence[bytes]:
            req_model = req.get("model")
            return synthesize_frames(
                pieces,
                thinking=think,
                tool_uses=tools,
                model=model or (req_model if isinstance(req_model, str) else "claude-sonnet-4-5-20250929"),
                id=id,
                input_tokens=input_tokens if input_tokens is not None else _estimate_input_tokens(req),
                output_tokens=output_tokens,
                usage=usage,
                stop_reason=stop_reason,
                stop_sequence=stop_sequence,
                signature=signature,
                padding=padding,
                seed=seed,
            )

        return cls(render=render, label="text")

    @classmethod
    def structured(
        cls,
        value: Any = None,
        *,
        raw: str | None = None,
        stop_reason: str | None = None,
        output_tokens: int | None = None,
    ) -> Reply:
        """A structured-output reply: one text block streaming ``value`` as JSON in short pieces
        (or ``raw``, any text, e.g. invalid or cut-off JSON). The request's ``output_config``
        is checked as the API does (see :func:`~rxclaude.testing.structured.check_structured`).

        Example::

            Reply.structured({"city": "Paris", "temperature": 21})
            Reply.structured(raw='{"city": "Par', stop_reason="max_tokens")
        """
        text = raw if raw is not None else orjson.dumps(value).decode()
        return dataclasses.replace(
            cls.text(json_pieces(text), stop_reason=stop_reason, output_tokens=output_tokens), label="structured"
        )

    @classmethod
    def echo(cls, fallback: str = "Hello from the rxclaude mock server!") -> Reply:
        """Streams back the last user message's text (``fallback`` if it has none). The default reply.

        Example::

            server = MockServer(default_reply=Reply.echo())
        """

        def render(req: Mapping[str, Any]) -> Sequence[bytes]:
            req_model = req.get("model")
            return synthesize_frames(
                request_text(req) or fallback,
                model=req_model if isinstance(req_model, str) else "claude-sonnet-4-5-20250929",
                input_tokens=_estimate_input_tokens(req),
            )

        return cls(render=render, label="echo")

    @classmethod
    def from_sse(cls, source: str | Path | bytes) -> Reply:
        """Serve a recorded SSE body byte for byte (a path to a ``.sse`` file, or the bytes).

        Example::

            Reply.from_sse(Path("tests/fixtures/tool-use-single-sonnet4.sse"))
        """
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        frames = tuple(split_frames(data))
        label = "sse" if isinstance(source, bytes) else f"sse:{Path(source).name}"
        return cls(render=lambda _req: frames, label=label)

    @classmethod
    def events(cls, events: Sequence[Mapping[str, Any]], *, padding: bool = False) -> Reply:
        """Stream these event dicts as given (each ``type`` is its event name).

        Example::

            Reply.events([{"type": "message_start", "message": {...}}, {"type": "message_stop"}])
        """
        frames = tuple(split_frames(sse_bytes(events, padding=padding)))
        return cls(render=lambda _req: frames, label="events")

    @classmethod
    def error(
        cls,
        status: int = 529,
        error_type: str | None = None,
        message: str | None = None,
        *,
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        should_retry: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """An HTTP error with the API's body ``{"type":"error","error":{...},"request_id":...}``.

        ``error_type``/``message`` default from the status (529 -> ``overloaded_error``,
        "Overloaded"). ``retry_after`` / ``retry_after_ms`` / ``should_retry`` set the
        ``retry-after``, ``retry-after-ms`` and ``x-should-retry`` headers.

        Example::

            Reply.error(429, retry_after=0.01)
        """
        etype = error_type or ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        extra: list[tuple[str, str]] = list((headers or {}).items())
        if retry_after is not None:
            ra = retry_after if isinstance(retry_after, str) else _num(retry_after)
            extra.append(("retry-after", ra))
        if retry_after_ms is not None:
            extra.append(("retry-after-ms", _num(retry_after_ms)))
        if should_retry is not None:
            extra.append(("x-should-retry", "true" if should_retry else "false"))
        return cls(
            status=status,
            error_type=etype,
            error_message=message if message is not None else DEFAULT_ERROR_MESSAGES.get(etype, "Error"),
            headers=tuple(extra),
            label=f"error:{status}",
        )

    @classmethod
    def json(cls, body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """Answer a fixed JSON body (any status), e.g. a hand-written non-streamed Message.

        Example::

            Reply.json({"input_tokens": 42})
        """
        return cls(status=status, body=orjson.dumps(body), headers=tuple((headers or {}).items()), label="json")

    @classmethod
    def raw(
        cls,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "application/octet-stream",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Answer these exact bytes with this status and content type.

        Example::

            Reply.raw(b"<html>502 Bad Gateway</html>", status=502, content_type="text/html")
        """
        return cls(
            status=status,
            body=body,
            content_type=content_type,
            headers=tuple((headers or {}).items()),
            label="raw",
        )

    # -- modifiers --------------------------------------------------------------------------------

    def with_faults(self, faults: Faults | None = None, **changes: Any) -> Reply:
        """A copy with faults set: a :class:`Faults`, and/or keyword changes to the current ones.

        Example::

            Reply.text("hi").with_faults(error_after=4, error_type="api_error")
        """
        base = faults if faults is not None else self.faults
        return dataclasses.replace(self, faults=dataclasses.replace(base, **changes) if changes else base)

    def with_headers(self, headers: Mapping[str, str]) -> Reply:
        """A copy that adds these response headers (they override the server's defaults).

        Example::

            Reply.text("hi").with_headers({"anthropic-ratelimit-requests-remaining": "0"})
        """
        return dataclasses.replace(self, headers=self.headers + tuple(headers.items()))

    # -- rendering --------------------------------------------------------------------------------

    @property
    def streams(self) -> bool:
        """Whether this reply is an SSE script (as opposed to a fixed body or an HTTP error)."""
        return self.render is not None and self.error_type is None and self.body is None

    def frames(self, request: Mapping[str, Any] | None = None) -> list[bytes]:
        """The SSE frames this reply streams for a request body (faults not applied).

        Example::

            b"".join(Reply.text("Hi").frames({"model": "claude-opus-4-7"}))
        """
        if self.render is None:
            return []
        return list(self.render(request or {}))

    def message(self, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The non-streamed Message: the accumulation of :meth:`frames` (faults not applied).

        Example::

            Reply.text("Hi").message()["content"]    # [{'type': 'text', 'text': 'Hi'}]
        """
        return accumulate(events_from_sse(b"".join(self.frames(request))))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
