"""OpenTelemetry for rxclaude: GenAI spans and metrics per request (the ``otel`` extra).

Strategy: :class:`OpenTelemetry` is an :class:`~rxclaude.transport.observe.Instrumentation`. Per
request it starts the call span the official SDK (2.17) starts -- ``anthropic.messages.create``,
kind ``CLIENT``, the same ``gen_ai.*`` / ``anthropic.*`` attribute names -- plus, unlike the SDK,
one child ``POST`` span per HTTP attempt (retries show as siblings, with
``http.request.resend_count``). When that span does not record (no tracer provider configured)
and no meter provider is configured either, it answers ``None`` and the request runs untouched:
no call per frame. Otherwise it watches the frames: the first ``content_block_delta`` sets
``gen_ai.response.time_to_first_chunk``; ``message_start`` / ``message_delta`` give the response
id, model, usage and stop reason, recorded when the request ends. Content (messages, system
prompt, output) is recorded only with ``content=True``.

Metrics (histograms): ``gen_ai.client.operation.duration`` (s),
``gen_ai.client.operation.time_to_first_chunk`` (s), ``gen_ai.client.token.usage`` ({token},
``gen_ai.token.type`` input/output) and ``rxclaude.client.output_tokens_per_second`` (output
tokens over the time from the first chunk to the end).

Example::

    from opentelemetry.sdk.trace import TracerProvider
    from rxclaude.otel import OpenTelemetry

    client = rxclaude.Client(open_telemetry=OpenTelemetry(tracer_provider=TracerProvider()))
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from rxclaude.core.accumulate import MessageAccumulator
from rxclaude.core.errors import APIError, TransportError, TransportTimeoutError
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.core.parse import parse_frame
from rxclaude.transport.base import Response
from rxclaude.transport.observe import RequestObserver
from rxclaude.version import __version__

__all__ = ["PROVIDER_NAMES", "SCOPE", "SPAN_NAME", "OpenTelemetry"]

SCOPE = "rxclaude"
"""The instrumentation scope of rxclaude's tracer and meter."""

SPAN_NAME = "anthropic.messages.create"
"""The name of a request's span: the official SDK's, so dashboards built for it work."""

PROVIDER_NAMES: Mapping[str, str] = {
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "bedrock-mantle": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}
"""``gen_ai.provider.name`` for the rxclaude providers the SDK names otherwise; every other
platform (Foundry, Claude Platform on AWS, Google Cloud) is ``anthropic``, as in the SDK."""

_REQUEST_FIELDS: tuple[tuple[str, tuple[str, ...], type], ...] = (
    ("gen_ai.request.model", ("model",), str),
    ("gen_ai.request.max_tokens", ("max_tokens",), int),
    ("gen_ai.request.reasoning.level", ("output_config", "effort"), str),
    ("anthropic.request.service_tier", ("service_tier",), str),
    ("anthropic.thinking.type", ("thinking", "type"), str),
    ("anthropic.thinking.budget_tokens", ("thinking", "budget_tokens"), int),
)


