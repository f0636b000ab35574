"""Time as data, in exact virtual time (TestScheduler ticks are seconds)."""

from __future__ import annotations

from typing import Any

import pytest
import reactivex
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.marbles import marbles_testing

from rxclaude.core.deltas import InputJSONDelta, SignatureDelta, TextDelta, ThinkingDelta
from rxclaude.core.events import ContentBlockDeltaEvent, MessageDelta, MessageDeltaEvent, MessageStartEvent, PingEvent
from rxclaude.core.message import Message, Usage
from rxclaude.core.values import Timestamped
from rxclaude.operators.timing import inter_token_gaps, throughput, time_to_first_token, timestamped, tokens_per_second
from rxclaude.plumbing import clock

# Typed loosely: reactivex annotates ticks as int, and virtual seconds here are often fractional.
on_next: Any = ReactiveTest.on_next
on_completed: Any = ReactiveTest.on_completed
on_error: Any = ReactiveTest.on_error

START = MessageStartEvent(Message(id="msg_1", model="m", usage=Usage(input_tokens=10, output_tokens=1)))
PING = PingEvent()


def text(s: str) -> ContentBlockDeltaEvent:
    return ContentBlockDeltaEvent(0, TextDelta(s))


def thinking(s: str) -> ContentBlockDeltaEvent:
    return ContentBlockDeltaEvent(0, ThinkingDelta(s))


def tool_json(s: str) -> ContentBlockDeltaEvent:
    return ContentBlockDeltaEvent(1, InputJSONDelta(s))


def delta_usage(output_tokens: int) -> MessageDeltaEvent:
    return MessageDeltaEvent(MessageDelta(stop_reason="end_turn"), Usage(output_tokens=output_tokens))


def values(messages: list[Any]) -> list[tuple[float, Any]]:
    return [(m.time, m.value.value) for m in messages if m.value.kind == "N"]


def approx_values(messages: list[Any]) -> list[tuple[float, Any]]:
    return [(t, pytest.approx(v)) for t, v in values(messages)]


def kinds(messages: list[Any]) -> list[tuple[float, str]]:
    return [(m.time, m.value.kind) for m in messages]


def test_time_to_first_token_counts_from_subscription() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(
        on_next(150, text("too early")),
        on_next(210, START),
        on_next(220, PING),
        on_next(230, ContentBlockDeltaEvent(0, SignatureDelta("sig"))),
        on_next(250, thinking("hmm")),
        on_next(260, text("hi")),
        on_completed(300),
    )
    res = s.start(lambda: xs.pipe(time_to_first_token()))
    assert values(res.messages) == [(250, pytest.approx(50.0))]
    assert kinds(res.messages) == [(250, "N"), (250, "C")]
    assert xs.subscriptions[0].unsubscribe == 250  # detached after the first token


def test_time_to_first_token_on_strings_and_explicit_scheduler() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(on_next(203.5, "Hello"), on_completed(300))
    out: list[float] = []
    s.schedule_absolute(200, lambda *_: xs.pipe(time_to_first_token(s)).subscribe(out.append))
    s.start()
    assert out == [pytest.approx(3.5)]


def test_time_to_first_token_empty_and_error() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(on_next(210, START), on_completed(300))
    assert kinds(s.start(lambda: xs.pipe(time_to_first_token())).messages) == [(300, "C")]
    s = TestScheduler()
    boom = RuntimeError("boom")
    ys = s.create_hot_observable(on_error(220, boom))
    assert s.start(lambda: ys.pipe(time_to_first_token())).messages == [on_error(220, boom)]


def test_time_to_first_token_with_tool_use_delta_types() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(on_next(240, tool_json('{"a"')), on_next(260, text("x")), on_completed(300))
    res = s.start(lambda: xs.pipe(time_to_first_token(delta_types=(TextDelta, InputJSONDelta))))
    assert values(res.messages) == [(240, pytest.approx(40.0))]


def test_inter_token_gaps() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(
        on_next(210, START),
        on_next(250, thinking("a")),
        on_next(255, PING),
        on_next(260, text("b")),
        on_next(290, tool_json("{")),
        on_next(291.5, "plain string"),
        on_completed(300),
    )
    res = s.start(lambda: xs.pipe(inter_token_gaps()))
    assert approx_values(res.messages) == [(260, 10.0), (290, 30.0), (291.5, 1.5)]
    assert kinds(res.messages)[-1] == (300, "C")


