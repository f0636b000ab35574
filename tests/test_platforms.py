"""Foundry, Bedrock's Messages endpoint, Claude Platform on AWS and Google Cloud, end to end: the real
Client stack (transport, MessageStream, operators, relay, Files API) against each platform's mock, with
each platform's own credential library (azure-identity, botocore, google-auth) doing the auth."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import reactivex
from google.oauth2.credentials import Credentials as GoogleUserCredentials

import rxclaude
from rxclaude import operators as ops
from rxclaude.cloud import (
    PROVIDERS,
    AnthropicAWSClient,
    BedrockMantleClient,
    FoundryClient,
    GoogleCloudClient,
    client_for,
)
from rxclaude.core.errors import (
    AuthenticationError,
    BadRequestError,
    ModelIdError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnsupportedFeatureError,
)
from rxclaude.relay import Relay
from rxclaude.testing import Reply
from rxclaude.testing.aws import MOCK_AWS_API_KEY, MOCK_WORKSPACE_ID, MockAWSServer
from rxclaude.testing.foundry import FOUNDRY_TEST_KEY, MockFoundryServer
from rxclaude.testing.google_cloud import (
    MOCK_CLIENT_ID,
    MOCK_CLIENT_SECRET,
    MOCK_REFRESH_TOKEN,
    MockGoogleCloudServer,
)
from rxclaude.testing.mantle import MOCK_ACCESS_KEY, MOCK_BEDROCK_API_KEY, MOCK_SECRET_KEY, MockMantleServer
from rxclaude.transport.providers.aws import AnthropicAWSProvider
from rxclaude.transport.providers.foundry import FoundryProvider
from rxclaude.transport.providers.google_cloud import GoogleCloudProvider
from rxclaude.transport.providers.mantle import BedrockMantleProvider

FIXTURES = Path(__file__).parent / "fixtures"
TOOLS = FIXTURES / "tool-use-single-sonnet4.sse"
MESSAGES = [{"role": "user", "content": "Hi"}]
ENV_VARS = (
    "ANTHROPIC_FOUNDRY_API_KEY",
    "ANTHROPIC_FOUNDRY_RESOURCE",
    "ANTHROPIC_FOUNDRY_BASE_URL",
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_AWS_API_KEY",
    "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
    "ANTHROPIC_AWS_WORKSPACE_ID",
    "ANTHROPIC_AWS_BASE_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "ANTHROPIC_GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "ANTHROPIC_GOOGLE_CLOUD_LOCATION",
    "ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID",
    "ANTHROPIC_GOOGLE_CLOUD_BASE_URL",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def within(aw: Any, seconds: float = 10.0) -> Any:
    return await asyncio.wait_for(aw, seconds)


# -- 1. each platform streams end to end, each way of authenticating ------------------------------


async def test_foundry_api_key_streams_and_sends_both_key_headers() -> None:
    async with MockFoundryServer() as server, FoundryClient(api_key=FOUNDRY_TEST_KEY, base_url=server.base_url) as c:
        server.enqueue(Reply.text("Hello from Foundry"))
        assert (
            await within(c.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES).final_text())
            == "Hello from Foundry"
        )
        seen = server.requests[-1]
        assert seen.path == "/anthropic/v1/messages"
        assert seen.headers["x-api-key"] == seen.headers["api-key"] == FOUNDRY_TEST_KEY
        assert seen.headers["anthropic-version"] == "2023-06-01" and "authorization" not in seen.headers
        assert seen.json["model"] == "claude-sonnet-4-5" and seen.json["stream"] is True


async def test_foundry_env_vars_and_resource_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_API_KEY", "env-key")
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_RESOURCE", "my-res")
    provider = FoundryProvider()
    assert provider.base_url == "https://my-res.services.ai.azure.com/anthropic" and provider.auth == "api_key"
    assert "env-key" not in repr(provider) and "env-key" not in repr(FoundryClient())
    headers = await provider.authorize("POST", provider.base_url + "/v1/messages", {}, b"{}")
    assert headers == {"x-api-key": "env-key", "api-key": "env-key"}
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_BASE_URL", "https://gateway.example/anthropic/")
    assert FoundryProvider().base_url == "https://gateway.example/anthropic"
    with pytest.raises(ValueError, match="mutually exclusive"):
        FoundryProvider(resource="a", base_url="https://b")
    monkeypatch.delenv("ANTHROPIC_FOUNDRY_BASE_URL")
    monkeypatch.delenv("ANTHROPIC_FOUNDRY_RESOURCE")
    with pytest.raises(ValueError, match="ANTHROPIC_FOUNDRY_RESOURCE"):
        FoundryProvider()


async def test_foundry_entra_id_through_azure_identity_managed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: azure-identity's DefaultAzureCredential fetches a token (App Service managed identity,
    pointed at the mock's token endpoint); it is cached, so two requests fetch one token."""
    pytest.importorskip("azure.identity")
    async with MockFoundryServer() as server:
        for name, value in server.identity_env().items():
            monkeypatch.setenv(name, value)
        async with FoundryClient(base_url=server.base_url) as client:
            assert client.auth == "default_credential"
            for text in ("one", "two"):
                server.enqueue(Reply.text(text))
                got = await within(
                    client.messages.stream(model="claude-opus-4-1", max_tokens=8, messages=MESSAGES).final_text()
                )
                assert got == text
        assert server.tokens_issued == 1
        messages = [r for r in server.requests if r.path.endswith("/v1/messages")]
        assert [r.headers["authorization"] for r in messages] == ["Bearer eyJ.mock-entra-1"] * 2
        assert all("x-api-key" not in r.headers for r in messages)
        token_calls = [r for r in server.requests if r.path == "/msi/token"]
        assert token_calls[0].query["resource"] == "https://ai.azure.com"


