"""Claude on Google Vertex AI: ``:streamRawPredict``, OAuth2 bearer auth, plain SSE back.

Strategy: ``model`` moves into the URL, ``stream: true`` stays in the body, and
``anthropic_version: vertex-2023-10-16`` is added; betas go in the ``anthropic-beta`` header.
The access token is an explicit string, or comes from google-auth credentials (explicit, or
``google.auth.default()``), refreshed in the default executor when empty or expired (the
refresh is blocking I/O).  The response is the first-party SSE, decoded by the shared
:class:`~rxclaude.core.sse.SSEDecoder`; Vertex-only events pass through as ordinary frames.
google-auth is optional and imported only when needed.

Example::

    provider = VertexProvider("my-project", "us-east5")
    request = await provider.build_request(
        {"model": "claude-haiku-4-5@20251001", "max_tokens": 256,
         "messages": [{"role": "user", "content": "Hi"}]}
    )
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from rxclaude.core import _json
from rxclaude.core.errors import APIError, RxClaudeError, error_class_for, error_from_body
from rxclaude.transport.providers.base import FrameDecoder, HTTPRequest

__all__ = ["VERTEX_ANTHROPIC_VERSION", "VERTEX_MAX_REQUEST_BYTES", "VertexProvider", "vertex_base_url"]

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
VERTEX_MAX_REQUEST_BYTES = 30 * 1024 * 1024
"""Vertex AI's request cap, 30 MB (api-reference §6; MiB, like ``content.MAX_REQUEST_BYTES``)."""
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_INSTALL_HINT = "pip install 'rxclaude[vertex]'"
_MESSAGES_PATH = "/v1/messages"

# google.rpc.Code names -> Anthropic error.type ("service_unavailable_error" names
# rxclaude's ServiceUnavailableError in errors._BY_TYPE).
_GOOGLE_STATUS_TYPES: dict[str, str] = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "UNAVAILABLE": "service_unavailable_error",
    "INTERNAL": "api_error",
    "UNKNOWN": "api_error",
    "DATA_LOSS": "api_error",
}


def vertex_base_url(region: str) -> str:
    """The Vertex AI API base for a region: global, multi-region (``us``/``eu``) or regional.

    Example:
        >>> vertex_base_url("eu")
        'https://aiplatform.eu.rep.googleapis.com/v1'
        >>> vertex_base_url("us-east5")
        'https://us-east5-aiplatform.googleapis.com/v1'
    """
    if region == "global":
        return "https://aiplatform.googleapis.com/v1"
    if region in ("us", "eu"):
        return f"https://aiplatform.{region}.rep.googleapis.com/v1"
    return f"https://{region}-aiplatform.googleapis.com/v1"


def _google_auth_error() -> ImportError:
    return ImportError(f"Vertex AI authentication needs google-auth: {_INSTALL_HINT}")