def test_tokens_per_second_rolling_window() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(
        on_next(250, text("a")),
        on_next(252, text("b")),
        on_next(254, text("c")),
        on_next(256, PING),
        on_next(270, text("d")),
        on_next(279, text("e")),
        on_completed(300),
    )
    res = s.start(lambda: xs.pipe(tokens_per_second(window=10.0)))
    assert approx_values(res.messages) == [(250, 0.1), (252, 0.2), (254, 0.3), (270, 0.1), (279, 0.2)]


def test_tokens_per_second_rejects_a_bad_window() -> None:
    with pytest.raises(ValueError):
        tokens_per_second(window=0)


def test_throughput_uses_usage_output_tokens() -> None:
    def run(**kwargs: Any) -> list[tuple[float, Any]]:
        s = TestScheduler()
        xs = s.create_hot_observable(
            on_next(210, START),
            on_next(220, delta_usage(5)),  # before the first token: the clock has not started
            on_next(250, text("a")),
            on_next(275, delta_usage(50)),
            on_next(300, delta_usage(100)),
            on_completed(310),
        )
        return values(s.start(lambda: xs.pipe(throughput(**kwargs))).messages)

    assert run() == [(275, pytest.approx(2.0)), (300, pytest.approx(2.0))]
    assert run(since="subscribe") == [
        (220, pytest.approx(0.25)),
        (275, pytest.approx(50 / 75)),
        (300, pytest.approx(1.0)),
    ]
    with pytest.raises(ValueError):
        throughput(since="never")  # type: ignore[arg-type]


def test_marbles_timestamped_on_strings() -> None:
    with marbles_testing(timespan=1.0) as (start, cold, _hot, exp):
        source = cold("-a--b-c|", None, None)  # cold: times count from the subscription at 200
        stamps: dict[str | float, Any] = {
            "x": Timestamped("a", 1.0),
            "y": Timestamped("b", 4.0),
            "z": Timestamped("c", 6.0),
        }
        assert start(source.pipe(timestamped())) == exp("-x--y-z|", stamps, None)


def test_marbles_inter_token_gaps_on_strings() -> None:
    with marbles_testing(timespan=1.0) as (start, cold, _hot, exp):
        source = cold("-a--b-c|", None, None)
        assert start(source.pipe(inter_token_gaps())) == exp("----x-y|", {"x": 3.0, "y": 2.0}, None)


def test_timestamped_seconds_since_subscription() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(on_next(210, "a"), on_next(230.25, "b"), on_completed(240))
    res = s.start(lambda: xs.pipe(timestamped()))
    assert [(t, v.value, v.t) for t, v in values(res.messages)] == [(210, "a", 10.0), (230.25, "b", 30.25)]
    assert isinstance(values(res.messages)[0][1], Timestamped)


def test_each_subscription_has_its_own_clock() -> None:
    s = TestScheduler()
    xs = s.create_hot_observable(on_next(300, text("x")), on_completed(400))
    op = xs.pipe(time_to_first_token())
    a: list[float] = []
    b: list[float] = []
    s.schedule_absolute(200, lambda sch, _: op.subscribe(a.append, scheduler=sch))
    s.schedule_absolute(250, lambda sch, _: op.subscribe(b.append, scheduler=sch))
    s.start()
    assert a == [pytest.approx(100.0)] and b == [pytest.approx(50.0)]


def test_without_a_scheduler_the_clock_is_monotonic() -> None:
    out: list[Timestamped[str]] = []
    reactivex.of("a", "b").pipe(timestamped()).subscribe(out.append)
    assert [v.value for v in out] == ["a", "b"]
    assert 0.0 <= out[0].t <= out[1].t
    assert clock(None)() >= 0.0


def test_errors_pass_through() -> None:
    s = TestScheduler()
    boom = RuntimeError("boom")
    xs = s.create_hot_observable(on_next(210, text("a")), on_error(220, boom))
    assert s.start(lambda: xs.pipe(inter_token_gaps())).messages == [on_error(220, boom)]
