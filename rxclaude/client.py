"""The facade: ``Client`` and ``client.messages`` -- thin, over the transport and the stream."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from reactivex import Observable

from rxclaude.admission import Admission
from rxclaude.batches import Batches
from rxclaude.content import references_files, validate_request
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.core.recovery import RecoveryPolicy
from rxclaude.core.retry import RetryPolicy
from rxclaude.core.toolmode import ToolInputModes
from rxclaude.core.versions import DEFAULT_VERSION, check_request
from rxclaude.files import FILES_BETA, Files
from rxclaude.runner import OnStart, RunResult, run_requests
from rxclaude.stream import MessageStream
from rxclaude.transport import rest
from rxclaude.transport.base import Response, Timeouts
from rxclaude.transport.http import Transport
from rxclaude.transport.observe import Instrumentation
from rxclaude.transport.providers.anthropic import AnthropicProvider
from rxclaude.transport.providers.base import Provider
from rxclaude.transport.providers.platform import PlatformProvider
from rxclaude.transport.recovery import Recovery

__all__ = ["Client", "Messages"]


class Messages:
    """``client.messages``: streaming Messages requests."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.batches = Batches(client)

    def frames(self, **params: Any) -> Observable[Frame]:
        """A cold Observable of raw frames: every subscription sends one request.

        Example::

            client.messages.frames(model=m, max_tokens=64, messages=msgs).pipe(ops.parse(), ops.text())
        """
        return self._client._frames(params)

    def stream(self, *, recovery: RecoveryPolicy | str | bool | None = None, **params: Any) -> MessageStream:
        """A hot :class:`MessageStream`: one request feeding every derived stream.

        Starts on ``connect()``, on entering ``async with``, or when awaited. ``recovery``
        overrides the client's :class:`~rxclaude.RecoveryPolicy` for this stream
        (``"continue"``, ``"restart"``, ``False``...).

        Example::

            async with client.messages.stream(model=m, max_tokens=64, messages=msgs) as s:
                s.text.subscribe(print)
                final = await s.final_message()
        """
        holder: list[MessageStream] = []
        source = self._client._frames(params, on_response=lambda r: holder[0]._set_response(r))
        # Each tool block's input mode: the tool's eager_input_streaming, else the beta header.
        modes = ToolInputModes.for_request(params, self._client._betas_for(params))
        policy = self._client.recovery if recovery is None else RecoveryPolicy.of(recovery)
        stream = MessageStream(source, partial_mode=modes, recovery=self._client._recovery(policy, params))
        holder.append(stream)
        return stream

    async def create(self, **params: Any) -> Message:
        """Stream a request and return its final message (convenience over :meth:`stream`).

        Example::

            message = await client.messages.create(model=m, max_tokens=64, messages=msgs)
        """
        return await self.stream(**params).final_message()

    def map(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_start: OnStart | None = None,
    ) -> AsyncIterator[RunResult]:
        """Stream many requests (Batches format: ``{"custom_id", "params"}``), results as they complete.

        Errors are results too (:class:`~rxclaude.runner.RunResult` with the ``custom_id``).
        ``concurrency`` bounds requests in flight (default 16 without admission control; with
        the client's :class:`~rxclaude.admission.Admission`, its buckets and its
        ``max_concurrency`` decide). ``on_start(custom_id, stream)`` sees each stream first.

        Example::

            async for result in client.messages.map(requests):
                print(result.custom_id, result.ok)
        """
        if concurrency is None and self._client.admission is None:
            concurrency = 16
        return run_requests(lambda params: self.stream(**params), requests, concurrency=concurrency, on_start=on_start)

    async def count_tokens(self, **params: Any) -> int:
        """The input tokens of a request (``POST /v1/messages/count_tokens``; first-party API).

        Example::

            n = await client.messages.count_tokens(model=m, messages=msgs)
        """
        body = {k: v for k, v in params.items() if k not in ("max_tokens", "stream")}
        answer = await rest.call(self._client, "POST", "/v1/messages/count_tokens", body=body, what="count_tokens")
        tokens = answer.get("input_tokens")
        if not isinstance(tokens, int):
            raise ValueError(f"count_tokens answered no input_tokens: {dict(answer)!r}"[:300])
        return tokens


