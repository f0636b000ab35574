"""The mock refuses what the real API refuses, with the API's status, error type and message;
and the model table behind it (rxclaude.core.models)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest

import rxclaude
from rxclaude.core.models import (
    DEFAULT_MODEL,
    MODELS,
    PREFILL_ERROR,
    UnknownModelError,
    current_models,
    find_model,
    lookup_model,
)
from rxclaude.testing import MockServer
from rxclaude.testing.refusals import BUDGET_ERROR

USER = [{"role": "user", "content": "Hi"}]


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as running:
        yield running


async def _post(server: MockServer, body: dict[str, Any], path: str = "/v1/messages") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}{path}", json=body, headers=server.headers()) as r,
    ):
        return r.status, await r.json(content_type=None)


def _error(status: int, body: Any) -> tuple[int, str, str]:
    assert body["type"] == "error" and body["request_id"].startswith("req_")
    return status, body["error"]["type"], body["error"]["message"]


@pytest.mark.parametrize("model", ["claude-does-not-exist", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
async def test_unknown_or_retired_model_is_404(server: MockServer, model: str) -> None:
    status, body = await _post(server, {"model": model, "max_tokens": 16, "messages": USER})
    assert _error(status, body) == (404, "not_found_error", f"model: {model}")
    status, body = await _post(server, {"model": model, "messages": USER}, "/v1/messages/count_tokens")
    assert _error(status, body) == (404, "not_found_error", f"model: {model}")


async def test_max_tokens_above_the_model_limit(server: MockServer) -> None:
    body = {"model": "claude-opus-4-8", "max_tokens": 9999999, "messages": USER}
    status, answer = await _post(server, body)
    assert _error(status, answer) == (
        400,
        "invalid_request_error",
        "max_tokens: 9999999 > 128000, which is the maximum allowed number of output tokens for claude-opus-4-8",
    )
    status, _ = await _post(server, {**body, "max_tokens": 128000})
    assert status == 200


@pytest.mark.parametrize("budget", [2000, 1024 + 1000])
async def test_thinking_budget_must_stay_below_max_tokens(server: MockServer, budget: int) -> None:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024 + 1000 if budget == 2024 else 1024,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    status, answer = await _post(server, body)
    assert _error(status, answer) == (400, "invalid_request_error", BUDGET_ERROR)
    status, _ = await _post(server, {**body, "max_tokens": budget + 1})
    assert status == 200


async def test_thinking_budget_minimum(server: MockServer) -> None:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": 512},
    }
    status, answer = await _post(server, body)
    assert _error(status, answer) == (
        400,
        "invalid_request_error",
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    )


PREFILLED = [*USER, {"role": "assistant", "content": "Sure, here"}]


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-6", "claude-sonnet-5-5", DEFAULT_MODEL])
async def test_prefill_refused_from_claude_4_6_on(server: MockServer, model: str) -> None:
    status, answer = await _post(server, {"model": model, "max_tokens": 64, "messages": PREFILLED})
    assert _error(status, answer) == (400, "invalid_request_error", PREFILL_ERROR)


async def test_prefill_still_taken_by_older_models(server: MockServer) -> None:
    status, _ = await _post(server, {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": PREFILLED})
    assert status == 200


async def test_refusals_reach_clients_as_typed_errors(server: MockServer) -> None:
    async with rxclaude.Client(api_key=server.api_key, base_url=server.url, max_retries=0) as client:
        with pytest.raises(rxclaude.NotFoundError, match="model: claude-sonnet-4-5"):
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=USER)
        with pytest.raises(rxclaude.BadRequestError, match="must end with a user message"):
            await client.messages.create(model=DEFAULT_MODEL, max_tokens=8, messages=PREFILLED)
    sdk = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url, max_retries=0)
    try:
        with pytest.raises(anthropic.BadRequestError, match=r"thinking\.budget_tokens"):
            await sdk.messages.create(
                model="claude-haiku-4-5",
                max_tokens=1024,
                messages=[{"role": "user", "content": "Hi"}],
                thinking={"type": "enabled", "budget_tokens": 2000},
            )
    finally:
        await sdk.close()


async def test_check_models_false_accepts_anything() -> None:
    async with MockServer(check_models=False) as server:
        status, _ = await _post(server, {"model": "my-fine-tune", "max_tokens": 10**7, "messages": PREFILLED})
        assert status == 200


def test_model_table_is_one_place_and_consistent() -> None:
    ids = [name for info in MODELS for name in info.ids]
    assert len(ids) == len(set(ids))
    current = [info.id for info in current_models(dt.date(2026, 12, 5))]
    assert DEFAULT_MODEL in current
    assert "claude-sonnet-4-5" not in current and "claude-opus-4-5" not in current  # retired / deprecated
    assert find_model("claude-haiku-4-5-20251001") is find_model("claude-haiku-4-5")
    for info in MODELS:
        assert info.thinking and set(info.thinking) <= {"adaptive", "enabled"}
        assert info.max_output_tokens >= 32_000


def test_model_table_covers_the_sdk_models() -> None:
    from typing import get_args

    from anthropic.types.model import Model

    literal = get_args(Model)[0]
    known = {name for info in MODELS for name in info.ids}
    assert set(get_args(literal)) <= known


def test_lookup_model_says_why() -> None:
    with pytest.raises(UnknownModelError, match="retired on 2026-11-30"):
        lookup_model("claude-sonnet-4-5", today=dt.date(2026, 12, 1))
    assert lookup_model("claude-sonnet-4-5", today=dt.date(2026, 11, 29)).max_output_tokens == 64_000
    with pytest.raises(UnknownModelError, match="unknown model 'gpt'"):
        lookup_model("gpt")
    assert isinstance(UnknownModelError("x"), rxclaude.RxClaudeError)


async def test_platform_style_ids_name_the_first_party_model(server: MockServer) -> None:
    ok = {"model": "global.anthropic.claude-opus-4-8", "max_tokens": 128000, "messages": USER}
    assert (await _post(server, ok))[0] == 200
    gone = {**ok, "model": "eu.anthropic.claude-sonnet-4-5"}
    status, body = await _post(server, gone)
    assert _error(status, body) == (404, "not_found_error", "model: eu.anthropic.claude-sonnet-4-5")
