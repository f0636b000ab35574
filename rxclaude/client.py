"""The facade: ``Client`` and ``client.messages`` -- thin, over the transport and the stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from reactivex import Observable

from rxclaude.content import references_files, validate_request
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.core.retry import RetryPolicy
from rxclaude.files import FILES_BETA, Files
from rxclaude.stream import MessageStream
from rxclaude.transport.base import Timeouts
from rxclaude.transport.http import Transport
from rxclaude.transport.providers.anthropic import DEFAULT_VERSION, AnthropicProvider
from rxclaude.transport.providers.base import Provider
from rxclaude.transport.providers.platform import PlatformProvider

__all__ = ["Client", "Messages"]


class Messages:
    """``client.messages``: streaming Messages requests."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def frames(self, **params: Any) -> Observable[Frame]:
        """A cold Observable of raw frames: every subscription sends one request.

        Example::

            client.messages.frames(model=m, max_tokens=64, messages=msgs).pipe(ops.parse(), ops.text())
        """
        return self._client._frames(params)

    def stream(self, **params: Any) -> MessageStream:
        """A hot :class:`MessageStream`: one request feeding every derived stream.

        Starts on ``connect()``, on entering ``async with``, or when awaited.

        Example::

            async with client.messages.stream(model=m, max_tokens=64, messages=msgs) as s:
                s.text.subscribe(print)
                final = await s.final_message()
        """
        holder: list[MessageStream] = []
        source = self._client._frames(params, on_response=lambda r: holder[0]._set_response(r))
        partial_mode = "trailing-strings" if "fine-grained-tool-streaming-2025-05-14" in self._client.betas else "on"
        stream = MessageStream(source, partial_mode=partial_mode)
        holder.append(stream)
        return stream

    async def create(self, **params: Any) -> Message:
        """Stream a request and return its final message (convenience over :meth:`stream`).

        Example::

            message = await client.messages.create(model=m, max_tokens=64, messages=msgs)
        """
        return await self.stream(**params).final_message()


class Client:
    """An Anthropic Messages client whose responses are reactive streams.

    Args:
        api_key: defaults to ``ANTHROPIC_API_KEY``. Never shown in a repr, log or error.
        base_url: defaults to ``ANTHROPIC_BASE_URL``, else ``https://api.anthropic.com``.
        anthropic_version: the ``anthropic-version`` header (documented: ``2023-06-01``).
        betas: ``anthropic-beta`` values, sent comma-separated.
        max_retries: retries before the first response byte (official SDK policy).
        timeouts: connect / first byte / idle (pings count) / total, see :class:`Timeouts`.
        provider: another backend (Bedrock, Vertex) instead of the first-party API.
        session: an aiohttp session to use (you close it); by default one pooled session.
        transport: the transport instead, e.g. :class:`~rxclaude.transport.mock.MockTransport` (no socket).
        validate: check images, documents and request size before sending (typed errors).

    Example::

        async with rxclaude.Client() as client:
            text = await client.messages.stream(model="claude-sonnet-4-5", max_tokens=256,
                                                messages=[{"role": "user", "content": "Hi"}]).final_text()
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        anthropic_version: str = DEFAULT_VERSION,
        betas: Sequence[str] = (),
        max_retries: int = 2,
        timeouts: Timeouts | None = None,
        auth_token: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        provider: Provider | None = None,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        validate: bool = True,
    ) -> None:
        self.provider: Provider = provider or AnthropicProvider(
            api_key,
            base_url,
            auth_token=auth_token,
            anthropic_version=anthropic_version,
            default_headers=default_headers,
        )
        self.betas = tuple(betas)
        self.retry = RetryPolicy(max_retries=max_retries)
        self.timeouts = timeouts or Timeouts()
        self.validate = validate
        self.transport = transport if transport is not None else Transport(session)
        self.messages = Messages(self)
        self.files = Files(self)

    def _frames(self, params: Mapping[str, Any], *, on_response: Any = None) -> Observable[Frame]:
        """The request's cold frames; its body is encoded (and validated) once, here."""
        betas = self.betas
        serves_files = self.provider.name == "anthropic" or (
            isinstance(self.provider, PlatformProvider) and self.provider.files_api
        )
        if FILES_BETA not in betas and serves_files and references_files(params):
            betas = (*betas, FILES_BETA)  # file sources need the Files API beta
        body = self.provider.encode(params, betas)
        if self.validate:
            limit = getattr(self.provider, "max_request_bytes", None)
            if limit is None:
                validate_request(params, body=body)
            else:
                validate_request(params, body=body, max_request_bytes=limit)
        return self.transport.frames(
            self.provider,
            dict(params),
            betas=betas,
            timeouts=self.timeouts,
            retry=self.retry,
            on_response=on_response,
            body=body,
        )

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
