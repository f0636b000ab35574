"""A mock of Claude in Microsoft Foundry: ``/anthropic/v1/...`` with Azure's key and token checks.

Strategy: a :class:`~rxclaude.testing.platform.PlatformMockServer` under ``/anthropic``.  It
lets a request in with the resource key in ``x-api-key`` or ``api-key`` (both, if sent, must
agree), or with ``Authorization: Bearer`` and an Entra ID token it issued; anything else is
Azure's 401 (``{"error": {"code": "401", "message": ...}}``).  It also serves an App Service
managed-identity token endpoint (``GET /msi/token``, checked like Azure's: the
``X-IDENTITY-HEADER`` secret and the ``resource``), so azure-identity's own
``ManagedIdentityCredential``/``DefaultAzureCredential`` fetch real tokens from it when
``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` point here (:meth:`MockFoundryServer.identity_env`).

Example::

    async with MockFoundryServer(api_key="k") as server:
        client = FoundryClient(api_key="k", base_url=server.base_url)
"""

from __future__ import annotations

import hmac
import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from rxclaude.testing.platform import PlatformMockServer
from rxclaude.testing.replies import Reply
from rxclaude.testing.server import RecordedRequest

__all__ = ["FOUNDRY_TEST_KEY", "MockFoundryServer"]

FOUNDRY_TEST_KEY = "foundry-mock-key-not-a-secret"
_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)


class MockFoundryServer(PlatformMockServer):
    """A mock Foundry resource on ``127.0.0.1``: give :attr:`base_url` to a client.

    Args:
        api_key: the resource key accepted in ``x-api-key`` / ``api-key``.
        tokens: Entra ID bearer tokens accepted besides the ones :meth:`issue_token` minted.
        identity_header: the managed-identity endpoint's ``X-IDENTITY-HEADER`` secret.
        token_resource: the ``resource`` tokens are issued for (``https://ai.azure.com``).
        token_lifetime: seconds a minted token lives.
        **options: :class:`~rxclaude.testing.MockServer` options.
    """

    def __init__(
        self,
        *,
        api_key: str = FOUNDRY_TEST_KEY,
        tokens: tuple[str, ...] = (),
        identity_header: str = "mock-identity-header",
        token_resource: str = "https://ai.azure.com",
        token_lifetime: int = 3600,
        **options: Any,
    ) -> None:
        super().__init__(prefix="/anthropic", api_key=api_key, **options)
        self.foundry_key = api_key
        self.tokens: set[str] = set(tokens)
        self.identity_header = identity_header
        self.token_resource = token_resource
        self.token_lifetime = token_lifetime
        self.tokens_issued = 0
        self._counter = itertools.count(1)
        self.add_route("GET", "/msi/token", self._msi_token)

    def identity_env(self) -> dict[str, str]:
        """The environment that sends azure-identity's managed-identity credential here."""
        return {"IDENTITY_ENDPOINT": f"{self.url}/msi/token", "IDENTITY_HEADER": self.identity_header}

    def issue_token(self) -> str:
        """Mint a bearer token the server will accept.

        Example::

            client = FoundryClient(token_provider=server.issue_token, base_url=server.base_url)
        """
        token = f"eyJ.mock-entra-{next(self._counter)}"
        self.tokens.add(token)
        self.tokens_issued += 1
        return token

    def rate_limit_reply(self, retry_after: str = "0") -> Reply:
        """Azure's 429 (``{"error": {"code": "429", ...}}`` with ``retry-after``)."""
        return Reply.json(
            {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}},
            status=429,
            headers={"retry-after": retry_after},
        )

    def authenticate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """An API key in ``x-api-key``/``api-key``, or a bearer token this server issued."""
        keys = [v for v in (request.headers.get("x-api-key"), request.headers.get("api-key")) if v is not None]
        if keys:
            if all(hmac.compare_digest(k, self.foundry_key) for k in keys):
                return None
            return self.gateway_error(record, 401, "401", _DENIED)
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip() in self.tokens:
            return None
        if auth:
            return self.gateway_error(
                record,
                401,
                "401",
                "Unauthorized. Access token is missing, invalid, "
                "audience is incorrect (https://ai.azure.com), or have expired.",
            )
        return self.gateway_error(record, 401, "401", _DENIED)

    def gateway_error(self, record: RecordedRequest, status: int, kind: str, message: str) -> web.Response:
        """Azure's error shape: ``{"error": {"code": ..., "message": ...}}``."""
        code = kind if kind != "NotFound" else "404"
        body = {"error": {"code": code, "message": message}}
        headers = {"content-type": "application/json", "apim-request-id": record.request_id}
        return web.Response(status=status, body=orjson.dumps(body), headers=headers)

    async def _msi_token(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-IDENTITY-HEADER", "")
        if not hmac.compare_digest(secret, self.identity_header):
            return web.json_response({"statusCode": 401, "message": "Unauthorized"}, status=401)
        resource = request.query.get("resource", "")
        if resource.rstrip("/") != self.token_resource.rstrip("/"):
            return web.json_response({"statusCode": 400, "message": f"unknown resource {resource!r}"}, status=400)
        token = self.issue_token()
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + self.token_lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": "00000000-0000-0000-0000-000000000000",
            }
        )