async def test_foundry_async_token_provider_is_called_per_request() -> None:
    calls = 0
    async with MockFoundryServer() as server:

        async def provider() -> str:
            nonlocal calls
            calls += 1
            return server.issue_token()

        async with FoundryClient(token_provider=provider, base_url=server.base_url) as client:
            for _ in range(2):
                await within(
                    client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_message()
                )
    assert calls == 2


async def test_mantle_sigv4_streams_signed_for_bedrock_mantle() -> None:
    async with MockMantleServer(region="us-east-2") as server:
        client = BedrockMantleClient(
            "us-east-2", access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY, base_url=server.base_url
        )
        async with client:
            server.enqueue(Reply.from_sse(TOOLS))
            stream = client.messages.stream(model="anthropic.claude-opus-4-7", max_tokens=64, messages=MESSAGES)
            inputs: list[Any] = []
            stream.tool_input.subscribe(inputs.append)
            final = await within(stream.final_message())
        seen = server.requests[-1]
        assert seen.path == "/anthropic/v1/messages" and server.signed_requests == 1
        assert "/us-east-2/bedrock-mantle/aws4_request" in seen.headers["authorization"]
        assert final.stop_reason == "tool_use" and inputs[-1].done and inputs[-1].input == final.content[-1].input


async def test_mantle_api_key_from_env_and_env_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    async with MockMantleServer() as server:
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", MOCK_BEDROCK_API_KEY)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("ANTHROPIC_BEDROCK_MANTLE_BASE_URL", server.base_url)
        async with BedrockMantleClient() as client:
            assert client.auth == "bearer" and MOCK_BEDROCK_API_KEY not in repr(client)
            server.enqueue(Reply.text("ok"))
            assert (
                await within(
                    client.messages.stream(
                        model="global.anthropic.claude-opus-4-7", max_tokens=8, messages=MESSAGES
                    ).final_text()
                )
                == "ok"
            )
        assert server.requests[-1].headers["authorization"] == f"Bearer {MOCK_BEDROCK_API_KEY}"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("ANTHROPIC_BEDROCK_MANTLE_BASE_URL")
    assert (
        BedrockMantleProvider("us-east-1", api_key="k").base_url == "https://bedrock-mantle.us-east-1.api.aws/anthropic"
    )
    with pytest.raises(ValueError, match="region"):
        BedrockMantleProvider(api_key="k")