class Client:
    """An Anthropic Messages client whose responses are reactive streams.

    Args:
        api_key: defaults to ``ANTHROPIC_API_KEY``. Never shown in a repr, log or error.
        base_url: defaults to ``ANTHROPIC_BASE_URL``, else ``https://api.anthropic.com``.
        anthropic_version: the ``anthropic-version`` header: ``"2023-06-01"`` (the default, else
            ``RXCLAUDE_ANTHROPIC_VERSION``) or ``"2026-10-21"`` (adds ``role: "system"``
            messages); responses are the same under both. See the README.
        auth: how the API key is sent: ``"x-api-key"`` (the default, else ``RXCLAUDE_AUTH``)
            or ``"bearer"`` (``Authorization: Bearer``, as the official SDKs 2.17/1.17 do).
        betas: ``anthropic-beta`` values, sent comma-separated.
        max_retries: retries before the first response byte (official SDK policy); also the
            number of recoveries after it, unless ``recovery`` sets its own.
        recovery: what a stream does when it fails after HTTP 200 (:class:`RecoveryPolicy`, or
            ``"continue"`` / ``"restart"`` / ``False``); by default a failure before any content
            is retried transparently and one after content raises its typed error.
        timeouts: connect / first byte / idle (pings count) / total, see :class:`Timeouts`.
        provider: another backend (Bedrock, Vertex) instead of the first-party API.
        session: an aiohttp session to use (you close it); by default one pooled session.
        transport: the transport instead, e.g. :class:`~rxclaude.transport.mock.MockTransport` (no socket).
        validate: check images, documents and request size before sending (typed errors).
        open_telemetry: spans and metrics (:mod:`rxclaude.otel`, the ``otel`` extra). ``None``:
            on when ``opentelemetry-api`` is installed (spans record once a tracer provider is
            configured; nothing is imported without the extra), unless the SDK's
            ``ANTHROPIC_OPEN_TELEMETRY=false`` is set (``..._TRACES_CONTENT_MODE=content``
            records content); ``False``: off; an
            :class:`~rxclaude.otel.OpenTelemetry` (or any
            :class:`~rxclaude.transport.observe.Instrumentation`) to configure it.
        admission: rate-limit admission control shared by every request of this client
            (:class:`~rxclaude.admission.Admission`); off by default.

    Example::

        async with rxclaude.Client() as client:
            text = await client.messages.stream(model="claude-sonnet-5-5", max_tokens=256,
                                                messages=[{"role": "user", "content": "Hi"}]).final_text()
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        anthropic_version: str | None = None,
        auth: str | None = None,
        betas: Sequence[str] = (),
        max_retries: int = 2,
        timeouts: Timeouts | None = None,
        auth_token: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        provider: Provider | None = None,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        validate: bool = True,
        open_telemetry: Instrumentation | bool | None = None,
        recovery: RecoveryPolicy | str | bool | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.provider: Provider = provider or AnthropicProvider(
            api_key,
            base_url,
            auth_token=auth_token,
            anthropic_version=anthropic_version or os.environ.get("RXCLAUDE_ANTHROPIC_VERSION") or DEFAULT_VERSION,
            default_headers=default_headers,
            auth=auth or os.environ.get("RXCLAUDE_AUTH") or "x-api-key",
        )
        self.betas = tuple(betas)
        self.retry = RetryPolicy(max_retries=max_retries)
        self.recovery = RecoveryPolicy.of(recovery)
        self._prefill_refused: set[str] = set()  # models that refused a prefill (one refusal is enough)
        self.timeouts = timeouts or Timeouts()
        self.validate = validate
        self.instrumentation: Instrumentation | None = _instrumentation(open_telemetry)
        self.admission = admission
        self.transport = transport if transport is not None else Transport(session)
        self.messages = Messages(self)
        self.files = Files(self)

    def _betas_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The ``anthropic-beta`` values of one request: the client's, its default header's,
        and the request's own ``betas=[...]`` (sent as the header, never in the body)."""
        betas = list(self.betas)
        for name, value in (getattr(self.provider, "default_headers", None) or {}).items():
            if name.lower() == "anthropic-beta":
                betas.extend(b.strip() for b in str(value).split(",") if b.strip())
        extra = params.get("betas")
        if isinstance(extra, str):
            extra = [extra]
        if isinstance(extra, Sequence):
            betas.extend(str(b) for b in extra if str(b) not in betas)
        return tuple(dict.fromkeys(betas))

    def _frames(self, params: Mapping[str, Any], *, on_response: Any = None) -> Observable[Frame]:
        """The request's cold frames; its body is encoded (and validated) once, here."""
        betas = self.betas
        if "betas" in params:  # per-request betas go in the header
            extra = params["betas"]
            params = {k: v for k, v in params.items() if k != "betas"}
            extra = [extra] if isinstance(extra, str) else list(extra or ())
            betas = tuple(dict.fromkeys((*betas, *map(str, extra))))
        serves_files = self.provider.name == "anthropic" or (
            isinstance(self.provider, PlatformProvider) and self.provider.files_api
        )
        if FILES_BETA not in betas and serves_files and references_files(params):
            betas = (*betas, FILES_BETA)  # file sources need the Files API beta
        body = self.provider.encode(params, betas)
        if self.validate:
            version = getattr(self.provider, "anthropic_version", None)
            check_request(params, version if isinstance(version, str) else "")
            limit = getattr(self.provider, "max_request_bytes", None)
            if limit is None:
                validate_request(params, body=body)
            else:
                validate_request(params, body=body, max_request_bytes=limit)
        admission = self.admission
        retry = self.retry if admission is None else admission.retry_policy(self.retry)

        def send(on_response: Any) -> Observable[Frame]:
            return self.transport.frames(
                self.provider,
                dict(params),
                betas=betas,
                timeouts=self.timeouts,
                retry=retry,
                on_response=on_response,
                body=body,
                instrumentation=self.instrumentation,
            )

        if admission is None:
            return send(on_response)
        return admission.frames(params, send, on_response=on_response)

    def _recovery(self, policy: RecoveryPolicy, params: Mapping[str, Any]) -> Recovery | None:
        """A stream's :class:`Recovery`: the same request again, or with a prefill appended."""
        if not policy.enabled:
            return None

        def again(prefill: Mapping[str, Any] | None, on_response: Callable[[Response], None]) -> Observable[Frame]:
            request = params if prefill is None else {**params, "messages": [*params["messages"], prefill]}
            return self._frames(request, on_response=on_response)

        return Recovery(policy, again, retry=self.retry, params=params, refused=self._prefill_refused)

    async def close(self) -> None:
        """Cancel running requests and close the connection pool."""
        await self.transport.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Client(provider={self.provider!r})"


def _instrumentation(option: Instrumentation | bool | None) -> Instrumentation | None:
    """The client's instrumentation: OpenTelemetry's when its API is installed (or asked for)."""
    if option is False:
        return None
    if option is None or option is True:
        if option is None and (
            os.environ.get("ANTHROPIC_OPEN_TELEMETRY", "").lower() == "false" or not _otel_installed()
        ):
            return None  # turned off as for the SDK, or the extra is absent: nothing imported or done
        try:
            from rxclaude.otel import OpenTelemetry
        except ImportError as e:
            raise ImportError("open_telemetry=True needs OpenTelemetry: pip install 'rxclaude[otel]'") from e
        content = os.environ.get("ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE", "").lower() == "content"
        return OpenTelemetry(content=content)
    return option


def _otel_installed() -> bool:
    """Whether ``opentelemetry-api`` is installed (found, not imported)."""
    try:
        return importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
    except (ImportError, ValueError):
        return False
