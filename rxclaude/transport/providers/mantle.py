"""Amazon Bedrock's Messages endpoint ("mantle"): first-party paths, SigV4 or a Bedrock API key.

Strategy: the base is ``https://bedrock-mantle.{region}.api.aws/anthropic`` (or
``ANTHROPIC_BEDROCK_MANTLE_BASE_URL``); the body, the ``anthropic-version`` header and the SSE
answer are first-party.  Requests are signed with SigV4 for the service ``bedrock-mantle`` over
the exact bytes sent (re-signed on every retry), or carry a Bedrock API key as
``Authorization: Bearer``.  Auth precedence follows the official SDK: an ``api_key`` argument,
then explicit keys or a profile (SigV4), then ``AWS_BEARER_TOKEN_BEDROCK`` /
``ANTHROPIC_AWS_API_KEY``, then botocore's default chain (SigV4).  Model ids are Bedrock's
(``anthropic.claude-opus-4-7``, inference profiles such as ``us.anthropic.…``, or ARNs).  The
endpoint serves Messages only: the Files API is an
:class:`~rxclaude.UnsupportedFeatureError`.  botocore is optional (``rxclaude[bedrock]``).

Example::

    provider = BedrockMantleProvider("us-east-1")          # botocore's credential chain
"""

from __future__ import annotations

import asyncio
import os

from rxclaude.core.errors import ModelIdError
from rxclaude.transport.providers.platform import PlatformProvider, bedrock_model_hint
from rxclaude.transport.providers.sigv4 import SigV4Signer, aws_region

__all__ = ["MANTLE_API_KEY_ENV", "MANTLE_SERVICE", "BedrockMantleProvider", "mantle_base_url"]

MANTLE_SERVICE = "bedrock-mantle"
"""The SigV4 signing name of the endpoint."""
MANTLE_API_KEY_ENV = ("AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_AWS_API_KEY")
"""The environment variables holding a Bedrock API key, in order of precedence."""


def mantle_base_url(region: str) -> str:
    """The Messages endpoint's base for a region.

    Example:
        >>> mantle_base_url("us-east-1")
        'https://bedrock-mantle.us-east-1.api.aws/anthropic'
    """
    return f"https://bedrock-mantle.{region}.api.aws/anthropic"


def _env_key(names: tuple[str, ...]) -> str | None:
    return next((v for n in names if (v := os.environ.get(n))), None)


class BedrockMantleProvider(PlatformProvider):
    """Send Messages requests to Amazon Bedrock's Messages endpoint.

    Args:
        region: the AWS region; else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
        access_key, secret_key, session_token: explicit AWS keys (SigV4).
        profile: a profile of the shared AWS files (SigV4).
        api_key: a Bedrock API key (bearer); else ``AWS_BEARER_TOKEN_BEDROCK`` /
            ``ANTHROPIC_AWS_API_KEY`` when no keys or profile are given.
        base_url: replaces the region's base; else ``ANTHROPIC_BEDROCK_MANTLE_BASE_URL``.

    Example:
        >>> BedrockMantleProvider("us-west-2", api_key="k")
        BedrockMantleProvider(region='us-west-2', auth='bearer', base_url='https://bedrock-mantle.us-west-2.api.aws/anthropic')
    """

    name = "bedrock-mantle"
    platform = "Amazon Bedrock"
    files_api = False

    def __init__(
        self,
        region: str | None = None,
        *,
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
            api_key = _env_key(MANTLE_API_KEY_ENV)
        self.region: str | None = aws_region(region)
        base = base_url or os.environ.get("ANTHROPIC_BEDROCK_MANTLE_BASE_URL") or None
        if base is None:
            if self.region is None:
                raise ValueError(
                    "BedrockMantleProvider needs a region: pass region= or set AWS_REGION "
                    "(or give base_url= / ANTHROPIC_BEDROCK_MANTLE_BASE_URL)"
                )
            base = mantle_base_url(self.region)
        self.base_url = base.rstrip("/")
        self._api_key = api_key
        self._signer: SigV4Signer | None = None
        if api_key is None:
            if self.region is None:
                raise ValueError("SigV4 signing needs a region: pass region= or set AWS_REGION")
            self._signer = SigV4Signer(
                MANTLE_SERVICE,
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
        """``"bearer"`` (Bedrock API key) or ``"sigv4"``."""
        return "bearer" if self._api_key is not None else "sigv4"

    def __repr__(self) -> str:
        return f"BedrockMantleProvider(region={self.region!r}, auth={self.auth!r}, base_url={self.base_url!r})"

    def check_model(self, model: object) -> None:
        """A Bedrock model id, inference profile or ARN.

        Example:
            >>> BedrockMantleProvider("us-east-1", api_key="k").check_model("claude-opus-4-7")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            rxclaude.core.errors.ModelIdError: 'claude-opus-4-7' is a first-party model id; on Amazon Bedrock ...
        """
        if not isinstance(model, str) or not model:
            raise ModelIdError("params['model'] must be an Amazon Bedrock model id, e.g. 'anthropic.claude-opus-4-7'")
        hint = bedrock_model_hint(model)
        if hint is not None:
            raise ModelIdError(hint)

    async def authorize(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """Add the bearer API key, or sign with SigV4 (``bedrock-mantle``) off the event loop."""
        if self._signer is None:
            headers["authorization"] = f"Bearer {self._api_key}"
            return headers
        signer = self._signer
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: signer.sign(method, url, headers, body, content_sha256=content_sha256)
        )
