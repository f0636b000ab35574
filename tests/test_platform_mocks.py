"""The platform mocks refuse what the platforms refuse: a SigV4 signature is checked with botocore's own
signer for the right service, region, key, time and bytes; API keys, bearer tokens, paths and the
workspace header are checked; refusals come in each gateway's shape and become typed errors."""

from __future__ import annotations

import contextlib
import socket
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

import rxclaude
from rxclaude.core.errors import AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError
from rxclaude.testing.aws import MOCK_AWS_API_KEY, MOCK_WORKSPACE_ID, MockAWSServer
from rxclaude.testing.foundry import FOUNDRY_TEST_KEY, MockFoundryServer
from rxclaude.testing.google_cloud import MockGoogleCloudServer
from rxclaude.testing.mantle import MOCK_ACCESS_KEY, MOCK_SECRET_KEY, MockMantleServer
from rxclaude.testing.sigv4 import verify_sigv4
from rxclaude.transport.providers.mantle import BedrockMantleProvider
from rxclaude.transport.providers.sigv4 import SigV4Signer

BODY = orjson.dumps(
    {
        "model": "anthropic.claude-opus-4-7",
        "max_tokens": 8,
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
)
KEYS = {MOCK_ACCESS_KEY: MOCK_SECRET_KEY}
URL = "https://bedrock-mantle.us-east-1.api.aws/anthropic/v1/messages?beta=true"


def signed(
    service: str = "bedrock-mantle",
    region: str = "us-east-1",
    secret: str = MOCK_SECRET_KEY,
    body: bytes = BODY,
    url: str = URL,
) -> dict[str, str]:
    signer = SigV4Signer(service, region, access_key=MOCK_ACCESS_KEY, secret_key=secret)
    return signer.sign("POST", url, {"content-type": "application/json", "anthropic-version": "2023-06-01"}, body)


def check(
    headers: dict[str, str],
    body: bytes = BODY,
    now: datetime | None = None,
    path: str = "/anthropic/v1/messages?beta=true",
) -> str | None:
    received = {**headers, "host": "bedrock-mantle.us-east-1.api.aws"}
    problem = verify_sigv4(
        "POST", path, received, body, service="bedrock-mantle", region="us-east-1", keys=KEYS, now=now
    )
    return None if problem is None else f"{problem.exception}: {problem.message}"


def test_sigv4_verification_accepts_the_real_signature_and_refuses_every_change() -> None:
    good = signed()
    assert check(good) is None
    assert "does not match" in (check(good, body=BODY + b" ") or "")  # one byte more
    assert "does not match" in (check(good, path="/anthropic/v1/messages") or "")  # the query is signed
    assert "does not match" in (check(signed(secret="wrong")) or "")
    assert "correct service" in (check(signed(service="bedrock")) or "")
    assert "valid region" in (check(signed(region="us-west-2")) or "")
    assert "expired" in (check(good, now=datetime.now(UTC) + timedelta(minutes=6)) or "")
    assert "does not match" in (check({**good, "anthropic-version": "2099-01-01"}) or "")  # signed header
    assert check({**good, "x-unsigned": "anything"}) is None  # unsigned headers may change in transit
    assert (check({k: v for k, v in good.items() if k != "Authorization"}) or "").startswith("MissingAuthentication")
    unknown = {**good, "Authorization": good["Authorization"].replace(MOCK_ACCESS_KEY, "AKIDUNKNOWN000000000")}
    assert (check(unknown) or "").startswith("UnrecognizedClient")
    claimed = signed()
    claimed["X-Amz-Content-SHA256"] = "0" * 64
    assert "x-amz-content-sha256" in (check(claimed) or "")


def test_sigv4_refusals_are_aws_shaped_and_typed() -> None:
    provider = BedrockMantleProvider("us-east-1", api_key="k")
    error = provider.error_from_response(
        403,
        {"x-amzn-ErrorType": "InvalidSignatureException:http://internal.amazon.com/coral/"},
        b'{"message":"The request signature we calculated does not match the signature you provided."}',
    )
    assert type(error) is AuthenticationError and "signature" in error.message


async def post(url: str, headers: dict[str, str], body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, dict(r.headers), await r.read()


async def test_foundry_mock_checks_path_keys_and_tokens() -> None:
    body = orjson.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    version = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
    async with MockFoundryServer() as server:
        assert (await post(server.base_url + "/v1/messages", {**version, "api-key": FOUNDRY_TEST_KEY}, body))[0] == 200
        assert (await post(server.base_url + "/v1/messages", {**version, "x-api-key": FOUNDRY_TEST_KEY}, body))[
            0
        ] == 200
        status, _, raw = await post(
            server.base_url + "/v1/messages", {**version, "x-api-key": FOUNDRY_TEST_KEY, "api-key": "other"}, body
        )
        assert status == 401 and orjson.loads(raw)["error"]["code"] == "401"
        status, _, _ = await post(server.url + "/v1/messages", {**version, "x-api-key": FOUNDRY_TEST_KEY}, body)
        assert status == 404  # the first-party path is not Foundry's
        status, _, _ = await post(server.base_url + "/v1/messages", {**version, "authorization": "Bearer nope"}, body)
        assert status == 401
        token = server.issue_token()
        assert (await post(server.base_url + "/v1/messages", {**version, "authorization": f"Bearer {token}"}, body))[
            0
        ] == 200
        status, _, raw = await post(server.base_url + "/v1/messages", {"x-api-key": FOUNDRY_TEST_KEY}, body)
        assert status == 400 and b"anthropic-version" in raw


async def test_aws_mock_needs_the_workspace_and_mantle_has_no_files() -> None:
    body = orjson.dumps({"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    base = {
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "authorization": f"Bearer {MOCK_AWS_API_KEY}",
    }
    async with MockAWSServer() as server:
        status, _, raw = await post(server.base_url + "/v1/messages", base, body)
        assert status == 400 and b"anthropic-workspace-id" in raw
        status, _, _ = await post(
            server.base_url + "/v1/messages", {**base, "anthropic-workspace-id": "wrkspc_other"}, body
        )
        assert status == 403
        status, _, _ = await post(
            server.base_url + "/v1/messages", {**base, "anthropic-workspace-id": MOCK_WORKSPACE_ID}, body
        )
        assert status == 200
        status, headers, _ = await post(
            server.base_url + "/v1/messages",
            {**base, "authorization": "Bearer wrong", "anthropic-workspace-id": MOCK_WORKSPACE_ID},
            body,
        )
        assert status == 403 and headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException")
    async with MockMantleServer() as server, aiohttp.ClientSession() as http:
        for url in (server.base_url + "/v1/files", server.url + "/v1/files"):
            response = await http.get(url)
            assert response.status == 404, url
            response.release()


async def test_google_mock_checks_project_location_workspace_and_token() -> None:
    from rxclaude.transport.providers.google_cloud import GoogleCloudProvider

    provider = GoogleCloudProvider("p", workspace_id="w", access_token="t")
    body = orjson.dumps({"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    async with MockGoogleCloudServer(project="p1", location="us-east5", workspace_id="w1") as server:
        good = {
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "authorization": f"Bearer {server.issue_token()}",
        }
        assert (await post(server.base_url + "/v1/messages", good, body))[0] == 200
        cases = [
            ("/v1/projects/p2/locations/us-east5/workspaces/w1/invoke", good, PermissionDeniedError),
            ("/v1/projects/p1/locations/europe-west4/workspaces/w1/invoke", good, NotFoundError),
            ("/v1/projects/p1/locations/us-east5/workspaces/w2/invoke", good, NotFoundError),
            (
                "/v1/projects/p1/locations/us-east5/workspaces/w1/invoke",
                {**good, "authorization": "Bearer x"},
                AuthenticationError,
            ),
        ]
        for path, headers, expected in cases:
            status, response_headers, raw = await post(server.url + path + "/v1/messages", headers, body)
            error = provider.error_from_response(status, response_headers, raw)
            assert type(error) is expected and "status" in orjson.loads(raw)["error"], (path, raw)
        status, response_headers, raw = await post(server.base_url + "/v1/messages", good, b"not json")
        assert type(provider.error_from_response(status, response_headers, raw)) is BadRequestError


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
async def test_mantle_mock_refuses_another_regions_signature(region: str) -> None:
    async with MockMantleServer(region="us-east-1") as server:
        url = server.base_url + "/v1/messages"
        headers = SigV4Signer("bedrock-mantle", region, access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY).sign(
            "POST", url, {"content-type": "application/json", "anthropic-version": "2023-06-01"}, BODY
        )
        status, response_headers, raw = await post(url, headers, BODY)
        if region == "us-east-1":
            assert status == 200 and server.signed_requests == 1
        else:
            assert status == 403 and response_headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
            assert b"region" in raw


async def test_aws_mock_checks_a_signed_upload_against_its_raw_multipart_bytes() -> None:
    import hashlib

    boundary = "b0undary"
    form = (
        f'--{boundary}\r\nContent-Type: text/plain\r\nContent-Disposition: form-data; name="file"; '
        f'filename="a.txt"\r\n\r\nhello\r\n--{boundary}--\r\n'
    ).encode()
    async with MockAWSServer() as server:
        url = server.base_url + "/v1/files"
        base = {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "files-api-2025-04-14",
            "anthropic-workspace-id": MOCK_WORKSPACE_ID,
        }
        signer = SigV4Signer(
            "aws-external-anthropic", "us-west-2", access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY
        )
        lying = signer.sign("POST", url, base, b"", content_sha256=hashlib.sha256(b"other bytes").hexdigest())
        status, headers, raw = await post(url, lying, form)
        assert status == 400 and headers["x-amzn-ErrorType"].startswith("InvalidSignatureException"), raw
        honest = signer.sign("POST", url, base, b"", content_sha256=hashlib.sha256(form).hexdigest())
        status, _, raw = await post(url, honest, form)
        assert status == 200 and orjson.loads(raw)["filename"] == "a.txt"
        assert server.files.get(orjson.loads(raw)["id"]) is not None


class PlatformDNS(AbstractResolver):
    """Resolves the platforms' real host names to the loopback mocks (this test's stand-in for DNS)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"{host} does not resolve in this test")
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST
            )
        ]

    async def close(self) -> None:
        return None


async def test_mocks_check_the_host_each_platform_derives() -> None:
    """With each platform's real host name routed to its mock, the host the provider derives is the one
    the mock insists on (and signs for); another host is refused."""
    foundry_host = "my-res.services.ai.azure.com"
    mantle_host = "bedrock-mantle.eu-west-1.api.aws"
    aws_host = "aws-external-anthropic.us-west-2.api.aws"
    google_host = "claude.googleapis.com"
    dns = PlatformDNS({foundry_host, mantle_host, aws_host, google_host, "other-res.services.ai.azure.com"})
    messages = [{"role": "user", "content": "Hi"}]
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=dns)))
        foundry = await stack.enter_async_context(MockFoundryServer(host=foundry_host))
        mantle = await stack.enter_async_context(MockMantleServer(region="eu-west-1", host=mantle_host))
        aws = await stack.enter_async_context(MockAWSServer(host=aws_host))
        google = await stack.enter_async_context(MockGoogleCloudServer(host=google_host))
        clients = [
            (
                foundry,
                rxclaude.FoundryClient(
                    api_key=FOUNDRY_TEST_KEY,
                    session=session,
                    base_url=f"http://{foundry_host}:{foundry.port}/anthropic",
                ),
                "claude-sonnet-4-5",
            ),
            (
                mantle,
                rxclaude.BedrockMantleClient(
                    "eu-west-1",
                    access_key=MOCK_ACCESS_KEY,
                    secret_key=MOCK_SECRET_KEY,
                    session=session,
                    base_url=f"http://{mantle_host}:{mantle.port}/anthropic",
                ),
                "anthropic.claude-opus-4-7",
            ),
            (
                aws,
                rxclaude.AnthropicAWSClient(
                    "us-west-2",
                    workspace_id=MOCK_WORKSPACE_ID,
                    access_key=MOCK_ACCESS_KEY,
                    secret_key=MOCK_SECRET_KEY,
                    session=session,
                    base_url=f"http://{aws_host}:{aws.port}",
                ),
                "claude-sonnet-4-6",
            ),
            (
                google,
                rxclaude.GoogleCloudClient(
                    google.project,
                    workspace_id=google.workspace_id,
                    session=session,
                    access_token=google.issue_token(),
                    base_url=f"http://{google_host}:{google.port}{google.prefix}",
                ),
                "claude-haiku-4-5",
            ),
        ]
        for server, client, model in clients:
            async with client:
                await client.messages.stream(model=model, max_tokens=8, messages=messages).final_message()
            assert server.requests[-1].headers["host"] == f"{server.host}:{server.port}"
        wrong = rxclaude.FoundryClient(
            api_key=FOUNDRY_TEST_KEY,
            session=session,
            max_retries=0,
            base_url=f"http://other-res.services.ai.azure.com:{foundry.port}/anthropic",
        )
        async with wrong:
            with pytest.raises(NotFoundError):
                await wrong.messages.stream(model="claude-sonnet-4-5", max_tokens=8, messages=messages).final_message()
