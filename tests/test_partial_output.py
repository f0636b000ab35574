"""ops.partial_output: structured output as growing values, then validated and typed; the mock's
structured replies and its checks of output_config."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import reactivex
from pydantic import BaseModel

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.errors import BadRequestError, ContentError, OutputValidationError
from rxclaude.core.output import PartialOutput, output_format
from rxclaude.testing import MockServer, Reply

MODEL = "claude-sonnet-4-5"


class City(BaseModel):
    name: str
    population: int
    districts: list[str]


CITY = {"name": "Paris", "population": 2102650, "districts": ["Louvre", "Bourse", "Temple"]}
CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "population": {"type": "integer"},
        "districts": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "population", "districts"],
    "additionalProperties": False,
}


def params(schema: Any = City, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Describe Paris."}],
        "output_config": {"format": output_format(schema)},
        **extra,
    }


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[rxclaude.Client]:
    async with rxclaude.Client(api_key=server.api_key, base_url=server.url) as c:
        yield c


async def collect(stream: rxclaude.MessageStream, op: Any) -> tuple[list[PartialOutput[Any]], Exception | None]:
    out: list[PartialOutput[Any]] = []
    errors: list[Exception] = []
    done = asyncio.Event()
    stream.text.pipe(op).subscribe(out.append, lambda e: (errors.append(e), done.set()), done.set)
    async with stream:
        await asyncio.wait_for(done.wait(), 10)
    return out, errors[0] if errors else None


async def test_a_structured_reply_grows_then_is_typed(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured(CITY))
    out, error = await collect(client.messages.stream(**params()), ops.partial_output(City))
    assert error is None
    *partials, final = out
    assert final.done and final.value == City(**CITY) and type(final.value) is City
    assert all(not p.done and isinstance(p.value, dict) for p in partials)
    assert len(partials) >= 4  # it grew in steps: {}, name, population, districts...
    assert partials[0].value == {}
    assert {"name": "Paris"} in [p.value for p in partials]
    assert partials[-1].value == CITY
    for a, b in itertools.pairwise(partials):
        assert a.value != b.value  # a value only when it changed
    # the request carried the schema the API requires (objects closed)
    sent = server.last_request.json["output_config"]["format"]
    assert sent["type"] == "json_schema" and sent["schema"]["additionalProperties"] is False


async def test_partial_strings_show_a_growing_string(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured({"story": "once upon a time there was a parser"}))
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "additionalProperties": False}
    out, error = await collect(
        client.messages.stream(**params(schema)), ops.partial_output(schema, partial_strings=True)
    )
    assert error is None
    stories = [p.value.get("story") for p in out if isinstance(p.value, dict) and "story" in p.value]
    assert len(stories) > 3 and stories[-1] == "once upon a time there was a parser"
    assert all(b.startswith(a) for a, b in itertools.pairwise(stories))


async def test_a_value_not_matching_the_model_is_a_typed_error_with_the_raw_text(
    server: MockServer, client: rxclaude.Client
) -> None:
    server.enqueue(Reply.structured({"name": "Paris", "population": "many", "districts": []}))
    out, error = await collect(client.messages.stream(**params()), ops.partial_output(City))
    assert isinstance(error, OutputValidationError) and isinstance(error, rxclaude.RxClaudeError)
    assert error.raw == '{"name":"Paris","population":"many","districts":[]}'
    assert error.value == {"name": "Paris", "population": "many", "districts": []}
    assert any(e.startswith("population:") for e in error.errors)
    assert out and not any(p.done for p in out)  # the partials came; no final value


async def test_a_json_schema_dict_is_checked_with_jsonschema(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured(CITY), Reply.structured({**CITY, "population": -1.5}))
    out, error = await collect(client.messages.stream(**params(CITY_SCHEMA)), ops.partial_output(CITY_SCHEMA))
    assert error is None and out[-1] == PartialOutput(CITY, True)
    out, error = await collect(client.messages.stream(**params(CITY_SCHEMA)), ops.partial_output(CITY_SCHEMA))
    assert isinstance(error, OutputValidationError)
    assert error.errors == ("population: -1.5 is not of type 'integer'",)


async def test_a_reply_cut_off_at_max_tokens_is_incomplete(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured(raw='{"name": "Paris", "population": 21', stop_reason="max_tokens"))
    out, error = await collect(client.messages.stream(**params()), ops.partial_output(City))
    assert isinstance(error, OutputValidationError) and "incomplete" in str(error)
    assert error.raw == '{"name": "Paris", "population": 21'
    assert out[-1].value == {"name": "Paris", "population": 21}


async def test_invalid_json_fails_at_once(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured(raw='{"name": "Paris"} and then some prose'))
    _out, error = await collect(client.messages.stream(**params()), ops.partial_output())
    assert isinstance(error, OutputValidationError) and "not valid JSON" in str(error)
    assert error.raw.startswith('{"name": "Paris"}')


async def test_without_a_schema_the_final_value_is_the_json(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.structured([1, [2, 3], {"a": None}]))
    out, error = await collect(client.messages.stream(**params()), ops.partial_output())
    assert error is None and out[-1] == PartialOutput([1, [2, 3], {"a": None}], True)


async def test_a_strict_tools_input_from_the_events(server: MockServer, client: rxclaude.Client) -> None:
    tool = {"name": "record_city", "strict": True, "input_schema": output_format(City)["schema"]}
    server.enqueue(
        Reply.text(
            "Recording.",
            tool_uses=[{"name": "other", "input": {"x": 1}}, {"name": "record_city", "input": CITY}],
        )
    )
    stream = client.messages.stream(**params(tools=[tool]))
    out: list[PartialOutput[Any]] = []
    stream.events.pipe(ops.partial_output(City, tool="record_city")).subscribe(out.append)
    async with stream:
        await stream.final_message()
    assert out[-1] == PartialOutput(City(**CITY), True)
    assert all(isinstance(p.value, dict) and "x" not in p.value for p in out[:-1])


def test_from_events_without_the_tool_is_an_error() -> None:
    errors: list[Exception] = []
    reactivex.empty().pipe(ops.partial_output(tool="missing")).subscribe(on_error=errors.append)
    assert isinstance(errors[0], OutputValidationError)


def test_from_text_fragments_without_a_server() -> None:
    out: list[PartialOutput[Any]] = []
    reactivex.from_iterable(list('{"a": [1, 2, {"b": true}]}')).pipe(ops.partial_output()).subscribe(out.append)
    assert [p.value for p in out] == [
        {},
        {"a": []},
        {"a": [1]},
        {"a": [1, 2]},
        {"a": [1, 2, {}]},
        {"a": [1, 2, {"b": True}]},
        {"a": [1, 2, {"b": True}]},
    ]
    assert out[-1].done and not out[-2].done


def test_each_subscription_has_its_own_parser() -> None:
    source = reactivex.from_iterable(['{"a":', " 1}"])
    op = ops.partial_output()
    assert [p.value for p in _values(source.pipe(op))] == [{}, {"a": 1}, {"a": 1}]
    assert [p.value for p in _values(source.pipe(op))] == [{}, {"a": 1}, {"a": 1}]


def _values(source: reactivex.Observable[Any]) -> list[Any]:
    out: list[Any] = []
    source.subscribe(out.append)
    return out


def test_an_invalid_json_schema_is_refused_at_once() -> None:
    with pytest.raises(ContentError, match="not a valid JSON schema"):
        ops.partial_output({"type": "no-such-type"})


def test_output_format_closes_every_object() -> None:
    class Inner(BaseModel):
        x: int

    class Outer(BaseModel):
        inner: Inner
        items: list[Inner]

    schema = output_format(Outer)["schema"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Inner"]["additionalProperties"] is False
    # a format dict passes through unwrapped
    assert output_format({"type": "json_schema", "schema": CITY_SCHEMA}) == {
        "type": "json_schema",
        "schema": CITY_SCHEMA,
    }


@pytest.mark.parametrize(
    ("output_config", "message"),
    [
        (
            {"format": {"type": "json", "schema": CITY_SCHEMA}},
            "output_config.format.type: Input should be 'json_schema'",
        ),
        ({"format": {"type": "json_schema"}}, "output_config.format.schema: Field required"),
        (
            {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}},
            "'additionalProperties' must be explicitly set to false",
        ),
        (
            {"format": {"type": "json_schema", "schema": CITY_SCHEMA, "name": "city"}},
            "output_config.format.name: Extra inputs are not permitted",
        ),
        ("json", "output_config: Input should be a valid dictionary"),
        ({"effort": "extreme"}, "output_config.effort: Input should be 'low'"),
    ],
)
async def test_the_mock_refuses_a_bad_output_config_as_the_api_does(
    server: MockServer, client: rxclaude.Client, output_config: Any, message: str
) -> None:
    body = {**params(), "output_config": output_config}
    with pytest.raises(BadRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await client.messages.create(**body)


async def test_the_mock_refuses_a_strict_tool_with_an_open_object(server: MockServer, client: rxclaude.Client) -> None:
    tool = {"name": "t", "strict": True, "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}}
    with pytest.raises(BadRequestError, match=r"tools\.0\.input_schema"):
        await client.messages.create(**params(tools=[tool]))
    del tool["strict"]  # a tool that is not strict may leave its objects open
    server.enqueue(Reply.text("ok"))
    assert (await client.messages.create(**params(tools=[tool]))).text == "ok"


async def test_the_official_sdk_accepts_the_mocks_structured_reply(server: MockServer) -> None:
    anthropic = pytest.importorskip("anthropic")
    server.enqueue(Reply.structured(CITY))
    sdk = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url)
    async with sdk.messages.stream(**params()) as stream:
        message = await stream.get_final_message()
    await sdk.close()
    assert message.content[0].text == '{"name":"Paris","population":2102650,"districts":["Louvre","Bourse","Temple"]}'


def test_the_extras_are_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pydantic or jsonschema: plain JSON works; a schema asks for the extra by name."""
    monkeypatch.setitem(sys.modules, "pydantic", None)
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    out: list[PartialOutput[Any]] = []
    reactivex.of('{"a": 1}').pipe(ops.partial_output()).subscribe(out.append)
    assert out[-1] == PartialOutput({"a": 1}, True)
    with pytest.raises(ImportError, match=r"rxclaude\[structured\]"):
        ops.partial_output(City)
    with pytest.raises(ImportError, match=r"rxclaude\[structured\]"):
        ops.partial_output(CITY_SCHEMA)
    with pytest.raises(ImportError, match=r"rxclaude\[structured\]"):
        output_format(City)
    assert output_format(CITY_SCHEMA)["schema"] == CITY_SCHEMA  # a dict schema needs neither


async def test_the_mock_accepts_effort_and_beta_keys(server: MockServer, client: rxclaude.Client) -> None:
    server.enqueue(Reply.text("fine"), Reply.text("fine too"))
    body = {**params(), "output_config": {"effort": "high"}}
    assert (await client.messages.create(**body)).text == "fine"
    body = {**params(), "output_config": {"task_budget": {"type": "tokens", "total": 1000}}}
    assert (await client.messages.create(**body)).text == "fine too"