class VertexProvider:
    """Send Messages requests to Claude on Vertex AI (``:streamRawPredict``).

    Args:
        project_id: the Google Cloud project; else ``ANTHROPIC_VERTEX_PROJECT_ID``, else the
            project ``google.auth.default()`` reports.
        region: ``"global"``, ``"us"``, ``"eu"`` or a region like ``"us-east5"``; else
            ``CLOUD_ML_REGION``.
        access_token: a ready OAuth2 access token (never refreshed).
        credentials: google-auth credentials (refreshed when empty or expired); default
            ``google.auth.default(scopes=[cloud-platform])`` on first use.
        base_url: replaces the region's API base (ends in ``/v1``); default
            ``ANTHROPIC_VERTEX_BASE_URL``.
        anthropic_version: the body's ``anthropic_version`` (``vertex-2023-10-16``).

    Tokens never appear in ``repr`` or in exception messages.

    Example:
        >>> VertexProvider("my-project", "global", access_token="ya29.x").auth
        'access_token'
    """

    name = "vertex"
    max_request_bytes: int = VERTEX_MAX_REQUEST_BYTES
    """The largest request body Vertex AI accepts (for :func:`rxclaude.content.validate_request`)."""

    def __init__(
        self,
        project_id: str | None = None,
        region: str | None = None,
        *,
        access_token: str | None = None,
        credentials: Any = None,
        base_url: str | None = None,
        anthropic_version: str = VERTEX_ANTHROPIC_VERSION,
    ) -> None:
        if access_token is not None and credentials is not None:
            raise ValueError("pass access_token or credentials, not both")
        region = region or os.environ.get("CLOUD_ML_REGION") or None
        if region is None:
            raise ValueError(
                "VertexProvider needs a region: pass region= or set CLOUD_ML_REGION (e.g. 'us-east5', 'global')"
            )
        self.region: str = region
        self.project_id: str | None = project_id or os.environ.get("ANTHROPIC_VERTEX_PROJECT_ID") or None
        base = base_url or os.environ.get("ANTHROPIC_VERTEX_BASE_URL") or vertex_base_url(region)
        self.base_url: str = base.rstrip("/")
        self.anthropic_version = anthropic_version
        self._access_token = access_token
        self._credentials = credentials
        self._lock = threading.Lock()

    @property
    def auth(self) -> str:
        """``"access_token"``, ``"credentials"`` or ``"default"`` (``google.auth.default``)."""
        if self._access_token is not None:
            return "access_token"
        return "credentials" if self._credentials is not None else "default"

    def __repr__(self) -> str:
        return (
            f"VertexProvider(project_id={self.project_id!r}, region={self.region!r}, "
            f"auth={self.auth!r}, base_url={self.base_url!r})"
        )

    # -- requests ------------------------------------------------------------------------------

    def url_for(self, model: str, project_id: str | None = None) -> str:
        """The ``:streamRawPredict`` URL for a model (``@`` kept, other specials quoted).

        Example:
            >>> VertexProvider("p", "global", access_token="t").url_for("claude-haiku-4-5@20251001")[36:]
            '/projects/p/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict'
        """
        project = project_id or self.project_id
        if not project:
            raise ValueError("VertexProvider needs a project: pass project_id= or set ANTHROPIC_VERTEX_PROJECT_ID")
        return (
            f"{self.base_url}/projects/{quote(project, safe='')}/locations/{quote(self.region, safe='')}"
            f"/publishers/anthropic/models/{quote(model, safe='@')}:streamRawPredict"
        )

    def body_for(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The Vertex JSON body: no ``model``, ``stream: true``, plus ``anthropic_version``.

        Example:
            >>> VertexProvider("p", "us", access_token="t").body_for({"model": "m", "max_tokens": 5})
            {'max_tokens': 5, 'stream': True, 'anthropic_version': 'vertex-2023-10-16'}
        """
        body = {k: v for k, v in params.items() if k != "model"}
        body["stream"] = True
        body.setdefault("anthropic_version", self.anthropic_version)
        return body

    def encode(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> bytes:
        """The JSON body (:meth:`body_for`), serialized (betas go in a header)."""
        return _json.dumps(self.body_for(params))

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = _MESSAGES_PATH,
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The authenticated streaming request for these Messages params.

        Example::

            request = await VertexProvider("my-project", "global").build_request(
                {"model": "claude-haiku-4-5@20251001", "max_tokens": 64,
                 "messages": [{"role": "user", "content": "Hi"}]}, betas=["context-1m-2025-08-07"])
        """
        if path.split("?", 1)[0] != _MESSAGES_PATH:
            raise ValueError(f"Vertex AI supports only {_MESSAGES_PATH} streaming, not {path!r}")
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("params['model'] must be a Vertex model id such as 'claude-haiku-4-5@20251001'")
        headers = {"content-type": "application/json"}
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        if self._access_token is not None:
            token, project, quota_project = self._access_token, self.project_id, None
        else:
            loop = asyncio.get_running_loop()
            token, project, quota_project = await loop.run_in_executor(None, self._fresh_token)
        url = self.url_for(model, project)
        headers["authorization"] = f"Bearer {token}"
        if quota_project:
            headers["x-goog-user-project"] = quota_project
        return HTTPRequest("POST", url, headers, body if body is not None else self.encode(params, betas))

    def _fresh_token(self) -> tuple[str, str | None, str | None]:
        """A valid token, refreshing the credentials if needed (blocking)."""
        with self._lock:
            if self._credentials is None:
                self._credentials, project = self._default_credentials()
                if self.project_id is None and isinstance(project, str) and project:
                    self.project_id = project
            credentials = self._credentials
            if not getattr(credentials, "token", None) or getattr(credentials, "expired", False):
                try:
                    credentials.refresh(_auth_request())
                except ImportError:
                    raise
                except Exception as exc:
                    raise RxClaudeError(f"could not refresh Google credentials ({type(exc).__name__})") from exc
            token = getattr(credentials, "token", None)
            if not isinstance(token, str) or not token:
                raise RxClaudeError("Google credentials gave no access token after refresh")
            quota = getattr(credentials, "quota_project_id", None)
            return token, self.project_id, quota if isinstance(quota, str) else None

    @staticmethod
    def _default_credentials() -> tuple[Any, str | None]:
        try:
            import google.auth
        except ImportError as exc:
            raise _google_auth_error() from exc
        try:
            credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except Exception as exc:
            raise RxClaudeError(
                f"no Google credentials found ({type(exc).__name__}): pass access_token= or "
                "credentials=, or run `gcloud auth application-default login`"
            ) from exc
        return credentials, project

    # -- responses -----------------------------------------------------------------------------

    def new_decoder(self) -> FrameDecoder:
        """A fresh SSE decoder for one response body (unknown events pass through)."""
        from rxclaude.core.sse import SSEDecoder

        return SSEDecoder()

    def error_from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """Type a Vertex HTTP error: Anthropic-shaped or Google-shaped (``{"error": {"status": ...}}``).

        Example:
            >>> e = VertexProvider("p", "us", access_token="t").error_from_response(
            ...     429, {}, b'[{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}]')
            >>> type(e).__name__, e.type, e.message
            ('RateLimitError', 'rate_limit_error', 'Quota')
        """
        parsed: Any
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        google = parsed[0] if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict) else parsed
        error = google.get("error") if isinstance(google, dict) else None
        if isinstance(error, dict) and isinstance(error.get("type"), str):  # Anthropic-shaped
            return error_from_body(google, status_code=status, headers=headers)
        error_type: str | None = None
        message: Any = None
        if isinstance(error, dict):
            message = error.get("message")
            status_name = error.get("status")
            if isinstance(status_name, str):
                error_type = _GOOGLE_STATUS_TYPES.get(status_name, status_name)
        if not isinstance(message, str) or not message:
            text = body.decode("utf-8", "replace").strip()
            message = text[:500] if text and parsed is None else f"HTTP {status}"
        cls = error_class_for(error_type, status)
        request_id = _header(headers, "x-request-id") or _header(headers, "request-id")
        return cls(message, type=error_type, status_code=status, request_id=request_id, body=parsed, headers=headers)


def _auth_request() -> Any:
    """A blocking google-auth transport for token refresh (requests, else urllib3)."""
    try:
        from google.auth.transport.requests import Request

        return Request()
    except ImportError:
        pass
    try:
        import urllib3
        from google.auth.transport.urllib3 import Request as Urllib3Request
    except ImportError as exc:
        raise _google_auth_error() from exc
    return Urllib3Request(urllib3.PoolManager())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value
