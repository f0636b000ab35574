"""The shared part of the platform mocks: the first-party mock served under a platform's path.

Strategy: a :class:`PlatformMockServer` *is* a :class:`~rxclaude.testing.MockServer` (scripted
:class:`~rxclaude.testing.Reply` objects, recorded requests, faults, the Files API store),
with its Messages (and, where the platform has them, Files) routes mounted under the
platform's path prefix.  :meth:`~PlatformMockServer.check_auth`, which every route calls,
first refuses a path outside the prefix, then asks the subclass's
:meth:`~PlatformMockServer.authenticate` (API-key headers, bearer tokens, SigV4 signatures)
and answers refusals in the platform gateway's own error shape, before the first-party
version check.  Subclasses: :mod:`~rxclaude.testing.foundry`, :mod:`~rxclaude.testing.mantle`,
:mod:`~rxclaude.testing.aws`, :mod:`~rxclaude.testing.google_cloud`.

Example::

    async with MockFoundryServer(api_key="k") as server:
        server.enqueue(Reply.text("Hi"))
        client = FoundryClient(api_key="k", base_url=server.base_url)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rxclaude.testing.server import MockServer, RecordedRequest

__all__ = ["PlatformMockServer"]


class PlatformMockServer(MockServer):
    """A :class:`~rxclaude.testing.MockServer` mounted under ``prefix``, with platform auth.

    Args:
        prefix: the path the platform serves the first-party API under (``/anthropic``...).
        route_prefix: the same as an aiohttp route pattern (``{name}`` parts), if it has any;
            :meth:`check_auth` then tells a wrong value from a wrong path.
        files_api: also serve the Files API under the prefix.
        host: the only ``Host`` accepted (port aside), e.g. ``my-res.services.ai.azure.com``;
            ``None`` accepts any (clients that reach the mock by ``127.0.0.1``).
        **options: :class:`~rxclaude.testing.MockServer` options (``default_reply``, ``seed``...).
    """

    def __init__(
        self,
        *,
        prefix: str,
        route_prefix: str | None = None,
        files_api: bool = True,
        host: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.host = host
        self.prefix = prefix.rstrip("/")
        self.route_prefix = (route_prefix or prefix).rstrip("/")
        self.files_api = files_api
        if self.route_prefix:  # at the root the first-party routes are already there
            self.add_route("POST", self.route_prefix + "/v1/messages", self._messages)
            self.add_route("POST", self.route_prefix + "/v1/messages/count_tokens", self._count_tokens)

    async def start(self) -> MockServer:
        """Add the prefixed Files API routes (if the platform has them), then start."""
        if self.files_api:
            self.files.install(self.route_prefix)
        return await super().start()

    @property
    def base_url(self) -> str:
        """The URL to give a client as its base (``url`` + the prefix)."""
        return self.url + self.prefix

    def check_auth(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """Refuse another host, paths outside the prefix and unauthenticated requests the platform's way."""
        if self.host is not None and (request.host or "").rsplit(":", 1)[0] != self.host:
            return self.gateway_error(record, 404, "NotFound", f"unknown host {request.host!r}")
        if not request.path.startswith(self.prefix + "/v1/"):
            return self.gateway_error(record, 404, "NotFound", f"no route for {request.path}")
        if not self.files_api and request.path.startswith(self.prefix + "/v1/files"):
            return self.gateway_error(record, 404, "NotFound", f"no route for {request.path}")
        denied = self.authenticate(request, record)
        if denied is not None:
            return denied
        if self.require_version and not request.headers.get("anthropic-version"):
            return self.error_response(record, 400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def authenticate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """The platform's authentication check (subclasses); ``None`` lets the request in."""
        raise NotImplementedError

    def gateway_error(self, record: RecordedRequest, status: int, kind: str, message: str) -> web.Response:
        """An error answered by the platform's gateway, in its shape (subclasses override)."""
        return self.error_response(
            record, status, "not_found_error" if status == 404 else "authentication_error", message
        )
