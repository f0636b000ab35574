"""Claude on Google Cloud, Anthropic-managed: the first-party API behind Google's gateway.

Strategy: the base is ``https://claude.googleapis.com/v1/projects/{project}/locations/
{location}/workspaces/{workspace}/invoke`` (or ``ANTHROPIC_GOOGLE_CLOUD_BASE_URL``); below it
paths, body, SSE, model ids and the Files API are first-party (the gateway proxies them
verbatim).  Each request carries a Google OAuth2 bearer token: a ready ``access_token``, a
``token_provider`` callable (sync or async, per request), google-auth ``credentials``, or
Application Default Credentials (``google.auth.default``, cloud-platform scope), loaded and
refreshed in the default executor when empty or expired (a refresh is blocking I/O) under a
lock, so concurrent requests refresh once.  The project comes from the argument,
``ANTHROPIC_GOOGLE_CLOUD_PROJECT``, ``GOOGLE_CLOUD_PROJECT``, the credentials, or ADC on the
first request; the location defaults to ``global``.  The gateway's own errors are
Google-shaped (``{"error": {"status": "RESOURCE_EXHAUSTED"}}``) and map to the same typed
errors.  google-auth is optional (``pip install 'rxclaude[google-cloud]'``).

Example::

    provider = GoogleCloudProvider(project="my-project", workspace_id="wrkspc_01...")
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from rxclaude.core.errors import ModelIdError, RxClaudeError
from rxclaude.transport.providers.base import HTTPRequest
from rxclaude.transport.providers.platform import PlatformProvider, first_party_model_hint

__all__ = ["CLOUD_PLATFORM_SCOPE", "GOOGLE_CLOUD_ORIGIN", "GoogleCloudProvider", "google_cloud_base_url"]

GOOGLE_CLOUD_ORIGIN = "https://claude.googleapis.com"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_INSTALL_HINT = "pip install 'rxclaude[google-cloud]'"


def google_cloud_base_url(project: str, location: str, workspace_id: str, origin: str = GOOGLE_CLOUD_ORIGIN) -> str:
    """The gateway base for a project, location and workspace (each path-quoted).

    Example:
        >>> google_cloud_base_url("my-project", "global", "wrkspc_1")
        'https://claude.googleapis.com/v1/projects/my-project/locations/global/workspaces/wrkspc_1/invoke'
    """
    for label, value in (("project", project), ("location", location), ("workspace_id", workspace_id)):
        if not value:
            raise ValueError(f"{label} must be non-empty")
    q = lambda v: quote(v, safe="")  # noqa: E731
    return f"{origin}/v1/projects/{q(project)}/locations/{q(location)}/workspaces/{q(workspace_id)}/invoke"


class GoogleCloudProvider(PlatformProvider):
    """Send Messages (and Files API) requests to Claude on Google Cloud (Anthropic-managed).

    Args:
        project: the Google Cloud project; else ``ANTHROPIC_GOOGLE_CLOUD_PROJECT``, else
            ``GOOGLE_CLOUD_PROJECT``, else the credentials' project (on first use).
        location: else ``ANTHROPIC_GOOGLE_CLOUD_LOCATION``, else ``"global"``.
        workspace_id: the Anthropic workspace; else ``ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID``
            (required unless ``base_url`` is given).
        access_token: a ready OAuth2 access token (never refreshed).
        token_provider: a callable returning a token (sync or async), called per request.
        credentials: google-auth credentials (refreshed off the loop when empty or expired);
            default: Application Default Credentials on first use.
        base_url: replaces the derived gateway base; else ``ANTHROPIC_GOOGLE_CLOUD_BASE_URL``.

    Example:
        >>> GoogleCloudProvider(project="p", workspace_id="w", access_token="t")
        GoogleCloudProvider(project='p', location='global', auth='access_token', base_url='https://claude.googleapis.com/v1/projects/p/locations/global/workspaces/w/invoke')
    """

    name = "google-cloud"
    platform = "Google Cloud (Anthropic-managed)"
    files_api = True

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        *,
        workspace_id: str | None = None,
        access_token: str | None = None,
        token_provider: Callable[[], str | Awaitable[str]] | None = None,
        credentials: Any = None,
        base_url: str | None = None,
    ) -> None:
        if sum(x is not None for x in (access_token, token_provider, credentials)) > 1:
            raise ValueError("pass one of access_token, token_provider or credentials")
        self.location: str = location or os.environ.get("ANTHROPIC_GOOGLE_CLOUD_LOCATION") or "global"
        project = project or os.environ.get("ANTHROPIC_GOOGLE_CLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project and credentials is not None:
            found = getattr(credentials, "project_id", None) or getattr(credentials, "quota_project_id", None)
            project = found if isinstance(found, str) and found else None
        self.project: str | None = project or None
        self.workspace_id: str | None = workspace_id or os.environ.get("ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID") or None
        explicit = base_url or os.environ.get("ANTHROPIC_GOOGLE_CLOUD_BASE_URL") or None
        if explicit is None and self.workspace_id is None:
            raise ValueError(
                "Google Cloud needs a workspace: pass workspace_id= or set ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID"
            )
        self._explicit_base = explicit.rstrip("/") if explicit else None
        self._access_token = access_token
        self._token_provider = token_provider
        self._credentials = credentials
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:  # type: ignore[override]
        """The gateway base (derived once the project is known)."""
        if self._explicit_base is not None:
            return self._explicit_base
        if self.project is None or self.workspace_id is None:
            raise ValueError(
                "Google Cloud needs a project: pass project=, set ANTHROPIC_GOOGLE_CLOUD_PROJECT, "
                "or use credentials that name one"
            )
        return google_cloud_base_url(self.project, self.location, self.workspace_id)

    @property
    def auth(self) -> str:
        """``"access_token"``, ``"token_provider"``, ``"credentials"`` or ``"default"`` (ADC)."""
        if self._access_token is not None:
            return "access_token"
        if self._token_provider is not None:
            return "token_provider"
        return "credentials" if self._credentials is not None else "default"

    def __repr__(self) -> str:
        base = self._explicit_base
        if base is None and self.project is not None and self.workspace_id is not None:
            base = google_cloud_base_url(self.project, self.location, self.workspace_id)
        return (
            f"GoogleCloudProvider(project={self.project!r}, location={self.location!r}, "
            f"auth={self.auth!r}, base_url={base!r})"
        )

    def check_model(self, model: object) -> None:
        """A first-party model id (not Vertex AI's ``name@date``).

        Example:
            >>> GoogleCloudProvider(project="p", workspace_id="w", access_token="t").check_model(  # doctest: +ELLIPSIS
            ...     "claude-sonnet-4-5@20250929")
            Traceback (most recent call last):
            ...
            rxclaude.core.errors.ModelIdError: 'claude-sonnet-4-5@20250929' is a Vertex AI model id; ...
        """
        if not isinstance(model, str) or not model:
            raise ModelIdError("params['model'] must be a first-party model id, e.g. 'claude-haiku-4-5'")
        hint = first_party_model_hint(model)
        if hint is not None:
            raise ModelIdError(f"{hint} ({self.platform} takes first-party model ids; Vertex AI is provider 'vertex')")

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = "/v1/messages",
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The authenticated request (the token is fetched first: ADC may name the project)."""
        if body is None:
            body = self.encode(params, betas)
        headers = await self.authorize("POST", "", self.headers(betas), body)
        return HTTPRequest("POST", self.base_url + path, headers, body)

    async def authorize(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """Add ``Authorization: Bearer`` with a Google OAuth2 access token."""
        if self._access_token is not None:
            token = self._access_token
        elif self._token_provider is not None:
            value = self._token_provider()
            if inspect.isawaitable(value):
                value = await value
            if not isinstance(value, str) or not value:
                raise RxClaudeError("token_provider must return a non-empty string token")
            token = value
        else:
            loop = asyncio.get_running_loop()
            token = await loop.run_in_executor(None, self._fresh_token)
        headers["authorization"] = f"Bearer {token}"
        return headers

    def _fresh_token(self) -> str:
        """A valid token, loading ADC or refreshing the credentials if needed (blocking)."""
        with self._lock:
            if self._credentials is None:
                self._credentials, project = _default_credentials()
                if self.project is None and isinstance(project, str) and project:
                    self.project = project
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
            return token


def _default_credentials() -> tuple[Any, str | None]:
    try:
        import google.auth
    except ImportError as exc:
        raise ImportError(f"Google Cloud authentication needs google-auth: {_INSTALL_HINT}") from exc
    try:
        credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except Exception as exc:
        raise RxClaudeError(
            f"no Google credentials found ({type(exc).__name__}): pass access_token=, token_provider= or "
            "credentials=, or run `gcloud auth application-default login`"
        ) from exc
    return credentials, project


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
        raise ImportError(f"Google Cloud authentication needs google-auth: {_INSTALL_HINT}") from exc
    return Urllib3Request(urllib3.PoolManager())
