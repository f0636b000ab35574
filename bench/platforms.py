"""Per-request cost on each platform, against the first-party baseline and the official SDK's client.

For each platform mock (and the first-party MockServer as the baseline), stream the same recording
REQUESTS times in a row to the final message, ROUNDS times, with rxclaude's client and with the
official SDK's platform client (test-only), both against the same local mock. Prints the median and
range of ms per request, rxclaude's ratio to its own first-party baseline (what the platform's auth
costs: SigV4 signing in the executor, token lookups), and the SDK's time over rxclaude's.

    python bench/platforms.py --rounds 5 --requests 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic

import rxclaude
from rxclaude.testing import MockServer, Reply
from rxclaude.testing.aws import MOCK_AWS_API_KEY, MOCK_WORKSPACE_ID, MockAWSServer
from rxclaude.testing.foundry import FOUNDRY_TEST_KEY, MockFoundryServer
from rxclaude.testing.google_cloud import MockGoogleCloudServer
from rxclaude.testing.mantle import MOCK_ACCESS_KEY, MOCK_BEDROCK_API_KEY, MOCK_SECRET_KEY, MockMantleServer

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "thinking-then-text-long.sse"
MESSAGES = [{"role": "user", "content": "Hi"}]
Case = tuple[str, str, Callable[[], Any], Callable[[Any], rxclaude.Client], Callable[[Any], Any]]

CASES: list[Case] = [
    (
        "first-party",
        "claude-sonnet-4-5",
        lambda: MockServer(),
        lambda s: rxclaude.Client(api_key=s.api_key, base_url=s.url),
        lambda s: anthropic.AsyncAnthropic(api_key=s.api_key, base_url=s.url),
    ),
    (
        "foundry key",
        "claude-sonnet-4-5",
        lambda: MockFoundryServer(),
        lambda s: rxclaude.FoundryClient(api_key=FOUNDRY_TEST_KEY, base_url=s.base_url),
        lambda s: anthropic.AsyncAnthropicFoundry(api_key=FOUNDRY_TEST_KEY, base_url=s.base_url + "/"),
    ),
    (
        "mantle sigv4",
        "anthropic.claude-opus-4-7",
        lambda: MockMantleServer(),
        lambda s: rxclaude.BedrockMantleClient(
            "us-east-1", access_key=MOCK_ACCESS_KEY, secret_key=MOCK_SECRET_KEY, base_url=s.base_url
        ),
        lambda s: anthropic.AsyncAnthropicBedrockMantle(
            aws_access_key=MOCK_ACCESS_KEY, aws_secret_key=MOCK_SECRET_KEY, aws_region="us-east-1", base_url=s.base_url
        ),
    ),
    (
        "mantle api key",
        "anthropic.claude-opus-4-7",
        lambda: MockMantleServer(),
        lambda s: rxclaude.BedrockMantleClient("us-east-1", api_key=MOCK_BEDROCK_API_KEY, base_url=s.base_url),
        lambda s: anthropic.AsyncAnthropicBedrockMantle(
            api_key=MOCK_BEDROCK_API_KEY, aws_region="us-east-1", base_url=s.base_url
        ),
    ),
    (
        "aws sigv4",
        "claude-sonnet-4-6",
        lambda: MockAWSServer(),
        lambda s: rxclaude.AnthropicAWSClient(
            "us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            access_key=MOCK_ACCESS_KEY,
            secret_key=MOCK_SECRET_KEY,
            base_url=s.base_url,
        ),
        lambda s: anthropic.AsyncAnthropicAWS(
            aws_access_key=MOCK_ACCESS_KEY,
            aws_secret_key=MOCK_SECRET_KEY,
            aws_region="us-west-2",
            workspace_id=MOCK_WORKSPACE_ID,
            base_url=s.base_url,
        ),
    ),
    (
        "aws api key",
        "claude-sonnet-4-6",
        lambda: MockAWSServer(),
        lambda s: rxclaude.AnthropicAWSClient(
            "us-west-2", workspace_id=MOCK_WORKSPACE_ID, api_key=MOCK_AWS_API_KEY, base_url=s.base_url
        ),
        lambda s: anthropic.AsyncAnthropicAWS(
            api_key=MOCK_AWS_API_KEY, aws_region="us-west-2", workspace_id=MOCK_WORKSPACE_ID, base_url=s.base_url
        ),
    ),
    (
        "google-cloud",
        "claude-haiku-4-5",
        lambda: MockGoogleCloudServer(),
        lambda s: rxclaude.GoogleCloudClient(
            "mock-project", workspace_id=s.workspace_id, access_token=s.issue_token(), base_url=s.base_url
        ),
        lambda s: anthropic.AsyncAnthropicGoogleCloud(
            project="mock-project", workspace_id=s.workspace_id, token_provider=s.issue_token, base_url=s.base_url
        ),
    ),
]


async def per_request(case: Case, requests: int) -> tuple[float, float]:
    """ms per request: (rxclaude, SDK), each streaming the recording to its final message."""
    _, model, make_server, ours, sdk = case
    server = make_server()
    server.default_reply = Reply.from_sse(RECORDING)
    async with server:
        async with ours(server) as client:
            await client.messages.stream(model=model, max_tokens=64, messages=MESSAGES).final_message()  # warm
            start = time.perf_counter()
            for _ in range(requests):
                await client.messages.stream(model=model, max_tokens=64, messages=MESSAGES).final_message()
            mine = (time.perf_counter() - start) * 1000 / requests
        theirs_client = sdk(server)
        try:
            async with theirs_client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as s:
                await s.get_final_message()
            start = time.perf_counter()
            for _ in range(requests):
                async with theirs_client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as s:
                    await s.get_final_message()
            theirs = (time.perf_counter() - start) * 1000 / requests
        finally:
            await theirs_client.close()
    return mine, theirs


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}–{max(values):.2f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    ours: dict[str, list[float]] = {c[0]: [] for c in CASES}
    sdk: dict[str, list[float]] = {c[0]: [] for c in CASES}
    for _ in range(args.rounds):  # interleaved, so drift on the shared VM hits every case alike
        for case in CASES:
            mine, theirs = await per_request(case, args.requests)
            ours[case[0]].append(mine)
            sdk[case[0]].append(theirs)
    base = statistics.median(ours["first-party"])
    print(f"{RECORDING.name}, {args.rounds} rounds x {args.requests} requests; ms per request: median (range)")
    print(f"{'platform':16} {'rxclaude':>22} {'/ first-party':>14} {'SDK':>22} {'SDK / rxclaude':>15}")
    for name in ours:
        ratio = statistics.median(ours[name]) / base
        sdk_ratio = statistics.median([t / m for t, m in zip(sdk[name], ours[name], strict=True)])
        print(f"{name:16} {spread(ours[name]):>22} {ratio:13.2f}x {spread(sdk[name]):>22} {sdk_ratio:14.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