class OpenTelemetry:
    """Spans and metrics for a :class:`~rxclaude.Client`'s requests (``Client(open_telemetry=...)``).

    Args:
        tracer_provider: the provider of the spans; default the global one (spans record once
            ``trace.set_tracer_provider`` was called).
        meter_provider: the provider of the metrics; default the global one.
        content: record the request's messages, system prompt and the output as the
            ``gen_ai.input.messages`` / ``gen_ai.system_instructions`` / ``gen_ai.output.messages``
            JSON attributes. Off by default: prompts are often private.
        max_content_bytes: a content attribute over this many bytes is left out and
            ``anthropic.content.truncated`` set.
        propagation: send the attempt span's trace context (``traceparent``) with each request.
        conversation_id: set as ``gen_ai.conversation.id`` on every span.

    Example::

        client = rxclaude.Client(open_telemetry=rxclaude.otel.OpenTelemetry(content=True))
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        content: bool = False,
        max_content_bytes: int = 750_000,
        propagation: bool = True,
        conversation_id: str | None = None,
    ) -> None:
        self.content = content
        self.max_content_bytes = max(1, max_content_bytes)
        self.propagation = propagation
        self.conversation_id = conversation_id
        self._meter_provider = meter_provider
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self._instruments = _Instruments(meter)

    def request(self, provider: str, params: Mapping[str, Any], betas: tuple[str, ...] = ()) -> RequestObserver | None:
        """The observer of a request that starts now, or ``None`` when nothing would record it
        (or OpenTelemetry failed: tracing never breaks a request)."""
        try:
            attributes = _start_attributes(provider, params, betas, self.conversation_id)
            span = self._tracer.start_span(SPAN_NAME, kind=SpanKind.CLIENT, attributes=attributes)
            recording = span.is_recording()
            measuring = self._meter_provider is not None or _global_meter_provider_set()
            if not recording and not measuring:
                return None
            return _Call(self, span if recording else None, params, attributes, measuring)
        except Exception:
            return None

    def __repr__(self) -> str:
        return f"OpenTelemetry(content={self.content}, propagation={self.propagation})"


class _Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of the response stream.",
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used."
        )
        self.rate = meter.create_histogram(
            "rxclaude.client.output_tokens_per_second",
            unit="{token}/s",
            description="Output tokens over the time from the first chunk to the end of the stream.",
        )


def _global_meter_provider_set() -> bool:
    """Whether the application registered a meter provider (the default is a proxy)."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return not isinstance(metrics.get_meter_provider(), (_ProxyMeterProvider, NoOpMeterProvider))


