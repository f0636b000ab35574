"""A mock of Amazon Bedrock's Messages endpoint: ``/anthropic/v1/messages`` behind SigV4 or an API key.

Strategy: a :class:`~rxclaude.testing.sigv4.SigV4MockServer` for the service
``bedrock-mantle`` under ``/anthropic``: a request needs a SigV4 signature for that service
and the server's region (checked with botocore's own signer over the bytes received) or a
Bedrock API key as a bearer token; refusals are AWS-shaped.  The endpoint serves Messages
only, so ``/v1/files`` is not found.

Example::

    async with MockMantleServer(region="us-east-1") as server:
        client = BedrockMantleClient("us-east-1", access_key=MOCK_ACCESS_KEY,
                                     secret_key=MOCK_SECRET_KEY, base_url=server.base_url)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rxclaude.testing.sigv4 import SigV4MockServer

__all__ = ["MOCK_ACCESS_KEY", "MOCK_BEDROCK_API_KEY", "MOCK_SECRET_KEY", "MockMantleServer"]

MOCK_ACCESS_KEY = "AKIDMOCKEXAMPLE00000"
MOCK_SECRET_KEY = "mock/secret/key/for/tests/not+a+secret0"
MOCK_BEDROCK_API_KEY = "bedrock-api-key-mock-not-a-secret"


class MockMantleServer(SigV4MockServer):
    """A mock ``bedrock-mantle.{region}.api.aws`` on ``127.0.0.1``: give :attr:`base_url` to a client.

    Args:
        region: the region signatures must be scoped to.
        keys: access key id -> secret (default: ``MOCK_ACCESS_KEY`` -> ``MOCK_SECRET_KEY``).
        api_keys: Bedrock API keys accepted as bearer tokens.
        **options: :class:`~rxclaude.testing.MockServer` options.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        keys: Mapping[str, str] | None = None,
        api_keys: tuple[str, ...] = (MOCK_BEDROCK_API_KEY,),
        **options: Any,
    ) -> None:
        super().__init__(
            service="bedrock-mantle",
            region=region,
            keys=keys or {MOCK_ACCESS_KEY: MOCK_SECRET_KEY},
            api_keys=api_keys,
            prefix="/anthropic",
            files_api=False,
            **options,
        )
