"""A mock of Claude Platform on AWS: the first-party API behind SigV4 and a workspace header.

Strategy: a :class:`~rxclaude.testing.sigv4.SigV4MockServer` for the service
``aws-external-anthropic`` at the root path (Messages and the Files API): a request needs a
SigV4 signature for that service and the server's region (checked with botocore's own
signer) or a workspace API key as a bearer token, and the ``anthropic-workspace-id`` of the
server's workspace (a missing one is a 400, another workspace a 403, Anthropic-shaped).

Example::

    async with MockAWSServer(region="us-west-2", workspace_id="wrkspc_mock") as server:
        client = AnthropicAWSClient("us-west-2", workspace_id="wrkspc_mock", api_key=MOCK_AWS_API_KEY,
                                    base_url=server.base_url)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from rxclaude.testing.mantle import MOCK_ACCESS_KEY, MOCK_SECRET_KEY
from rxclaude.testing.server import RecordedRequest
from rxclaude.testing.sigv4 import SigV4MockServer

__all__ = ["MOCK_AWS_API_KEY", "MOCK_WORKSPACE_ID", "MockAWSServer"]

MOCK_AWS_API_KEY = "aws-workspace-key-mock-not-a-secret"
MOCK_WORKSPACE_ID = "wrkspc_01MockWorkspace000000"


class MockAWSServer(SigV4MockServer):
    """A mock ``aws-external-anthropic.{region}.api.aws`` on ``127.0.0.1`` (Messages and Files).

    Args:
        region: the region signatures must be scoped to.
        workspace_id: the workspace requests must name.
        keys: access key id -> secret (default: the mantle mock's test identity).
        api_keys: workspace API keys accepted as bearer tokens.
        **options: :class:`~rxclaude.testing.MockServer` options.
    """

    def __init__(
        self,
        *,
        region: str = "us-west-2",
        workspace_id: str = MOCK_WORKSPACE_ID,
        keys: Mapping[str, str] | None = None,
        api_keys: tuple[str, ...] = (MOCK_AWS_API_KEY,),
        **options: Any,
    ) -> None:
        super().__init__(
            service="aws-external-anthropic",
            region=region,
            keys=keys or {MOCK_ACCESS_KEY: MOCK_SECRET_KEY},
            api_keys=api_keys,
            prefix="",
            files_api=True,
            **options,
        )
        self.workspace_id = workspace_id

    def authenticate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """AWS auth (signature or key), then the workspace header."""
        denied = super().authenticate(request, record)
        if denied is not None:
            return denied
        workspace = request.headers.get("anthropic-workspace-id")
        if not workspace:
            return self.error_response(
                record, 400, "invalid_request_error", "anthropic-workspace-id: header is required"
            )
        if workspace != self.workspace_id:
            return self.error_response(
                record, 403, "permission_error", f"this identity cannot use workspace {workspace!r}"
            )
        return None
