"""Issue 11, items 3 and 4: ``anthropic_version`` and ``auth`` on the client, the CLI and the
environment; the 2026-10-21 request shapes (``role: "system"`` messages) checked before sending
and by the mock; adaptive thinking with ``output_config.effort`` end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import rxclaude
from rxclaude import Client
from rxclaude.cli import main
from rxclaude.core.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    RequestShapeError,
)
from rxclaude.core.versions import API_VERSIONS, LATEST_VERSION, request_problem
from rxclaude.testing import MockServer, Reply

KEY = "fake-key-test-versions-0123456789"
MODEL = "claude-opus-4-7"
USER = [{"role": "user", "content": "Hi"}]
SYSTEM_TURN = [{"role": "system", "content": [{"type": "text", "text": "Answer in French."}]}, *USER]


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer(require_key=KEY) as s:
        yield s


async def create(client: Client, **params: Any) -> rxclaude.Message:
    return await asyncio.wait_for(client.messages.create(model=MODEL, max_tokens=64, **params), 10)


@pytest.mark.parametrize("version", API_VERSIONS)
@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
async def test_both_versions_and_both_auth_schemes(server: MockServer, version: str, auth: str) -> None:
    async with Client(api_key=KEY, base_url=server.url, anthropic_version=version, auth=auth) as client:
        assert (await create(client, messages=USER)).text
    h = server.last_request.headers
    assert h["anthropic-version"] == version
    if auth == "bearer":
        assert h["authorization"] == f"Bearer {KEY}" and "x-api-key" not in h
    else:
        assert h["x-api-key"] == KEY and "authorization" not in h


@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
async def test_a_wrong_key_is_refused_under_either_scheme(server: MockServer, auth: str) -> None:
    wrong = "wrong-key-9876543210"
    async with Client(api_key=wrong, base_url=server.url, auth=auth, max_retries=0) as client:
        with pytest.raises(AuthenticationError) as info:
            await create(client, messages=USER)
    assert ("x-api-key" if auth == "x-api-key" else "bearer token") in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(client)


def test_options_without_meaning_are_typed() -> None:
    with pytest.raises(ConfigurationError, match="auth='basic'"):
        Client(api_key=KEY, auth="basic")
    with pytest.raises(ConfigurationError):
        Client(api_key=KEY, anthropic_version=" ")
    assert "auth='bearer'" in repr(Client(api_key=KEY, auth="bearer"))


async def test_environment_chooses_version_and_auth(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXCLAUDE_ANTHROPIC_VERSION", LATEST_VERSION)
    monkeypatch.setenv("RXCLAUDE_AUTH", "bearer")
    async with Client(api_key=KEY, base_url=server.url) as client:
        await create(client, messages=SYSTEM_TURN)
    h = server.last_request.headers
    assert h["anthropic-version"] == LATEST_VERSION and h["authorization"] == f"Bearer {KEY}"
    assert server.last_request.json["messages"][0]["role"] == "system"


async def test_default_version_is_the_documented_one_and_refuses_system_turns(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url) as client:
        assert client.provider.anthropic_version == "2023-06-01"  # type: ignore[attr-defined]
        with pytest.raises(RequestShapeError, match=r"messages\[0\]\.role.*2026-10-21"):
            await create(client, messages=SYSTEM_TURN)
    assert server.requests == []  # refused before sending


@pytest.mark.parametrize(
    ("version", "messages", "fragment"),
    [
        ("2023-06-01", SYSTEM_TURN, "'system' messages need anthropic-version 2026-10-21"),
        (LATEST_VERSION, [{"role": "system", "content": [{"type": "image"}]}, *USER], "only text blocks"),
        (LATEST_VERSION, [{"role": "robot", "content": "x"}], "Input should be 'user' or 'assistant' or 'system'"),
        ("2023-06-01", [{"role": "robot", "content": "x"}], "Input should be 'user' or 'assistant'"),
    ],
)
async def test_the_mock_refuses_what_the_version_does_not_take(
    server: MockServer, version: str, messages: list[Any], fragment: str
) -> None:
    async with Client(
        api_key=KEY, base_url=server.url, anthropic_version=version, validate=False, max_retries=0
    ) as client:
        with pytest.raises(BadRequestError) as info:
            await create(client, messages=messages)
    assert fragment in str(info.value) and info.value.status_code == 400


async def test_the_mock_refuses_an_unknown_version(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url, anthropic_version="2099-01-01", max_retries=0) as client:
        with pytest.raises(BadRequestError, match="is not a valid version"):
            await create(client, messages=USER)
    async with (
        MockServer(versions=("2099-01-01",)) as future,
        Client(api_key=KEY, base_url=future.url, anthropic_version="2099-01-01") as client,
    ):
        assert (await create(client, messages=USER)).text  # an unknown version is not second-guessed


# -- item 4: adaptive thinking + effort ---------------------------------------------------------


async def test_adaptive_thinking_with_effort_end_to_end(server: MockServer) -> None:
    server.enqueue(Reply.text("Bonjour.", thinking="A greeting."))
    async with Client(api_key=KEY, base_url=server.url) as client:
        stream = client.messages.stream(
            model=MODEL,
            max_tokens=2048,
            messages=USER,
            thinking={"type": "adaptive", "display": "summarized"},
            output_config={"effort": "low"},
        )
        thinking: list[str] = []
        stream.thinking.subscribe(thinking.append)
        message = await asyncio.wait_for(stream.final_message(), 10)
    body = server.last_request.json
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "low"}
    assert message.thinking == "".join(thinking) == "A greeting." and message.text == "Bonjour."


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "greater than or equal to 1024"),
        ({"thinking": {"type": "adaptive", "display": "loud"}}, "thinking.adaptive.display"),
    ],
)
async def test_thinking_shapes(server: MockServer, params: dict[str, Any], fragment: str) -> None:
    async with Client(api_key=KEY, base_url=server.url, max_retries=0) as client:
        with pytest.raises(RequestShapeError, match=fragment.replace(".", r"\.")):
            await create(client, messages=USER, **params)
        assert server.requests == []
    async with Client(api_key=KEY, base_url=server.url, max_retries=0, validate=False) as client:
        with pytest.raises(BadRequestError, match=fragment.replace(".", r"\.")):
            await create(client, messages=USER, **params)  # and the mock answers 400 like the API


async def test_an_unknown_effort_is_the_apis_400(server: MockServer) -> None:
    async with Client(api_key=KEY, base_url=server.url, max_retries=0) as client:
        with pytest.raises(BadRequestError, match=r"output_config\.effort"):
            await create(client, messages=USER, thinking={"type": "adaptive"}, output_config={"effort": "extreme"})


def test_adaptive_thinking_with_every_effort_is_accepted() -> None:
    for effort in ("low", "medium", "high", "xhigh", "max"):
        assert request_problem({"thinking": {"type": "adaptive"}, "output_config": {"effort": effort}}, "") is None


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    with MockServer(require_key=KEY).running_in_thread() as mock:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", mock.url)
        yield mock


def test_cli_flags(running: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["Hi", "--thinking", "adaptive", "--effort", "high", "--anthropic-version", LATEST_VERSION]
    assert main([*argv, "--auth", "bearer", "-m", MODEL]) == 0
    request = running.last_request
    assert request.headers["anthropic-version"] == LATEST_VERSION
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["thinking"] == {"type": "adaptive"} and request.json["output_config"] == {"effort": "high"}
    assert main(["Hi", "--thinking", "2048", "--max-tokens", "4096", "-m", "claude-haiku-4-5"]) == 0  # manual thinking
    assert running.last_request.json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert running.last_request.headers["x-api-key"] == KEY


def test_cli_refuses_bad_values(running: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["Hi", "--auth", "basic"])
    with pytest.raises(SystemExit):
        main(["Hi", "--thinking", "lots"])
    assert main(["Hi", "--provider", "bedrock", "--auth", "bearer", "-m", "m", "--region", "us-east-1"]) == 1
    assert "for --provider anthropic" in capsys.readouterr().err