async def test_mantle_sigv4_from_botocore_default_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MOCK_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MOCK_SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "mock-session-token")
    async with MockMantleServer(region="ap-northeast-1") as server:
        async with BedrockMantleClient("ap-northeast-1", base_url=server.base_url) as client:
            assert client.auth == "sigv4"
            await within(
                client.messages.stream(
                    model="jp.anthropic.claude-opus-4-7", max_tokens=8, messages=MESSAGES
                ).final_message()
            )
        seen = server.requests[-1]
        assert seen.headers["x-amz-security-token"] == "mock-session-token"
        assert "x-amz-security-token" in seen.headers["authorization"]  # the token is signed too


async def test_aws_platform_sigv4_and_workspace_header() -> None:
    async with MockAWSServer(region="us-west-2") as server:
        client = AnthropicAWSClient(
            "us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            access_key=MOCK_ACCESS_KEY,
            secret_key=MOCK_SECRET_KEY,
            base_url=server.base_url,
        )
        async with client:
            server.enqueue(Reply.text("Hello from AWS"))
            assert (
                await within(
                    client.messages.stream(model="claude-sonnet-4-6", max_tokens=8, messages=MESSAGES).final_text()
                )
                == "Hello from AWS"
            )
        seen = server.requests[-1]
        assert seen.path == "/v1/messages" and seen.headers["anthropic-workspace-id"] == MOCK_WORKSPACE_ID
        assert "/us-west-2/aws-external-anthropic/aws4_request" in seen.headers["authorization"]
        assert "anthropic-workspace-id" in seen.headers["authorization"]  # signed


async def test_aws_platform_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_AWS_API_KEY", MOCK_AWS_API_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with pytest.raises(ValueError, match="ANTHROPIC_AWS_WORKSPACE_ID"):
        AnthropicAWSProvider()
    monkeypatch.setenv("ANTHROPIC_AWS_WORKSPACE_ID", MOCK_WORKSPACE_ID)
    provider = AnthropicAWSProvider()
    assert provider.base_url == "https://aws-external-anthropic.eu-central-1.api.aws" and provider.auth == "bearer"
    async with MockAWSServer(region="eu-central-1") as server:
        monkeypatch.setenv("ANTHROPIC_AWS_BASE_URL", server.base_url)
        async with AnthropicAWSClient() as client:
            server.enqueue(Reply.text("env"))
            assert (
                await within(
                    client.messages.stream(model="claude-opus-4-1", max_tokens=8, messages=MESSAGES).final_text()
                )
                == "env"
            )
        assert server.requests[-1].headers["authorization"] == f"Bearer {MOCK_AWS_API_KEY}"


async def test_google_cloud_adc_style_credentials_refresh_off_the_loop() -> None:
    """google-auth's own user credentials, refreshed against the mock's OAuth2 token endpoint in
    the executor; concurrent requests refresh once; an expired token is refreshed again."""
    async with MockGoogleCloudServer(project="proj-1", location="us-east5", workspace_id="wrkspc_g") as server:
        credentials = GoogleUserCredentials(
            token=None,
            refresh_token=MOCK_REFRESH_TOKEN,
            token_uri=server.token_uri,
            client_id=MOCK_CLIENT_ID,
            client_secret=MOCK_CLIENT_SECRET,
        )
        loop_thread = asyncio.get_running_loop()
        async with GoogleCloudClient(
            "proj-1", "us-east5", workspace_id="wrkspc_g", credentials=credentials, base_url=None
        ) as client:
            client.provider._explicit_base = server.base_url  # the derived path, on the mock's host
            assert server.base_url.endswith("/v1/projects/proj-1/locations/us-east5/workspaces/wrkspc_g/invoke")
            for _ in range(3):
                server.enqueue(Reply.text("g"))
            texts = await within(
                asyncio.gather(
                    *(
                        client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_text()
                        for _ in range(3)
                    )
                )
            )
            assert texts == ["g", "g", "g"] and server.tokens_issued == 1
            credentials.expiry = credentials.expiry.replace(year=2000)  # expired: refreshed on next use
            server.enqueue(Reply.text("again"))
            await within(client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_text())
            assert server.tokens_issued == 2
        del loop_thread
        tokens = [r.headers["authorization"] for r in server.requests if r.path.endswith("/v1/messages")]
        assert tokens == ["Bearer ya29.mock-1"] * 3 + ["Bearer ya29.mock-2"]


