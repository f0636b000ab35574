"""The provider contract: turn Messages params into one HTTP request, and its body into frames.

Strategy: the transport is provider-agnostic. It asks the provider for a ready-to-send
:class:`HTTPRequest` (URL, headers, body, already authenticated/signed), feeds the response
body to the provider's sans-I/O :class:`FrameDecoder`, and asks the provider to type an HTTP
error. First-party and Vertex answer with SSE; Bedrock with binary eventstream frames. All
three produce the same :class:`~rxclaude.Frame` values, so every operator works on all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rxclaude.core.errors import APIError
from rxclaude.core.frame import Frame

__all__ = ["FieldsDecoder", "FrameDecoder", "HTTPRequest", "Provider", "PushDecoder"]


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """One HTTP request, ready to send (signed where the provider signs).

    ``repr`` never shows header values: they may hold credentials.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    timeout_hint: float | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"HTTPRequest(method={self.method!r}, url={self.url!r}, headers=<{len(self.headers)} hidden>)"


@runtime_checkable
class FrameDecoder(Protocol):
    """A sans-I/O decoder: response bytes in, frames out.

    A decoder that can also push each frame the moment it is complete declares
    :class:`PushDecoder`; one that can hand frames out as their fields, :class:`FieldsDecoder`.
    """

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the body; return the frames it completed."""
        ...

    def close(self) -> list[Frame]:
        """The body ended; return whatever the format says a clean end dispatches."""
        ...


@runtime_checkable
class PushDecoder(FrameDecoder, Protocol):
    """A decoder that hands each frame to ``emit`` as soon as it is complete (:meth:`rxclaude.SSEDecoder.push`),
    so the first frame of a big read goes out before the rest is decoded."""

    def push(self, data: bytes, emit: Callable[[Frame], None]) -> None:
        """Take the next chunk; call ``emit`` with each frame it completes, in order."""
        ...


@runtime_checkable
class FieldsDecoder(PushDecoder, Protocol):
    """A decoder that can hand each frame out as its fields (:meth:`rxclaude.SSEDecoder.push_fields`),
    for a :class:`~rxclaude.core.frame.FrameSink`: no ``Frame`` is built."""

    def push_fields(self, data: bytes, emit: Callable[[str, bytes, str | None, int | None], None]) -> None:
        """Take the next chunk; call ``emit(event, data, id, retry)`` for each frame it completes."""
        ...


class Provider(Protocol):
    """Where Messages requests go: builds requests, makes decoders, types HTTP errors."""

    name: str

    def encode(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> bytes:
        """The request body for these Messages params (``stream`` forced on): made once per
        request, so validation measures the real body and retries send it again as it is."""
        ...

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = "/v1/messages",
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The streaming request for these Messages params: ``body``, or ``encode(params, betas)``."""
        ...

    def new_decoder(self) -> FrameDecoder:
        """A fresh decoder for one response body."""
        ...

    def error_from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """The typed error for a non-2xx response."""
        ...
