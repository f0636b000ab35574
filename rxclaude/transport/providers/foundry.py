"""Claude in Microsoft Foundry: the first-party Messages API under an Azure resource.

Strategy: the base is ``https://{resource}.services.ai.azure.com/anthropic`` (or
``ANTHROPIC_FOUNDRY_BASE_URL``), paths and SSE are first-party.  An API key goes in both
``x-api-key`` and ``api-key`` (as the official SDK sends it); otherwise a Microsoft Entra ID
bearer token: from a callable you give (``token_provider``, sync or async, called per request
like the SDK's ``azure_ad_token_provider``), from an azure-identity credential
(``get_token``, sync or ``.aio``), or from ``DefaultAzureCredential`` when nothing else is
configured.  Tokens are cached until five minutes before they expire and fetched off the
event loop (a sync ``get_token`` blocks).  ``model`` is your deployment name (by default the
model id, e.g. ``claude-sonnet-4-5``).  azure-identity is optional
(``pip install 'rxclaude[foundry]'``) and imported only when a credential is needed.

Example::

    provider = FoundryProvider(resource="my-resource", api_key=os.environ["ANTHROPIC_FOUNDRY_API_KEY"])
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rxclaude.core.errors import ModelIdError, RxClaudeError
from rxclaude.transport.providers.platform import PlatformProvider, first_party_model_hint

__all__ = ["FOUNDRY_SCOPE", "FoundryProvider", "TokenProvider", "foundry_base_url"]

FOUNDRY_SCOPE = "https://ai.azure.com/.default"
"""The Entra ID scope of Foundry tokens."""

TokenProvider = Callable[[], "str | Awaitable[str]"]
"""A callable returning a bearer token (or an awaitable of one), called for every request."""

_REFRESH_MARGIN = 300.0  # seconds before expiry that a cached token is renewed
_INSTALL_HINT = "pip install 'rxclaude[foundry]'"


def foundry_base_url(resource: str) -> str:
    """The Foundry base for a resource name.

    Example:
        >>> foundry_base_url("my-resource")
        'https://my-resource.services.ai.azure.com/anthropic'
    """
    if not resource or any(c in resource for c in "/.:@ "):
        raise ValueError(f"{resource!r} is not a Foundry resource name (e.g. 'my-resource')")
    return f"https://{resource}.services.ai.azure.com/anthropic"


class FoundryProvider(PlatformProvider):
    """Send Messages requests to Claude in Microsoft Foundry.

    Args:
        resource: the Foundry resource name; else ``ANTHROPIC_FOUNDRY_RESOURCE`` (unless a
            base URL is given).
        api_key: the resource's key; else ``ANTHROPIC_FOUNDRY_API_KEY`` (when no token source
            is given).
        token_provider: a callable returning an Entra ID token (sync or async), per request.
        credential: an azure-identity credential (e.g. ``DefaultAzureCredential()``).
        base_url: replaces the resource's base; else ``ANTHROPIC_FOUNDRY_BASE_URL``.
        scope: the token scope (``https://ai.azure.com/.default``).

    Without a key, token provider or credential, ``DefaultAzureCredential`` is used.

    Example:
        >>> FoundryProvider(resource="res", api_key="k")
        FoundryProvider(base_url='https://res.services.ai.azure.com/anthropic', auth='api_key')
    """

    name = "foundry"
    platform = "Microsoft Foundry"
    files_api = True

    def __init__(
        self,
        *,
        resource: str | None = None,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        credential: Any = None,
        base_url: str | None = None,
        scope: str = FOUNDRY_SCOPE,
    ) -> None:
        if sum(x is not None for x in (api_key, token_provider, credential)) > 1:
            raise ValueError("pass one of api_key, token_provider or credential")
        if resource is not None and base_url is not None:
            raise ValueError("resource and base_url are mutually exclusive")
        if api_key is None and token_provider is None and credential is None:
            api_key = os.environ.get("ANTHROPIC_FOUNDRY_API_KEY") or None
        base = base_url or os.environ.get("ANTHROPIC_FOUNDRY_BASE_URL") or None
        if base is None:
            resource = resource or os.environ.get("ANTHROPIC_FOUNDRY_RESOURCE") or None
            if resource is None:
                raise ValueError(
                    "FoundryProvider needs a resource: pass resource= or base_url=, or set "
                    "ANTHROPIC_FOUNDRY_RESOURCE or ANTHROPIC_FOUNDRY_BASE_URL"
                )
            base = foundry_base_url(resource)
        self.base_url = base.rstrip("/")
        self.scope = scope
        self._api_key = api_key
        self._token_provider = token_provider
        self._credential = credential
        self._token: tuple[str, float] | None = None  # (token, expires_on epoch seconds)
        self._lock = threading.Lock()

    @property
    def auth(self) -> str:
        """``"api_key"``, ``"token_provider"``, ``"credential"`` or ``"default_credential"``."""
        if self._api_key is not None:
            return "api_key"
        if self._token_provider is not None:
            return "token_provider"
        return "credential" if self._credential is not None else "default_credential"

    def __repr__(self) -> str:
        return f"FoundryProvider(base_url={self.base_url!r}, auth={self.auth!r})"

    def check_model(self, model: object) -> None:
        """A deployment name: the model id by default, or the name you gave the deployment.

        Example:
            >>> FoundryProvider(resource="r", api_key="k").check_model("claude-opus-4-1@20250805")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            rxclaude.core.errors.ModelIdError: 'claude-opus-4-1@20250805' is a Vertex AI model id; ...
        """
        if not isinstance(model, str) or not model:
            raise ModelIdError("params['model'] must name your Foundry deployment, e.g. 'claude-sonnet-4-5'")
        hint = first_party_model_hint(model)
        if hint is not None:
            raise ModelIdError(f"{hint} ({self.platform} takes your deployment name, by default the model id)")

    async def authorize(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """Add ``x-api-key`` and ``api-key``, or ``Authorization: Bearer`` with an Entra ID token."""
        if self._api_key is not None:
            headers["x-api-key"] = self._api_key
            headers["api-key"] = self._api_key
            return headers
        headers["authorization"] = f"Bearer {await self.token()}"
        return headers

    async def token(self) -> str:
        """An Entra ID token: the provider's (per call), or a cached credential token."""
        if self._token_provider is not None:
            value = self._token_provider()
            if inspect.isawaitable(value):
                value = await value
            if not isinstance(value, str) or not value:
                raise RxClaudeError("token_provider must return a non-empty string token")
            return value
        cached = self._token
        if cached is not None and cached[1] - _REFRESH_MARGIN > time.time():
            return cached[0]
        credential = self._credential
        getter = getattr(credential, "get_token", None) if credential is not None else None
        if getter is not None and inspect.iscoroutinefunction(getter):
            try:
                access = await getter(self.scope)
            except Exception as exc:
                raise RxClaudeError(f"could not get an Entra ID token ({type(exc).__name__})") from exc
            return self._store(access)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._fetch_blocking)

    def _fetch_blocking(self) -> str:
        with self._lock:
            cached = self._token
            if cached is not None and cached[1] - _REFRESH_MARGIN > time.time():
                return cached[0]
            if self._credential is None:
                self._credential = _default_credential()
            try:
                access = self._credential.get_token(self.scope)
            except Exception as exc:
                raise RxClaudeError(f"could not get an Entra ID token ({type(exc).__name__})") from exc
            return self._store(access)

    def _store(self, access: Any) -> str:
        token = getattr(access, "token", None)
        expires = getattr(access, "expires_on", None)
        if not isinstance(token, str) or not token:
            raise RxClaudeError("the Azure credential returned no token")
        self._token = (token, float(expires) if isinstance(expires, int | float) else time.time() + 600.0)
        return token


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise ImportError(f"Microsoft Entra ID authentication needs azure-identity: {_INSTALL_HINT}") from exc
    return DefaultAzureCredential()
