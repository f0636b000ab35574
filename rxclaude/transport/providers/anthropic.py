"""The first-party Anthropic API (``api.anthropic.com`` or any ``base_url`` that speaks it)."""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from rxclaude.core import _json
from rxclaude.core.errors import APIError, AuthenticationError, ConfigurationError, error_class_for, error_from_body
from rxclaude.core.sse import SSEDecoder
from rxclaude.core.versions import AUTH_SCHEMES, DEFAULT_VERSION
from rxclaude.transport.providers.base import HTTPRequest

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_VERSION", "AnthropicProvider", "user_agent"]

DEFAULT_BASE_URL = "https://api.anthropic.com"


@functools.cache
def user_agent() -> str:
    """``rxclaude/<version> python/<version>``."""
    from rxclaude.version import __version__

    return f"rxclaude/{__version__} python/{platform.python_version()}"


class AnthropicProvider:
    """Builds ``POST {base_url}/v1/messages`` requests with ``x-api-key`` auth.

    ``auth="bearer"`` sends the API key as ``Authorization: Bearer <key>`` (what the official
    SDKs send since 2.17 / 1.17); ``auth_token`` (or ``ANTHROPIC_AUTH_TOKEN``) is a bearer
    token used when there is no API key. The key is never part of ``repr`` or of any error.

    Example:
        >>> p = AnthropicProvider(api_key="sk-test", base_url="http://127.0.0.1:8080")
        >>> p
        AnthropicProvider(base_url='http://127.0.0.1:8080', anthropic_version='2023-06-01')
    """

    name = "anthropic"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        auth_token: str | None = None,
        anthropic_version: str = DEFAULT_VERSION,
        default_headers: Mapping[str, str] | None = None,
        auth: str = "x-api-key",
    ) -> None:
        if auth not in AUTH_SCHEMES:
            raise ConfigurationError(f"auth={auth!r}: expected one of {', '.join(map(repr, AUTH_SCHEMES))}")
        if not isinstance(anthropic_version, str) or not anthropic_version.strip():
            raise ConfigurationError(
                f"anthropic_version={anthropic_version!r}: expected a version such as {DEFAULT_VERSION!r}"
            )
        self.auth = auth
        self._api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        self._auth_token = auth_token if auth_token is not None else os.environ.get("ANTHROPIC_AUTH_TOKEN")
        self.base_url = (base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.anthropic_version = anthropic_version
        self.default_headers = dict(default_headers or {})

    def __repr__(self) -> str:
        auth = "" if self.auth == "x-api-key" else f", auth={self.auth!r}"
        return f"AnthropicProvider(base_url={self.base_url!r}, anthropic_version={self.anthropic_version!r}{auth})"

    @property
    def has_credentials(self) -> bool:
        """Whether an API key or auth token is configured."""
        return bool(self._api_key or self._auth_token)

    def headers(self, betas: Sequence[str] = (), *, accept: str = "text/event-stream") -> dict[str, str]:
        """Auth, version, beta and content headers for one request."""
        if not self.has_credentials:
            raise AuthenticationError(
                "no API key: pass Client(api_key=...) or set ANTHROPIC_API_KEY", type="authentication_error"
            )
        headers = {
            "anthropic-version": self.anthropic_version,
            "content-type": "application/json",
            "accept": accept,
            "user-agent": user_agent(),
        }
        if self._api_key and self.auth == "x-api-key":
            headers["x-api-key"] = self._api_key
        elif self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        else:
            headers["authorization"] = f"Bearer {self._auth_token}"
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        headers.update(self.default_headers)
        return headers

    def encode(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> bytes:
        """The JSON body: the params with ``"stream": true``.

        Example:
            >>> AnthropicProvider(api_key="k").encode({"model": "m", "max_tokens": 5})
            b'{"model":"m","max_tokens":5,"stream":true}'
        """
        return _json.dumps({**params, "stream": True})

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = "/v1/messages",
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The streaming request for these Messages params (``body``: already encoded)."""
        if body is None:
            body = self.encode(params, betas)
        return HTTPRequest("POST", self.base_url + path, self.headers(betas), body)

    def new_decoder(self) -> SSEDecoder:
        """A fresh SSE decoder."""
        return SSEDecoder()

    def error_from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """Type an HTTP error from its ``{"type":"error","error":{...}}`` body (or its status)."""
        return api_error_from_http(status, headers, body)


def api_error_from_http(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for an HTTP error response in the Anthropic error shape."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return error_from_body(parsed, status_code=status, headers=headers)
    text = body[:500].decode("utf-8", "replace").strip()
    cls = error_class_for(None, status)
    return cls(
        f"HTTP {status}" + (f": {text}" if text else ""),
        status_code=status,
        request_id=headers.get("request-id"),
        body=parsed if parsed is not None else text,
        headers=headers,
    )
