"""HTTP safety for relays: a ``Host`` allow-list, CORS for listed origins, viewer tokens, body limits.

:class:`HttpPolicy` is shared by :class:`~rxclaude.Relay` and :class:`~rxclaude.RelayNode`. Each
check answers with an API-shaped error response, or ``None`` to go on:

* ``Host``: only the listed names (any port); by default the loopback names, so a page that
  rebinds its own DNS name to 127.0.0.1 cannot read a relay on loopback (403 ``permission_error``).
* CORS: an ``Origin`` is echoed back only if it is listed (with ``Vary: Origin``); ``"*"`` is
  refused: a stream's reply is not for every website.
* Tokens: ``?token=`` or ``Authorization: Bearer`` (see :mod:`rxclaude.relay.tokens`);
  401 ``authentication_error`` if missing, expired or for another stream.
* Bodies: read with a deadline (408) and a small size limit (413), checked against
  ``Content-Length`` before reading.

Example:
    >>> policy = HttpPolicy(allowed_hosts=["relay.example.com"], cors_origins=["https://app.example.com"])
    >>> policy.host_allowed("relay.example.com:8443"), policy.host_allowed("evil.example:8443")
    (True, False)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Final

from aiohttp import web

from rxclaude.core.errors import TokenError

from .tokens import relay_secret, verify_token
from .wire import error_body

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "HttpPolicy",
    "error_response",
    "requested_id",
]

DEFAULT_ALLOWED_HOSTS: Final = ("127.0.0.1", "localhost", "::1")
"""The ``Host`` names accepted by default (any port)."""
DEFAULT_MAX_BODY: Final = 64 * 1024
"""The largest request body read by default (bytes); a relay ignores the body anyway."""
DEFAULT_BODY_TIMEOUT: Final = 10.0
"""Seconds a client may take to send its request body by default."""


def error_response(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON error response in the API's shape.

    Example:
        >>> error_response(404, "not_found_error", "no such stream").status
        404
    """
    return web.Response(
        status=status,
        body=error_body(error_type, message).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def requested_id(request: web.BaseRequest) -> int | None:
    """``Last-Event-ID`` (or the ``last_event_id`` query parameter), or ``None``; ``ValueError`` if bad.

    Example::

        after = requested_id(request)   # None: from the start
    """
    raw = request.headers.get("Last-Event-ID", "").strip() or request.query.get("last_event_id", "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


def _host_name(host: str) -> str:
    """``Host`` without its port, lower-cased (``[::1]:80`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


class HttpPolicy:
    """What a relay accepts: hosts, origins, tokens and request bodies.

    Args:
        allowed_hosts: ``Host`` names (no port) to serve; ``["*"]`` accepts any (only behind a
            proxy that checks it).
        cors_origins: exact origins (``https://app.example.com``) allowed to read from a page.
        secret: the token secret (``None``: ``$RXCLAUDE_RELAY_SECRET``); only used when
            ``auth`` is on.
        auth: require a viewer token per stream.
        max_body: the largest request body read (413 above).
        body_timeout: seconds to receive the body (408 after).

    Example:
        >>> HttpPolicy(cors_origins=["*"])
        Traceback (most recent call last):
        ...
        ValueError: cors_origins must list exact origins such as 'https://app.example.com', not '*'
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        cors_origins: Iterable[str] = (),
        secret: str | bytes | None = None,
        auth: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        origins = tuple(cors_origins)
        for origin in origins:
            if origin == "*" or "://" not in origin or origin.endswith("/"):
                raise ValueError(
                    f"cors_origins must list exact origins such as 'https://app.example.com', not {origin!r}"
                )
        if max_body < 0 or not body_timeout > 0:
            raise ValueError("max_body must be >= 0 and body_timeout positive")
        self.allowed_hosts = frozenset(_host_name(h) for h in allowed_hosts)
        self.cors_origins = frozenset(origins)
        self.secret = relay_secret(secret) if auth else None
        self.max_body = max_body
        self.body_timeout = body_timeout

    def host_allowed(self, host: str | None) -> bool:
        """Whether a ``Host`` header value is on the list."""
        return "*" in self.allowed_hosts or (host is not None and _host_name(host) in self.allowed_hosts)

    def cors_headers(self, request: web.BaseRequest) -> dict[str, str]:
        """``Access-Control-Allow-Origin`` for a listed ``Origin`` (and ``Vary: Origin`` whenever CORS is on)."""
        if not self.cors_origins:
            return {}
        origin = request.headers.get("Origin")
        if origin is not None and origin in self.cors_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def check(self, request: web.BaseRequest, stream_id: str | None = None) -> web.Response | None:
        """The ``Host`` check, then (with ``auth``) the token for ``stream_id``."""
        if not self.host_allowed(request.host):
            return error_response(403, "permission_error", "this Host is not allowed", self.cors_headers(request))
        if self.secret is not None:
            token = request.query.get("token", "")
            header = request.headers.get("Authorization", "")
            if not token and header[:7].lower() == "bearer ":
                token = header[7:].strip()
            if not token:
                return error_response(
                    401, "authentication_error", "a viewer token is required", self.cors_headers(request)
                )
            try:
                verify_token(token, stream_id or "", secret=self.secret)
            except TokenError as e:
                return error_response(401, "authentication_error", str(e), self.cors_headers(request))
        return None

    def preflight(self, request: web.BaseRequest) -> web.Response:
        """Answer ``OPTIONS``: 204 with the CORS headers for a listed origin, else 403."""
        if not self.host_allowed(request.host):
            return error_response(403, "permission_error", "this Host is not allowed")
        origin = request.headers.get("Origin")
        if origin is None or origin not in self.cors_origins:
            return error_response(403, "permission_error", "this origin is not allowed", self.cors_headers(request))
        return web.Response(
            status=204,
            headers={
                **self.cors_headers(request),
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                # a listed origin may send what the SDKs send (x-stainless-*, anthropic-*, ...)
                "Access-Control-Allow-Headers": request.headers.get(
                    "Access-Control-Request-Headers", "Authorization, Last-Event-ID"
                ),
                "Access-Control-Max-Age": "600",
            },
        )

    async def discard_body(self, request: web.BaseRequest) -> web.Response | None:
        """Read and drop the body within ``body_timeout`` and ``max_body``; an error response if not."""
        if not request.body_exists:
            return None
        headers = self.cors_headers(request)
        too_large = error_response(
            413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", headers
        )
        if request.content_length is not None and request.content_length > self.max_body:
            return too_large
        total = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while chunk := await request.content.readany():
                    total += len(chunk)
                    if total > self.max_body:
                        return too_large
        except TimeoutError:
            return error_response(408, "timeout_error", "the request body was not received in time", headers)
        return None