def test_google_cloud_base_url_from_project_location_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID", "wrkspc_env")
    p = GoogleCloudProvider(access_token="t")
    assert (
        p.base_url == "https://claude.googleapis.com/v1/projects/env-proj/locations/global/workspaces/wrkspc_env/invoke"
    )
    monkeypatch.setenv("ANTHROPIC_GOOGLE_CLOUD_PROJECT", "anthropic-proj")
    monkeypatch.setenv("ANTHROPIC_GOOGLE_CLOUD_LOCATION", "europe-west4")
    assert "/projects/anthropic-proj/locations/europe-west4/" in GoogleCloudProvider(access_token="t").base_url
    monkeypatch.delenv("ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID")
    with pytest.raises(ValueError, match="ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID"):
        GoogleCloudProvider(access_token="t")
    assert "secret-token" not in repr(GoogleCloudClient("p", workspace_id="w", access_token="secret-token"))


async def test_google_cloud_gateway_refusals_are_typed() -> None:
    async with MockGoogleCloudServer(project="right", workspace_id="w") as server:
        token = server.issue_token()
        wrong_project = server.url + "/v1/projects/wrong/locations/global/workspaces/w/invoke"
        async with GoogleCloudClient(
            "wrong", workspace_id="w", access_token=token, base_url=wrong_project, max_retries=0
        ) as client:
            with pytest.raises(PermissionDeniedError, match="project wrong"):
                await within(
                    client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_message()
                )
        async with GoogleCloudClient(
            "right", workspace_id="w", access_token="ya29.unknown", base_url=server.base_url, max_retries=0
        ) as client:
            with pytest.raises(AuthenticationError) as e:
                await within(
                    client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_message()
                )
            assert e.value.type == "authentication_error" and "ya29.unknown" not in str(e.value)


# -- 2. everything rxclaude does works on each: operators, fan-out, relay, retries, mid-stream errors


async def platform_clients(stack: Any) -> AsyncIterator[tuple[str, Any, rxclaude.Client, str]]:
    """(name, server, client, model) for each platform, each started in ``stack``."""
    foundry = await stack.enter_async_context(MockFoundryServer())
    yield "foundry", foundry, FoundryClient(api_key=FOUNDRY_TEST_KEY, base_url=foundry.base_url), "claude-sonnet-4-5"
    mantle = await stack.enter_async_context(MockMantleServer())
    yield (
        "mantle",
        mantle,
        BedrockMantleClient(
            "us-east-1", access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY, base_url=mantle.base_url
        ),
        "anthropic.claude-opus-4-7",
    )
    aws = await stack.enter_async_context(MockAWSServer())
    yield (
        "aws",
        aws,
        AnthropicAWSClient(
            "us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            access_key=MOCK_ACCESS_KEY,
            secret_key=MOCK_SECRET_KEY,
            base_url=aws.base_url,
        ),
        "claude-sonnet-4-6",
    )
    google = await stack.enter_async_context(MockGoogleCloudServer())
    yield (
        "google",
        google,
        GoogleCloudClient(
            "mock-project",
            workspace_id=google.workspace_id,
            token_provider=google.issue_token,
            base_url=google.base_url,
        ),
        "claude-haiku-4-5",
    )


