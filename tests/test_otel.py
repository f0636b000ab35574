"""OpenTelemetry (rxclaude.otel): spans and metrics against the mock server, read back through the
OTel SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra (and the OTel SDK) are not installed")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import rxclaude
from rxclaude.otel import SPAN_NAME, OpenTelemetry
from rxclaude.testing import MockServer, Reply

MESSAGES = [{"role": "user", "content": "Hi there"}]


class Telemetry:
    def __init__(self, **options: Any) -> None:
        self.spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.otel = OpenTelemetry(
            tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[self.reader]), **options
        )

    def finished(self) -> tuple[ReadableSpan, list[ReadableSpan]]:
        spans = list(self.spans.get_finished_spans())
        calls = [s for s in spans if s.name == SPAN_NAME]
        assert len(calls) == 1, [s.name for s in spans]
        attempts = [s for s in spans if s.name == "POST"]
        assert all(s.parent is not None and s.parent.span_id == calls[0].context.span_id for s in attempts)
        return calls[0], attempts

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        assert data is not None
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                assert sm.scope.name == "rxclaude"
                for metric in sm.metrics:
                    out[metric.name] = list(metric.data.data_points)
        return out


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


def client_for(server: MockServer, telemetry: Telemetry | None, **options: Any) -> rxclaude.Client:
    return rxclaude.Client(
        api_key="sk-test",
        base_url=server.url,
        open_telemetry=telemetry.otel if telemetry else False,
        **options,
    )


async def test_spans_per_request_and_attempt_with_the_sdk_attribute_names(server: MockServer) -> None:
    t = Telemetry()
    server.enqueue(Reply.error(529), Reply.text("Hello there", input_tokens=11, output_tokens=7))
    async with client_for(server, t) as client:
        stream = client.messages.stream(
            model="claude-haiku-4-5",  # a model with budgeted thinking; the budget is >= 1024 and < max_tokens
            max_tokens=4096,
            messages=MESSAGES,
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
        assert await stream.final_text() == "Hello there"
    call, attempts = t.finished()
    a = dict(call.attributes or {})
    assert call.kind is SpanKind.CLIENT and call.status.status_code is StatusCode.OK
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "claude-haiku-4-5"
    assert a["gen_ai.request.max_tokens"] == 4096
    assert a["gen_ai.request.stream"] is True
    assert a["anthropic.thinking.type"] == "enabled" and a["anthropic.thinking.budget_tokens"] == 2048
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 7
    assert a["anthropic.message.stop_reason"] == "end_turn"
    assert a["anthropic.request.id"] == stream.request_id
    assert a["gen_ai.response.id"] == (await stream.final_message()).id
    assert a["http.response.status_code"] == 200 and a["http.request.resend_count"] == 1
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == server.port
    assert 0 < a["gen_ai.response.time_to_first_chunk"] < 60
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # content off by default
    # one span per attempt: the 529, then the retry that streamed
    assert [s.attributes.get("http.response.status_code") for s in attempts] == [529, 200]  # type: ignore[union-attr]
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert attempts[0].attributes["error.type"] == "overloaded_error"  # type: ignore[index]
    assert attempts[1].attributes["http.request.resend_count"] == 1  # type: ignore[index]
    # each request carried its attempt span's trace context
    for request, attempt in zip(server.requests, attempts, strict=True):
        assert request.headers["traceparent"].split("-")[2] == format(attempt.context.span_id, "016x")


async def test_content_is_recorded_only_when_asked(server: MockServer) -> None:
    t = Telemetry(content=True)
    server.enqueue(Reply.text("Answer.", thinking="Think."))
    async with client_for(server, t) as client:
        await client.messages.stream(
            model="claude-sonnet-5-5", max_tokens=9, system="Be brief.", messages=MESSAGES
        ).final_message()
    a = dict(t.finished()[0].attributes or {})
    assert a["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Hi there"}]}]'
    assert a["gen_ai.system_instructions"] == '[{"type":"text","content":"Be brief."}]'
    assert a["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"reasoning","content":"Think."},'
        '{"type":"text","content":"Answer."}],"finish_reason":"end_turn"}]'
    )


async def test_content_over_the_limit_is_left_out_and_flagged(server: MockServer) -> None:
    t = Telemetry(content=True, max_content_bytes=40)
    server.enqueue(Reply.text("A long enough answer to go over forty bytes of JSON."))
    async with client_for(server, t) as client:
        await client.messages.stream(model="claude-sonnet-5-5", max_tokens=9, messages=MESSAGES).final_message()
    a = dict(t.finished()[0].attributes or {})
    assert a["anthropic.content.truncated"] is True
    assert "gen_ai.output.messages" not in a


async def test_metrics_time_to_first_chunk_tokens_and_rate(server: MockServer) -> None:
    t = Telemetry()
    server.enqueue(Reply.text(["a", "b", "c"], input_tokens=5, output_tokens=30))
    async with client_for(server, t) as client:
        await client.messages.stream(model="claude-haiku-4-5", max_tokens=9, messages=MESSAGES).final_message()
    m = t.metrics()
    assert set(m) == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.token.usage",
        "rxclaude.client.output_tokens_per_second",
    }
    (ttfc,) = m["gen_ai.client.operation.time_to_first_chunk"]
    (duration,) = m["gen_ai.client.operation.duration"]
    assert ttfc.count == 1 and duration.count == 1 and 0 < ttfc.sum <= duration.sum
    assert ttfc.attributes["gen_ai.request.model"] == "claude-haiku-4-5"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in m["gen_ai.client.token.usage"]}
    assert tokens == {"input": 5, "output": 30}
    (rate,) = m["rxclaude.client.output_tokens_per_second"]
    assert rate.count == 1 and rate.sum > 0


@pytest.mark.parametrize(
    ("reply", "error", "error_type"),
    [
        (Reply.error(400, message="bad"), rxclaude.BadRequestError, "invalid_request_error"),
        (Reply.text("partial answer here").with_faults(error_after=4), rxclaude.OverloadedError, "overloaded_error"),
        (Reply.text("cut short here").with_faults(close_after=4), rxclaude.IncompleteStreamError, "api_error"),
    ],
)
async def test_failures_set_error_status_and_type(
    server: MockServer, reply: Reply, error: type[Exception], error_type: str
) -> None:
    t = Telemetry()
    server.enqueue(reply)
    async with client_for(server, t) as client:
        with pytest.raises(error):
            await client.messages.stream(model="claude-sonnet-5-5", max_tokens=9, messages=MESSAGES).final_message()
    call, _ = t.finished()
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == error_type  # type: ignore[index]
    assert t.metrics()["gen_ai.client.operation.duration"][0].attributes["error.type"] == error_type


async def test_a_cancelled_stream_ends_its_span_without_an_error_status(server: MockServer) -> None:
    t = Telemetry()
    server.enqueue(Reply.text(["x"] * 50).with_faults(delay=0.05))
    async with client_for(server, t) as client:
        stream = client.messages.stream(model="claude-sonnet-5-5", max_tokens=9, messages=MESSAGES)
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stream.text.subscribe(lambda s: first.done() or first.set_result(s))
        stream.connect()
        await first
        stream.cancel()
        await server.wait_disconnect()
    call, attempts = t.finished()
    assert call.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.time_to_first_chunk" in (call.attributes or {})
    assert len(attempts) == 1


async def test_bedrock_and_vertex_provider_names() -> None:
    t = Telemetry()
    for provider in ("bedrock", "vertex", "anthropic"):
        observer = t.otel.request(provider, {"model": "m"})
        assert observer is not None
        observer.end(None)
    names = [s.attributes["gen_ai.provider.name"] for s in t.spans.get_finished_spans()]  # type: ignore[index]
    assert names == ["aws.bedrock", "gcp.vertex_ai", "anthropic"]


async def test_off_when_disabled_and_when_nothing_is_configured(server: MockServer) -> None:
    t = Telemetry()
    client = rxclaude.Client(api_key="k", base_url=server.url, open_telemetry=False)
    assert client.instrumentation is None
    await client.close()
    # the default: on, but with no tracer or meter provider configured no request is observed
    default = rxclaude.Client(api_key="k", base_url=server.url)
    assert isinstance(default.instrumentation, OpenTelemetry)
    assert default.instrumentation.request("anthropic", {"model": "m"}) is None
    await default.close()
    assert t.spans.get_finished_spans() == ()


def test_without_the_extra_nothing_is_imported() -> None:
    """With opentelemetry not installed (hidden from the import system), a client streams and
    never imports it."""
    code = textwrap.dedent(
        """
        import asyncio, sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        import rxclaude
        from rxclaude.testing import MockServer, Reply

        async def main():
            async with MockServer() as server, rxclaude.Client(api_key="k", base_url=server.url) as client:
                assert client.instrumentation is None
                text = await client.messages.stream(model="claude-sonnet-5-5", max_tokens=5, messages=[{"role": "user", "content": "ok"}]).final_text()
                assert text == "ok", text
        asyncio.run(main())
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], sys.modules
        print("clean")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


