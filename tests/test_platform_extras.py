"""The core install pulls in none of the platform extras: rxclaude imports, and every platform streams
with a key or a ready token, in a process where botocore, boto3, google-auth and azure-identity cannot
be imported; the paths that need them say which extra to install."""

from __future__ import annotations

import configparser
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = ("botocore", "boto3", "google", "azure", "msal", "requests")

CHILD = textwrap.dedent(
    """
    import asyncio, sys, orjson

    BLOCKED = %r

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, Block())

    import rxclaude
    from rxclaude import AnthropicAWSClient, BedrockMantleClient, FoundryClient, GoogleCloudClient
    from rxclaude.testing import MockAWSServer, MockFoundryServer, MockGoogleCloudServer, MockMantleServer, Reply
    from rxclaude.testing.aws import MOCK_AWS_API_KEY, MOCK_WORKSPACE_ID
    from rxclaude.testing.foundry import FOUNDRY_TEST_KEY
    from rxclaude.testing.mantle import MOCK_BEDROCK_API_KEY

    MESSAGES = [{"role": "user", "content": "Hi"}]
    out = {}

    async def main():
        async with MockFoundryServer(default_reply=Reply.text("foundry")) as s:
            async with FoundryClient(api_key=FOUNDRY_TEST_KEY, base_url=s.base_url) as c:
                out["foundry"] = await c.messages.stream(model="claude-sonnet-4-5", max_tokens=8,
                                                         messages=MESSAGES).final_text()
        async with MockMantleServer(default_reply=Reply.text("mantle")) as s:
            async with BedrockMantleClient("us-east-1", api_key=MOCK_BEDROCK_API_KEY, base_url=s.base_url) as c:
                out["bedrock-mantle"] = await c.messages.stream(model="anthropic.claude-opus-4-7", max_tokens=8,
                                                                messages=MESSAGES).final_text()
        async with MockAWSServer(default_reply=Reply.text("aws")) as s:
            async with AnthropicAWSClient("us-west-2", workspace_id=MOCK_WORKSPACE_ID, api_key=MOCK_AWS_API_KEY,
                                          base_url=s.base_url) as c:
                out["aws"] = await c.messages.stream(model="claude-sonnet-4-6", max_tokens=8,
                                                     messages=MESSAGES).final_text()
        async with MockGoogleCloudServer(default_reply=Reply.text("google")) as s:
            async with GoogleCloudClient("mock-project", workspace_id=s.workspace_id, access_token=s.issue_token(),
                                         base_url=s.base_url) as c:
                out["google-cloud"] = await c.messages.stream(model="claude-haiku-4-5", max_tokens=8,
                                                              messages=MESSAGES).final_text()
            async with GoogleCloudClient("mock-project", workspace_id=s.workspace_id, base_url=s.base_url) as c:
                try:
                    await c.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES).final_text()
                except ImportError as e:
                    out["google-adc"] = str(e)
        async with FoundryClient(base_url="http://127.0.0.1:9/anthropic") as c:
            try:
                await c.messages.stream(model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES).final_text()
            except ImportError as e:
                out["foundry-entra"] = str(e)
        try:
            BedrockMantleClient("us-east-1", access_key="AKID", secret_key="s")
        except ImportError as e:
            out["mantle-sigv4"] = str(e)

    asyncio.run(main())
    out["loaded"] = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
    print(orjson.dumps(out).decode())
    """
)


def test_core_requirements_name_no_platform_library() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    core = config["options"]["install_requires"].split()
    assert not [
        r for r in core if r.split(">")[0].split("[")[0] in ("botocore", "boto3", "google-auth", "azure-identity")
    ]
    extras = config["options.extras_require"]
    assert "azure-identity" in extras["foundry"] and "google-auth" in extras["google-cloud"]
    assert "botocore" in extras["bedrock"]
    for need in ("azure-identity", "boto3", "botocore", "google-auth"):
        assert need in extras["test"], need


def test_every_platform_streams_without_any_platform_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD % (BLOCKED,)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert {k: out[k] for k in ("foundry", "bedrock-mantle", "aws", "google-cloud")} == {
        "foundry": "foundry",
        "bedrock-mantle": "mantle",
        "aws": "aws",
        "google-cloud": "google",
    }
    assert "rxclaude[google-cloud]" in out["google-adc"]
    assert "rxclaude[foundry]" in out["foundry-entra"]
    assert "rxclaude[bedrock]" in out["mantle-sigv4"]
    assert out["loaded"] == []