def throttle(name: str, server: Any) -> Reply:
    if name == "foundry":
        return server.rate_limit_reply()
    if name == "google":
        return server.quota_reply()
    return server.throttling_reply()


async def test_operators_fan_out_retries_and_relay_on_every_platform() -> None:
    async with contextlib.AsyncExitStack() as stack:
        async for name, server, client, model in platform_clients(stack):
            async with client:
                # retries: the platform's throttling (typed RateLimitError) then overload, then the answer
                server.enqueue(throttle(name, server), Reply.error(529, retry_after=0), Reply.from_sse(TOOLS))
                stream = client.messages.stream(model=model, max_tokens=64, messages=MESSAGES)
                texts: list[str] = []
                blocks: list[Any] = []
                stream.text.subscribe(texts.append)  # fan-out: several live views of one request
                stream.frames.pipe(ops.parse(), ops.blocks()).subscribe(blocks.append)
                relay = Relay(stream.frames)
                async with relay.serve() as url, aiohttp.ClientSession() as http:
                    reader = asyncio.create_task(_read(http, f"{url}/events"))
                    for _ in range(100):
                        if relay.stats.clients:
                            break
                        await asyncio.sleep(0.01)
                    final = await within(stream.final_message())
                    relayed = await within(reader)
                await relay.aclose()
                assert stream.response is not None and stream.response.retries == 2, name
                assert final.stop_reason == "tool_use" and [b.type for b in blocks] == [b.type for b in final.content]
                assert "".join(texts) == "".join(b.text for b in final.content if b.type == "text")
                decoder = rxclaude.SSEDecoder()
                relayed_frames = [*decoder.feed(relayed), *decoder.close()]
                again = rxclaude.MessageStream(reactivex.of(*relayed_frames))
                assert (await within(again.final_message())).to_dict() == final.to_dict(), name
                messages = [r for r in server.requests if r.path.endswith("/v1/messages")]
                assert [r.status for r in messages[-3:]] == [429, 529, 200], name
                # a mid-stream error event is the same typed error everywhere
                server.enqueue(Reply.from_sse(FIXTURES / "docs-error-overloaded.sse"))
                with pytest.raises(OverloadedError):
                    await within(client.messages.stream(model=model, max_tokens=8, messages=MESSAGES).final_message())


async def _read(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as response:
        return await response.read()


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-amzn-ErrorType": "ThrottlingException:x"}, b'{"message":"Too many"}', RateLimitError),
        ({"x-amzn-ErrorType": "ServiceUnavailableException:x"}, b'{"message":"down"}', ServiceUnavailableError),
        ({}, b'{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}', RateLimitError),
        ({}, b'{"error":{"code":"429","message":"Rate limit is exceeded."}}', RateLimitError),
        ({}, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', OverloadedError),
        ({"x-amzn-ErrorType": "ValidationException:x"}, b'{"message":"bad"}', BadRequestError),
        ({}, b'{"error":{"code":"DeploymentNotFound","message":"no deployment"}}', NotFoundError),
    ],
)
def test_gateway_errors_are_typed_on_every_platform(headers: dict[str, str], body: bytes, expected: type) -> None:
    status = {
        RateLimitError: 429,
        ServiceUnavailableError: 503,
        OverloadedError: 529,
        BadRequestError: 400,
        NotFoundError: 404,
    }[expected]
    for provider in (
        FoundryProvider(api_key="k", base_url="https://x"),
        BedrockMantleProvider("us-east-1", api_key="k"),
        AnthropicAWSProvider("us-west-2", workspace_id="w", api_key="k"),
        GoogleCloudProvider("p", workspace_id="w", access_token="t"),
    ):
        error = provider.error_from_response(status, headers, body)
        assert type(error) is expected, (provider.name, error)
        assert error.retryable == (status in (429, 503, 529))


