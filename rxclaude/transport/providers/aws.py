"""Claude Platform on AWS: the first-party API, operated by Anthropic, behind AWS auth.

Strategy: the base is ``https://aws-external-anthropic.{region}.api.aws`` (or
``ANTHROPIC_AWS_BASE_URL``); paths, body, SSE, model ids and the Files API are first-party.
Every request carries ``anthropic-workspace-id`` (``ANTHROPIC_AWS_WORKSPACE_ID``, required)
and is signed with SigV4 for the service ``aws-external-anthropic`` over the exact bytes
sent, or carries a workspace API key (``ANTHROPIC_AWS_API_KEY``) as ``Authorization:
Bearer``.  Auth precedence follows the official SDK: an ``api_key`` argument, then explicit
keys or a profile, then ``ANTHROPIC_AWS_API_KEY``, then botocore's default chain.  botocore
is optional (``rxclaude[bedrock]``).

Example::

    provider = AnthropicAWSProvider("us-west-2", workspace_id="wrkspc_01...")
"""

from __future__ import annotations

import asyncio
import os

from rxclaude.core.errors import ModelIdError
from rxclaude.transport.providers.platform import PlatformProvider, first_party_model_hint
from rxclaude.transport.providers.sigv4 import SigV4Signer, aws_region

__all__ = ["AWS_SERVICE", "AnthropicAWSProvider", "aws_base_url"]

AWS_SERVICE = "aws-external-anthropic"
"""The SigV4 signing name of Claude Platform on AWS."""


def aws_base_url(region: str) -> str:
    """Claude Platform on AWS's base for a region.

    Example:
        >>> aws_base_url("us-west-2")
        'https://aws-external-anthropic.us-west-2.api.aws'
    """
    return f"https://aws-external-anthropic.{region}.api.aws"


class AnthropicAWSProvider(PlatformProvider):
    """Send Messages (and Files API) requests to Claude Platform on AWS.

    Args:
        region: the AWS region; else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
        workspace_id: the workspace; else ``ANTHROPIC_AWS_WORKSPACE_ID`` (required).
        access_key, secret_key, session_token: explicit AWS keys (SigV4).
        profile: a profile of the shared AWS files (SigV4).
        api_key: a workspace API key (bearer); else ``ANTHROPIC_AWS_API_KEY`` when no keys or
            profile are given.
        base_url: replaces the region's base; else ``ANTHROPIC_AWS_BASE_URL``.

    Example:
        >>> AnthropicAWSProvider("us-west-2", workspace_id="wrkspc_1", api_key="k")
        AnthropicAWSProvider(region='us-west-2', workspace_id='wrkspc_1', auth='bearer', base_url='https://aws-external-anthropic.us-west-2.api.aws')
    """

    name = "aws"
    platform = "Claude Platform on AWS"
    files_api = True

    def __init__(
        self,
        region: str | None = None,
        *,
        workspace_id: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
    ) -> None:
        if api_key is not None and (access_key is not None or profile is not None):
            raise ValueError("pass api_key (bearer) or AWS keys/profile (SigV4), not both")
        if api_key is None and access_key is None and secret_key is None and profile is None:
            api_key = os.environ.get("ANTHROPIC_AWS_API_KEY") or None
        self.region: str | None = aws_region(region)
        workspace_id = workspace_id or os.environ.get("ANTHROPIC_AWS_WORKSPACE_ID") or None
        if workspace_id is None:
            raise ValueError(
                "Claude Platform on AWS needs a workspace: pass workspace_id= or set ANTHROPIC_AWS_WORKSPACE_ID"
            )
        self.workspace_id: str = workspace_id
        base = base_url or os.environ.get("ANTHROPIC_AWS_BASE_URL") or None
        if base is None:
            if self.region is None:
                raise ValueError(
                    "AnthropicAWSProvider needs a region: pass region= or set AWS_REGION "
                    "(or give base_url= / ANTHROPIC_AWS_BASE_URL)"
                )
            base = aws_base_url(self.region)
        self.base_url = base.rstrip("/")
        self.default_headers = {"anthropic-workspace-id": workspace_id}
        self._api_key = api_key
        self._signer: SigV4Signer | None = None
        if api_key is None:
            if self.region is None:
                raise ValueError("SigV4 signing needs a region: pass region= or set AWS_REGION")
            self._signer = SigV4Signer(
                AWS_SERVICE,
                self.region,
                access_key=access_key,
                secret_key=secret_key,
                session_token=session_token,
                profile=profile,
                extra="bedrock",
            )

    @property
    def signs_body(self) -> bool:  # type: ignore[override]
        """Whether requests are SigV4-signed (over the body)."""
        return self._signer is not None

    @property
    def auth(self) -> str:
        """``"bearer"`` (workspace API key) or ``"sigv4"``."""
        return "bearer" if self._api_key is not None else "sigv4"

    def __repr__(self) -> str:
        return (
            f"AnthropicAWSProvider(region={self.region!r}, workspace_id={self.workspace_id!r}, "
            f"auth={self.auth!r}, base_url={self.base_url!r})"
        )

    def check_model(self, model: object) -> None:
        """A first-party model id (no ``anthropic.`` prefix, no ``-v1:0``).

        Example:
            >>> AnthropicAWSProvider("us-west-2", workspace_id="w", api_key="k").check_model(  # doctest: +ELLIPSIS
            ...     "anthropic.claude-sonnet-4-6")
            Traceback (most recent call last):
            ...
            rxclaude.core.errors.ModelIdError: 'anthropic.claude-sonnet-4-6' is an Amazon Bedrock model id; ...
        """
        if not isinstance(model, str) or not model:
            raise ModelIdError("params['model'] must be a first-party model id, e.g. 'claude-sonnet-4-6'")
        hint = first_party_model_hint(model)
        if hint is not None:
            raise ModelIdError(f"{hint} ({self.platform} takes first-party model ids)")

    async def authorize(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """Add the bearer API key, or sign with SigV4 (``aws-external-anthropic``) off the loop."""
        if self._signer is None:
            headers["authorization"] = f"Bearer {self._api_key}"
            return headers
        signer = self._signer
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: signer.sign(method, url, headers, body, content_sha256=content_sha256)
        )