async def test_propagation_can_be_turned_off(server: MockServer) -> None:
    t = Telemetry(propagation=False)
    async with client_for(server, t) as client:
        await client.messages.stream(model="claude-sonnet-5-5", max_tokens=9, messages=MESSAGES).final_message()
    assert "traceparent" not in server.last_request.headers
    assert len(t.finished()[1]) == 1


def test_asking_for_it_without_the_extra_says_what_to_install() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        import rxclaude
        try:
            rxclaude.Client(api_key="k", open_telemetry=True)
        except ImportError as e:
            print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'rxclaude[otel]'" in out.stdout, out.stderr


def test_the_sdk_environment_variables_apply_to_a_client_given_no_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    assert rxclaude.Client(api_key="k").instrumentation is None
    assert isinstance(rxclaude.Client(api_key="k", open_telemetry=True).instrumentation, OpenTelemetry)
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY")
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE", "content")
    instrumentation = rxclaude.Client(api_key="k").instrumentation
    assert isinstance(instrumentation, OpenTelemetry) and instrumentation.content


async def test_a_hedged_request_traces_each_route_and_the_losers_usage() -> None:
    t = Telemetry()
    async with MockServer() as a, MockServer() as b:
        a.enqueue(Reply.text("slow", input_tokens=40).with_faults(stall_after=1, stall_seconds=60))
        async with client_for(a, t) as ca, client_for(b, t) as cb:
            stream = rxclaude.fallback(
                [ca, cb], hedge_after=0.1, model="claude-sonnet-5-5", max_tokens=9, messages=MESSAGES
            )
            assert await stream.final_text() == "Hi there"
            await a.wait_disconnect()
    calls = sorted((s for s in t.spans.get_finished_spans() if s.name == SPAN_NAME), key=lambda s: s.start_time or 0)
    loser, winner = calls
    assert loser.status.status_code is StatusCode.UNSET  # cancelled: no error status
    assert loser.attributes["gen_ai.usage.input_tokens"] == 40  # type: ignore[index]
    assert "gen_ai.response.time_to_first_chunk" not in (loser.attributes or {})
    assert winner.status.status_code is StatusCode.OK