# -- 3. model-id checks, each platform's naming ----------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "bad", "hint"),
    [
        (lambda: FoundryClient(api_key="k", base_url="https://x"), "claude-opus-4-1@20250805", "deployment name"),
        (
            lambda: FoundryClient(api_key="k", base_url="https://x"),
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "'claude-haiku-4-5-20251001'",
        ),
        (lambda: BedrockMantleClient("us-east-1", api_key="k"), "claude-opus-4-7", "'anthropic.claude-opus-4-7'"),
        (lambda: BedrockMantleClient("us-east-1", api_key="k"), "claude-opus-4-7@20260101", "Vertex AI"),
        (
            lambda: AnthropicAWSClient("us-west-2", workspace_id="w", api_key="k"),
            "anthropic.claude-sonnet-4-6",
            "'claude-sonnet-4-6'",
        ),
        (
            lambda: GoogleCloudClient("p", workspace_id="w", access_token="t"),
            "claude-sonnet-4-5@20250929",
            "provider 'vertex'",
        ),
        (lambda: GoogleCloudClient("p", workspace_id="w", access_token="t"), "", "first-party model id"),
    ],
)
def test_model_id_checks_say_what_the_platform_expects(factory: Any, bad: str, hint: str) -> None:
    client = factory()
    with pytest.raises(ModelIdError, match=hint.replace("(", r"\(")) as e:
        client.messages.stream(model=bad, max_tokens=8, messages=MESSAGES)
    assert isinstance(e.value, rxclaude.RxClaudeError) and isinstance(e.value, ValueError)


