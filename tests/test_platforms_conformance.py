"""Conformance against clients nobody here wrote: the official SDK's platform clients and rxclaude's
providers, pointed at the same platform mocks, get the same final message on every recording.

Each recording in tests/fixtures (``.sse`` as recorded; Bedrock ``.eventstream`` bodies turned into
the SSE these platforms answer) is served by each platform mock; the SDK client (test-only) must get
through the mock's checks (SigV4 signed by boto3/botocore, API-key headers, bearer tokens) and
accumulate a message, and rxclaude's client must produce the same one, field for field. The two
error recordings must raise the same error type on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

import rxclaude
from rxclaude.cloud import AnthropicAWSClient, BedrockMantleClient, FoundryClient, GoogleCloudClient
from rxclaude.core.errors import APIError, EventOrderError
from rxclaude.testing import Reply
from rxclaude.testing.aws import MOCK_AWS_API_KEY, MOCK_WORKSPACE_ID, MockAWSServer
from rxclaude.testing.foundry import FOUNDRY_TEST_KEY, MockFoundryServer
from rxclaude.testing.google_cloud import MockGoogleCloudServer
from rxclaude.testing.mantle import MOCK_ACCESS_KEY, MOCK_BEDROCK_API_KEY, MOCK_SECRET_KEY, MockMantleServer
from rxclaude.testing.platform import PlatformMockServer
from rxclaude.transport.providers.eventstream import EventStreamDecoder

from .helpers import FIXTURES

anthropic = pytest.importorskip("anthropic")
pytest.importorskip("boto3")  # the SDK's SigV4 path signs through a boto3 session

ERROR_FIXTURES = {"docs-error-overloaded.sse", "fragment-midstream-api-error.sse"}
# The one place the two differ, on every platform and on the first-party API alike (not a platform
# matter): a fragment whose deltas come before any message_start and then an error event. SDK 2.17
# passes events before message_start through unaccumulated and then raises the API error; rxclaude's
# accumulator refuses the first out-of-order delta (tests/test_conformance.py pins that refusal).
DIVERGENT = {"fragment-midstream-api-error.sse": (("error", "api_error"), ("error", "event-order"))}
RECORDINGS = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".sse", ".eventstream"))
MESSAGES = [{"role": "user", "content": "Hello"}]


def reply_for(name: str) -> Reply:
    """The recording as the SSE a first-party-wire platform sends."""
    path = FIXTURES / name
    if path.suffix == ".sse":
        return Reply.from_sse(path)
    decoder = EventStreamDecoder()
    frames = decoder.feed(path.read_bytes()) + decoder.close()
    return Reply.events([orjson.loads(f.data) for f in frames])


@dataclass
class Platform:
    """How to start one platform's mock, and build the SDK's client and ours against it."""

    name: str
    model: str
    server: Callable[[], PlatformMockServer]
    sdk: Callable[[PlatformMockServer], Any]
    ours: Callable[[PlatformMockServer], rxclaude.Client]


def _google_server() -> MockGoogleCloudServer:
    return MockGoogleCloudServer(project="conf-project", location="us-east5", workspace_id="wrkspc_conf")


PLATFORMS = [
    Platform(
        "foundry-key",
        "claude-sonnet-4-5",
        lambda: MockFoundryServer(),
        lambda s: anthropic.AsyncAnthropicFoundry(api_key=FOUNDRY_TEST_KEY, base_url=s.base_url + "/", max_retries=0),
        lambda s: FoundryClient(api_key=FOUNDRY_TEST_KEY, base_url=s.base_url, max_retries=0),
    ),
    Platform(
        "foundry-entra",
        "claude-sonnet-4-5",
        lambda: MockFoundryServer(),
        lambda s: anthropic.AsyncAnthropicFoundry(
            azure_ad_token_provider=s.issue_token, base_url=s.base_url + "/", max_retries=0
        ),  # type: ignore[attr-defined]
        lambda s: FoundryClient(token_provider=s.issue_token, base_url=s.base_url, max_retries=0),  # type: ignore[attr-defined]
    ),
    Platform(
        "mantle-sigv4",
        "anthropic.claude-opus-4-7",
        lambda: MockMantleServer(region="eu-west-1"),
        lambda s: anthropic.AsyncAnthropicBedrockMantle(
            aws_access_key=MOCK_ACCESS_KEY,
            aws_secret_key=MOCK_SECRET_KEY,
            aws_region="eu-west-1",
            base_url=s.base_url,
            max_retries=0,
        ),
        lambda s: BedrockMantleClient(
            "eu-west-1", access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY, base_url=s.base_url, max_retries=0
        ),
    ),
    Platform(
        "mantle-api-key",
        "us.anthropic.claude-opus-4-7",
        lambda: MockMantleServer(region="us-east-1"),
        lambda s: anthropic.AsyncAnthropicBedrockMantle(
            api_key=MOCK_BEDROCK_API_KEY, aws_region="us-east-1", base_url=s.base_url, max_retries=0
        ),
        lambda s: BedrockMantleClient("us-east-1", api_key=MOCK_BEDROCK_API_KEY, base_url=s.base_url, max_retries=0),
    ),
    Platform(
        "aws-sigv4",
        "claude-sonnet-4-6",
        lambda: MockAWSServer(region="us-west-2"),
        lambda s: anthropic.AsyncAnthropicAWS(
            aws_access_key=MOCK_ACCESS_KEY,
            aws_secret_key=MOCK_SECRET_KEY,
            aws_region="us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            base_url=s.base_url,
            max_retries=0,
        ),
        lambda s: AnthropicAWSClient(
            "us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            access_key=MOCK_ACCESS_KEY,
            secret_key=MOCK_SECRET_KEY,
            base_url=s.base_url,
            max_retries=0,
        ),
    ),
    Platform(
        "aws-api-key",
        "claude-sonnet-4-6",
        lambda: MockAWSServer(region="us-west-2"),
        lambda s: anthropic.AsyncAnthropicAWS(
            api_key=MOCK_AWS_API_KEY,
            aws_region="us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            base_url=s.base_url,
            max_retries=0,
        ),
        lambda s: AnthropicAWSClient(
            "us-west-2", workspace_id=MOCK_WORKSPACE_ID, api_key=MOCK_AWS_API_KEY, base_url=s.base_url, max_retries=0
        ),
    ),
    Platform(
        "google-cloud",
        "claude-haiku-4-5",
        _google_server,
        lambda s: anthropic.AsyncAnthropicGoogleCloud(
            project="conf-project",
            location="us-east5",
            workspace_id="wrkspc_conf",
            token_provider=s.issue_token,
            base_url=s.base_url,
            max_retries=0,
        ),  # type: ignore[attr-defined]
        lambda s: GoogleCloudClient(
            "conf-project",
            "us-east5",
            workspace_id="wrkspc_conf",
            token_provider=s.issue_token,
            base_url=s.base_url,
            max_retries=0,
        ),  # type: ignore[attr-defined]
    ),
]


@contextlib.asynccontextmanager
async def running(platform: Platform) -> AsyncIterator[PlatformMockServer]:
    async with platform.server() as server:
        yield server  # type: ignore[misc]


async def sdk_result(platform: Platform, server: PlatformMockServer) -> tuple[str, Any]:
    client = platform.sdk(server)
    try:
        async with client.beta.messages.stream(model=platform.model, max_tokens=1024, messages=MESSAGES) as stream:
            message = await stream.get_final_message()
        return "message", message.to_dict(mode="json")
    except anthropic.APIStatusError as e:
        return "error", (e.body or {}).get("error", {}).get("type") if isinstance(e.body, dict) else None
    except RuntimeError as e:  # the SDK's refusal of an out-of-order stream
        assert "Unexpected event order" in str(e)
        return "error", "event-order"
    finally:
        await client.close()


async def our_result(platform: Platform, server: PlatformMockServer) -> tuple[str, Any]:
    async with platform.ours(server) as client:
        try:
            message = await client.messages.stream(
                model=platform.model, max_tokens=1024, messages=MESSAGES
            ).final_message()
        except APIError as e:
            return "error", e.type
        except EventOrderError:
            return "error", "event-order"
        return "message", message.to_dict()


@pytest.mark.parametrize("platform", PLATFORMS, ids=[p.name for p in PLATFORMS])
async def test_sdk_platform_clients_agree_with_ours_on_every_recording(platform: Platform) -> None:
    async with running(platform) as server:
        for name in RECORDINGS:
            server.enqueue(reply_for(name))
            theirs = await sdk_result(platform, server)
            server.enqueue(reply_for(name))
            ours = await our_result(platform, server)
            if name in DIVERGENT:
                assert (theirs, ours) == DIVERGENT[name], (platform.name, name)
                continue
            assert theirs == ours, (platform.name, name)
            expected_kind = "error" if name in ERROR_FIXTURES else "message"
            assert ours[0] == expected_kind, (platform.name, name, ours)
        # every request of both clients got through the platform's checks and was served
        assert len(server.requests) == 2 * len(RECORDINGS)
        assert all(r.status == 200 for r in server.requests), [(r.path, r.status) for r in server.requests]
        if platform.name.endswith("sigv4"):
            assert server.signed_requests == 2 * len(RECORDINGS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("platform", PLATFORMS, ids=[p.name for p in PLATFORMS])
async def test_the_mocks_refuse_what_the_platform_refuses_from_the_sdk_too(platform: Platform) -> None:
    """A mock that let anything in would make the agreement above meaningless."""
    async with running(platform) as server:
        if isinstance(server, MockFoundryServer | MockGoogleCloudServer):
            # clients now present a key / a token the platform never issued
            if isinstance(server, MockFoundryServer):
                server.foundry_key = "another-key"
            server.issue_token = lambda: "not-a-token-the-server-issued"  # type: ignore[method-assign]
        else:
            server.keys = {"AKIDSOMEONEELSE": "x"}  # type: ignore[attr-defined]
            server.api_keys = set()  # type: ignore[attr-defined]
        client = platform.sdk(server)
        try:
            with pytest.raises(anthropic.APIStatusError) as sdk_error:
                async with client.beta.messages.stream(model=platform.model, max_tokens=8, messages=MESSAGES) as s:
                    await s.get_final_message()
        finally:
            await client.close()
        async with platform.ours(server) as ours:
            with pytest.raises(rxclaude.AuthenticationError) as our_error:
                await ours.messages.stream(model=platform.model, max_tokens=8, messages=MESSAGES).final_message()
        assert sdk_error.value.status_code == our_error.value.status_code in (401, 403)
        assert FOUNDRY_TEST_KEY not in str(our_error.value) and MOCK_SECRET_KEY not in repr(our_error.value)