class _Call:
    """One observed request: its call span, its attempt spans, what the frames said."""

    def __init__(
        self,
        telemetry: OpenTelemetry,
        span: Span | None,
        params: Mapping[str, Any],
        attributes: Mapping[str, Any],
        measuring: bool,
    ) -> None:
        self._telemetry = telemetry
        self._span = span
        self._params = params
        self._metric_attributes = {
            k: v
            for k, v in attributes.items()
            if k in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model")
        }
        self._measuring = measuring
        self._start = time.monotonic()
        self._first_chunk: float | None = None
        self._attempt: Span | None = None
        self._response: Response | None = None
        self._message: dict[str, Any] | None = None
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._stopped = False
        self._stream_error: str | None = None
        self._acc = MessageAccumulator() if span is not None and telemetry.content else None
        self._ended = False

    # -- attempts -----------------------------------------------------------------------------

    def attempt(self, number: int, method: str, url: str, headers: MutableMapping[str, str]) -> None:
        span = self._span
        try:
            parts = urlsplit(url)
            server: dict[str, Any] = {
                "server.address": parts.hostname or "",
                "server.port": parts.port or (80 if parts.scheme == "http" else 443),
            }
            if number == 0:
                self._metric_attributes.update(server)
            if span is None:
                return
            if number == 0:
                span.set_attributes({**server, "url.scheme": parts.scheme, "url.path": parts.path})
            self._end_attempt(None)
            attributes: dict[str, Any] = {
                **server,
                "http.request.method": method,
                "url.full": f"{parts.scheme}://{parts.netloc}{parts.path}",
            }
            if number:
                attributes["http.request.resend_count"] = number
            self._attempt = self._telemetry._tracer.start_span(
                method, context=trace.set_span_in_context(span), kind=SpanKind.CLIENT, attributes=attributes
            )
            if self._telemetry.propagation:
                propagate.inject(headers, context=trace.set_span_in_context(self._attempt))
        except Exception:  # tracing never breaks a request
            pass

    def attempt_failed(self, error: Exception, response: Response | None) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is None:
            return
        try:
            if response is not None:
                attempt.set_attribute("http.response.status_code", response.status)
            _fail(attempt, error)
        finally:
            attempt.end()

    def response(self, response: Response) -> None:
        self._response = response
        if self._attempt is not None:
            with contextlib.suppress(Exception):
                self._attempt.set_attribute("http.response.status_code", response.status)

    def _end_attempt(self, error: BaseException | None) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            if error is not None:
                _fail(attempt, error)
            attempt.end()

    # -- the body -----------------------------------------------------------------------------

    def frame(self, event: str, data: bytes | str) -> bool:
        if self._acc is not None:
            self._feed(event, data)
        if event == "content_block_delta":
            if self._first_chunk is None:
                self._first_chunk = time.monotonic()
            return self._acc is not None  # after the first, deltas matter only for the content
        try:
            if event == "message_start":
                message = orjson.loads(data).get("message") or {}
                self._message = message
                self._usage = dict(message.get("usage") or {})
            elif event == "message_delta":
                d = orjson.loads(data)
                self._usage.update({k: v for k, v in (d.get("usage") or {}).items() if v is not None})
                self._stop_reason = (d.get("delta") or {}).get("stop_reason") or self._stop_reason
            elif event == "message_stop":
                self._stopped = True
            elif event == "error":
                error = orjson.loads(data).get("error") or {}
                self._stream_error = str(error.get("type") or "api_error")
        except Exception:  # a malformed frame fails the stream, not its span
            pass
        return True

    def _feed(self, event: str, data: bytes | str) -> None:
        acc = self._acc
        assert acc is not None
        try:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            acc.feed(parse_frame(Frame(event, text)))
        except Exception:
            self._acc = None  # the stream fails on it; the content is left out

    # -- the end ------------------------------------------------------------------------------

    def end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        now = time.monotonic()
        try:
            if error is None and self._stream_error is None and not self._stopped:
                error_type: str | None = "api_error"  # the body ended before message_stop
            elif error is None:
                error_type = self._stream_error
            else:
                error_type = _error_type(error) if isinstance(error, Exception) else None
            if self._span is not None:
                self._record_span(error, error_type)
            if self._measuring:
                self._record_metrics(now, error_type)
        except Exception:
            pass
        finally:
            self._end_attempt(error)
            if self._span is not None:
                self._span.end()

    def _record_span(self, error: BaseException | None, error_type: str | None) -> None:
        span = self._span
        assert span is not None
        response = self._response
        if response is not None:
            span.set_attribute("http.response.status_code", response.status)
            if response.retries:
                span.set_attribute("http.request.resend_count", response.retries)
            for attribute, header in (
                ("anthropic.request.id", "request-id"),
                ("anthropic.organization.id", "anthropic-organization-id"),
                ("anthropic.workspace.id", "anthropic-workspace-id"),
            ):
                value = response.headers.get(header)
                if value:
                    span.set_attribute(attribute, value)
            if response.request_id and not response.headers.get("request-id"):
                span.set_attribute("anthropic.request.id", response.request_id)
        if self._first_chunk is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", self._first_chunk - self._start)
        message = self._message
        if message is not None:
            for attribute, key in (("gen_ai.response.id", "id"), ("gen_ai.response.model", "model")):
                if isinstance(message.get(key), str):
                    span.set_attribute(attribute, message[key])
            span.set_attributes(_usage_attributes(self._usage, final=self._stop_reason is not None))
        if self._stop_reason is not None:
            span.set_attribute("anthropic.message.stop_reason", self._stop_reason)
            span.set_attribute("gen_ai.response.finish_reasons", [self._stop_reason])
        if self._telemetry.content:
            self._record_content(span)
        if error_type is not None:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", error_type)
        elif error is None:
            span.set_status(Status(StatusCode.OK))

    def _record_content(self, span: Span) -> None:
        limit = self._telemetry.max_content_bytes
        values: dict[str, Any] = {"gen_ai.input.messages": _input_messages(self._params.get("messages"))}
        system = self._params.get("system")
        if system:
            values["gen_ai.system_instructions"] = _parts(system)
        if self._acc is not None and self._acc.started:
            values["gen_ai.output.messages"] = [_output_message(self._acc.message(), self._stop_reason)]
        for attribute, value in values.items():
            text = orjson.dumps(value, default=str)
            if len(text) > limit:
                span.set_attribute("anthropic.content.truncated", True)
                continue
            span.set_attribute(attribute, text.decode())

    def _record_metrics(self, now: float, error_type: str | None) -> None:
        instruments = self._telemetry._instruments
        attributes: dict[str, Any] = dict(self._metric_attributes)
        if self._message is not None and isinstance(self._message.get("model"), str):
            attributes["gen_ai.response.model"] = self._message["model"]
        if error_type is not None:
            attributes["error.type"] = error_type
        instruments.duration.record(now - self._start, attributes)
        if self._first_chunk is not None:
            instruments.first_chunk.record(self._first_chunk - self._start, attributes)
        usage = _usage_attributes(self._usage, final=self._stop_reason is not None)
        if "gen_ai.usage.input_tokens" in usage:
            instruments.tokens.record(usage["gen_ai.usage.input_tokens"], {**attributes, "gen_ai.token.type": "input"})
        output = usage.get("gen_ai.usage.output_tokens")
        if output is not None:
            instruments.tokens.record(output, {**attributes, "gen_ai.token.type": "output"})
            if self._first_chunk is not None and now > self._first_chunk:
                instruments.rate.record(output / (now - self._first_chunk), attributes)


