"""A mock of Claude on Google Cloud (Anthropic-managed): the gateway path, Google tokens, Google errors.

Strategy: a :class:`~rxclaude.testing.platform.PlatformMockServer` under
``/v1/projects/{project}/locations/{location}/workspaces/{workspace}/invoke`` (Messages and
the Files API).  The gateway's checks answer Google-shaped errors (``{"error": {"code",
"message", "status"}}``): another project is ``PERMISSION_DENIED``, another location or
workspace ``NOT_FOUND``, a missing or unknown bearer token ``UNAUTHENTICATED``.  Tokens are
the ones given or minted by the server's OAuth2 token endpoint (``POST /token``, the
refresh-token grant), so google-auth's own ``Credentials.refresh`` fetches them from here.

Example::

    async with MockGoogleCloudServer(project="p", workspace_id="w") as server:
        client = GoogleCloudClient("p", workspace_id="w", access_token=server.issue_token(),
                                   base_url=server.base_url)
"""

from __future__ import annotations

import hmac
import itertools
from typing import Any

import orjson
from aiohttp import web

from rxclaude.testing.platform import PlatformMockServer
from rxclaude.testing.replies import Reply
from rxclaude.testing.server import RecordedRequest

__all__ = ["MOCK_CLIENT_ID", "MOCK_CLIENT_SECRET", "MOCK_REFRESH_TOKEN", "MockGoogleCloudServer"]

MOCK_CLIENT_ID = "mock-client-id.apps.googleusercontent.com"
MOCK_CLIENT_SECRET = "mock-client-secret-not-a-secret"
MOCK_REFRESH_TOKEN = "1//mock-refresh-token-not-a-secret"
_ROUTE = "/v1/projects/{project}/locations/{location}/workspaces/{workspace}/invoke"
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


class MockGoogleCloudServer(PlatformMockServer):
    """A mock ``claude.googleapis.com`` on ``127.0.0.1``: give :attr:`base_url` to a client.

    Args:
        project, location, workspace_id: what the path must name.
        tokens: bearer tokens accepted besides the minted ones.
        refresh_token: the refresh token ``POST /token`` accepts (with the mock client id/secret).
        **options: :class:`~rxclaude.testing.MockServer` options.
    """

    def __init__(
        self,
        *,
        project: str = "mock-project",
        location: str = "global",
        workspace_id: str = "wrkspc_01MockGoogleWorkspace",
        tokens: tuple[str, ...] = (),
        refresh_token: str = MOCK_REFRESH_TOKEN,
        **options: Any,
    ) -> None:
        prefix = _ROUTE.format(project=project, location=location, workspace=workspace_id)
        super().__init__(prefix=prefix, route_prefix=_ROUTE, files_api=True, **options)
        self.project = project
        self.location = location
        self.workspace_id = workspace_id
        self.tokens: set[str] = set(tokens)
        self.refresh_token = refresh_token
        self.tokens_issued = 0
        self._counter = itertools.count(1)
        self.add_route("POST", "/token", self._token)

    @property
    def token_uri(self) -> str:
        """The OAuth2 token endpoint to give google-auth credentials."""
        return self.url + "/token"

    def issue_token(self) -> str:
        """Mint an access token the server will accept."""
        token = f"ya29.mock-{next(self._counter)}"
        self.tokens.add(token)
        self.tokens_issued += 1
        return token

    def quota_reply(self) -> Reply:
        """Google's 429 ``RESOURCE_EXHAUSTED``."""
        return Reply.json(
            {
                "error": {
                    "code": 429,
                    "message": "Quota exceeded for aiplatform.googleapis.com.",
                    "status": "RESOURCE_EXHAUSTED",
                }
            },
            status=429,
        )

    def check_auth(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """The gateway's checks: project, location, workspace, then the bearer token."""
        info = request.match_info
        if "project" in info:
            if info["project"] != self.project:
                return self.gateway_error(
                    record, 403, "PERMISSION_DENIED", f"Permission denied on resource project {info['project']}."
                )
            if info["location"] != self.location:
                return self.gateway_error(record, 404, "NOT_FOUND", f"Location {info['location']} is not found.")
            if info["workspace"] != self.workspace_id:
                return self.gateway_error(record, 404, "NOT_FOUND", f"Workspace {info['workspace']} is not found.")
        return super().check_auth(request, record)

    def authenticate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """A bearer token this server knows."""
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip() in self.tokens:
            return None
        return self.gateway_error(
            record,
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.",
        )

    def gateway_error(self, record: RecordedRequest, status: int, kind: str, message: str) -> web.Response:
        """Google's shape: ``{"error": {"code", "message", "status"}}``."""
        status_name = _STATUS.get(status, "UNKNOWN") if kind == "NotFound" or not kind.isupper() else kind
        body = {"error": {"code": status, "message": message, "status": status_name}}
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        ok = (
            form.get("grant_type") == "refresh_token"
            and hmac.compare_digest(str(form.get("refresh_token", "")), self.refresh_token)
            and form.get("client_id") == MOCK_CLIENT_ID
            and hmac.compare_digest(str(form.get("client_secret", "")), MOCK_CLIENT_SECRET)
        )
        if not ok:
            return web.json_response({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)
        return web.json_response(
            {
                "access_token": self.issue_token(),
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/cloud-platform",
            }
        )