async def test_bedrock_eventstream_frames_are_traced_too() -> None:
    """Bedrock's decoder hands over Frame objects (no fields lane): the other tap."""
    from rxclaude.testing.bedrock import MockBedrockServer

    t = Telemetry()
    async with MockBedrockServer(api_key="ABSKtestBedrockApiKeyExample==", text="Hola mundo") as server:
        client = rxclaude.BedrockClient(
            "us-east-1", api_key="ABSKtestBedrockApiKeyExample==", base_url=server.url, open_telemetry=t.otel
        )
        async with client:
            text = await client.messages.stream(
                model="us.anthropic.claude-haiku-4-5-20251001-v1:0", max_tokens=9, messages=MESSAGES
            ).final_text()
    assert text == "Hola mundo"
    call, attempts = t.finished()
    a = dict(call.attributes or {})
    assert a["gen_ai.provider.name"] == "aws.bedrock"
    assert a["gen_ai.request.model"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert "gen_ai.response.time_to_first_chunk" in a and "gen_ai.usage.output_tokens" in a
    assert call.status.status_code is StatusCode.OK and len(attempts) == 1


async def test_a_tracer_that_fails_never_breaks_a_request(server: MockServer) -> None:
    class Broken(TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            tracer = super().get_tracer(*args, **kwargs)

            def start_span(*a: Any, **k: Any) -> Any:
                raise RuntimeError("exporter down")

            tracer.start_span = start_span  # type: ignore[method-assign]
            return tracer

    otel = OpenTelemetry(tracer_provider=Broken())
    async with rxclaude.Client(api_key="k", base_url=server.url, open_telemetry=otel) as client:
        assert (
            await client.messages.stream(model="claude-sonnet-5-5", max_tokens=5, messages=MESSAGES).final_text()
            == "Hi there"
        )