def _start_attributes(
    provider: str, params: Mapping[str, Any], betas: tuple[str, ...], conversation_id: str | None
) -> dict[str, Any]:
    """What a request's span starts with (a sampler sees these)."""
    attributes: dict[str, Any] = {
        "gen_ai.provider.name": PROVIDER_NAMES.get(provider, "anthropic"),
        "gen_ai.operation.name": "chat",
        "http.request.method": "POST",
        "gen_ai.request.stream": True,
    }
    for attribute, path, kind in _REQUEST_FIELDS:
        value: Any = params
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            attributes[attribute] = value
    if betas:
        attributes["anthropic.beta"] = list(betas)
    config = params.get("output_config")
    output_format = config.get("format") if isinstance(config, Mapping) else None
    if isinstance(output_format, Mapping) and output_format.get("type") == "json_schema":
        attributes["gen_ai.output.type"] = "json"
    if conversation_id is not None:
        attributes["gen_ai.conversation.id"] = conversation_id
    return attributes


def _usage_attributes(usage: Mapping[str, Any], *, final: bool) -> dict[str, int]:
    """The SDK's usage attributes: input tokens count the cached ones too."""
    out: dict[str, int] = {}
    count = usage.get("input_tokens")
    if isinstance(count, int):
        cached = sum(
            v for k in ("cache_read_input_tokens", "cache_creation_input_tokens") if isinstance(v := usage.get(k), int)
        )
        out["gen_ai.usage.input_tokens"] = count + cached
    for attribute, key in (
        ("gen_ai.usage.cache_read.input_tokens", "cache_read_input_tokens"),
        ("gen_ai.usage.cache_write.input_tokens", "cache_creation_input_tokens"),
    ):
        if isinstance(usage.get(key), int):
            out[attribute] = usage[key]
    if final and isinstance(usage.get("output_tokens"), int):  # message_start's is a placeholder
        out["gen_ai.usage.output_tokens"] = usage["output_tokens"]
    return out


def _error_type(error: Exception) -> str:
    """``error.type``: the API's error type, else the SDK's names for client-side failures."""
    if isinstance(error, APIError):
        return error.type or str(error.status_code)
    if isinstance(error, (TransportTimeoutError, asyncio.TimeoutError)):
        return "client_timeout_error"
    if isinstance(error, TransportError):
        return "connection_error"
    return "client_error"


def _fail(span: Span, error: BaseException) -> None:
    if isinstance(error, Exception):  # a cancellation leaves the status unset
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", _error_type(error))


# -- content, in the shapes of the GenAI conventions' JSON schemas -------------------------------


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking", "")})
        elif kind == "tool_use":
            parts.append(
                {"type": "tool_call", "id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")}
            )
        elif kind == "tool_result":
            parts.append(
                {"type": "tool_call_response", "id": block.get("tool_use_id"), "response": block.get("content")}
            )
        else:
            parts.append({"type": str(kind)})
    return parts


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    return [
        {"role": m.get("role"), "parts": _parts(m.get("content"))}
        for m in (messages if isinstance(messages, list) else ())
        if isinstance(m, Mapping)
    ]


def _output_message(message: Message, stop_reason: str | None) -> dict[str, Any]:
    blocks = [block.to_dict() for block in message.content]
    out: dict[str, Any] = {"role": "assistant", "parts": _parts(blocks)}
    if stop_reason is not None:
        out["finish_reason"] = stop_reason
    return out