def test_good_model_ids_pass() -> None:
    BedrockMantleProvider("us-east-1", api_key="k").check_model(
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7"
    )
    for model in ("anthropic.claude-opus-4-7", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"):
        BedrockMantleProvider("us-east-1", api_key="k").check_model(model)
    FoundryProvider(api_key="k", base_url="https://x").check_model("my-claude-deployment")
    GoogleCloudProvider("p", workspace_id="w", access_token="t").check_model("claude-haiku-4-5-20251001")


# -- 4. the Files API where the platform has it ----------------------------------------------------


async def test_files_api_on_foundry_aws_and_google_and_a_typed_error_on_mantle(tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("platform notes\n")
    async with contextlib.AsyncExitStack() as stack:
        async for name, server, client, _model in platform_clients(stack):
            async with client:
                if name == "mantle":
                    with pytest.raises(UnsupportedFeatureError, match="Amazon Bedrock"):
                        await client.files.upload(doc)
                    with pytest.raises(UnsupportedFeatureError, match="bedrock-mantle"):
                        await client.files.list_page()
                    assert not any("/files" in r.path for r in server.requests)
                    continue
                if name == "aws":  # SigV4 signs the multipart body too: hashed once, then streamed
                    assert tuple((await within(client.files.list_page())).data) == ()
                meta = await within(client.files.upload(doc))
                assert meta.filename == "notes.txt" and meta.size_bytes == doc.stat().st_size
                assert (await within(client.files.retrieve(meta.id))).id == meta.id
                assert meta.id in [f.id async for f in client.files.list()]
                await within(client.files.delete(meta.id))
                with pytest.raises(NotFoundError):
                    await within(client.files.retrieve(meta.id))
                if name == "aws":
                    assert server.signed_requests == 6  # list, upload, retrieve, list, delete, retrieve
                files = [r for r in server.requests if "/v1/files" in r.path]
                assert files and all(r.path.startswith(server.prefix + "/v1/files") for r in files), name
                assert [r.status for r in files][-1] == 404 and all(r.status < 400 for r in files[:-1]), name


def test_providers_names_and_cli_choices() -> None:
    assert {"foundry", "bedrock-mantle", "aws", "google-cloud"} <= set(PROVIDERS)
    assert type(client_for("foundry", base_url="https://x", api_key="k")) is FoundryClient
    assert type(client_for("bedrock-mantle", region="us-east-1", api_key="k")) is BedrockMantleClient
    assert type(client_for("aws", region="us-west-2", workspace_id="w", api_key="k")) is AnthropicAWSClient
    google = client_for("google-cloud", project_id="p", region="us-east5", workspace_id="w", access_token="t")
    assert type(google) is GoogleCloudClient and google.provider.location == "us-east5"
    with pytest.raises(ValueError, match="project_id"):
        client_for("foundry", project_id="p", api_key="k", base_url="https://x")


# -- 5. the command line ---------------------------------------------------------------------------


def test_cli_provider_takes_each_platform(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from rxclaude.cli.main import PROVIDER_CHOICES, main

    assert PROVIDER_CHOICES == PROVIDERS
    monkeypatch.setenv("ANTHROPIC_FOUNDRY_API_KEY", FOUNDRY_TEST_KEY)
    with MockFoundryServer(default_reply=Reply.text("Hi from Foundry.")).running_in_thread() as server:
        assert main(["Hi", "--provider", "foundry", "--base-url", server.base_url]) == 0
        assert "Hi from Foundry." in capsys.readouterr().out
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", MOCK_BEDROCK_API_KEY)
    with MockMantleServer(default_reply=Reply.text("Hi from Bedrock.")).running_in_thread() as server:
        argv = ["Hi", "--provider", "bedrock-mantle", "--region", "us-east-1", "--base-url", server.base_url]
        assert main(argv) == 2 and "--model" in capsys.readouterr().err  # Bedrock names models its own way
        assert main([*argv, "-m", "anthropic.claude-opus-4-7"]) == 0
        assert "Hi from Bedrock." in capsys.readouterr().out
    monkeypatch.setenv("ANTHROPIC_AWS_API_KEY", MOCK_AWS_API_KEY)
    with MockAWSServer(default_reply=Reply.text("Hi from AWS.")).running_in_thread() as server:
        argv = ["Hi", "--provider", "aws", "--region", "us-west-2", "--base-url", server.base_url]
        assert main([*argv, "--workspace-id", MOCK_WORKSPACE_ID]) == 0
        assert "Hi from AWS." in capsys.readouterr().out
        assert main(argv) == 1 and "ANTHROPIC_AWS_WORKSPACE_ID" in capsys.readouterr().err
    with MockGoogleCloudServer(default_reply=Reply.text("Hi from Google.")).running_in_thread() as server:
        # google.auth.default() as ADC answers it (its authorized-user loader always talks to Google's own
        # token endpoint, so the credentials object is built here with the mock's endpoint instead)
        credentials = GoogleUserCredentials(
            token=None,
            refresh_token=MOCK_REFRESH_TOKEN,
            token_uri=server.token_uri,
            client_id=MOCK_CLIENT_ID,
            client_secret=MOCK_CLIENT_SECRET,
        )
        import google.auth

        monkeypatch.setattr(google.auth, "default", lambda scopes=None: (credentials, "mock-project"))
        argv = [
            "Hi",
            "--provider",
            "google-cloud",
            "--base-url",
            server.base_url,
            "--workspace-id",
            server.workspace_id,
        ]
        assert main(argv) == 0
        assert "Hi from Google." in capsys.readouterr().out
        assert server.tokens_issued == 1  # ADC's credentials were refreshed against the token endpoint


async def test_foundry_async_azure_identity_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``azure.identity.aio`` credential is awaited on the loop (no executor) and its token cached."""
    aio = pytest.importorskip("azure.identity.aio")
    async with MockFoundryServer() as server:
        for name, value in server.identity_env().items():
            monkeypatch.setenv(name, value)
        credential = aio.ManagedIdentityCredential()
        async with credential, FoundryClient(credential=credential, base_url=server.base_url) as client:
            assert client.auth == "credential"
            for _ in range(2):
                server.enqueue(Reply.text("aio"))
                assert (
                    await within(
                        client.messages.stream(model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES).final_text()
                    )
                    == "aio"
                )
        assert server.tokens_issued == 1
