"""ops.smooth: words or lines at a steady pace, in virtual time (TestScheduler ticks are seconds);
never drops or reorders text; flushes on completion and on error."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import pytest
import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex.testing import ReactiveTest, TestScheduler

import rxclaude
from rxclaude import operators as ops
from rxclaude.testing import MockServer, Reply

on_next, on_completed, on_error = ReactiveTest.on_next, ReactiveTest.on_completed, ReactiveTest.on_error


def run(messages: list[Any], chunking: Any = "word", delay: float = 5.0, disposed: float = 1000.0) -> list[Any]:
    s = TestScheduler()
    xs = s.create_hot_observable(*messages)
    return s.start(lambda: xs.pipe(ops.smooth(chunking, delay=delay, scheduler=s)), disposed=disposed).messages


def test_words_at_a_steady_pace() -> None:
    got = run(
        [
            on_next(210, "Hello wor"),
            on_next(211, "ld, how are you"),
            on_next(300, " today?\nNext line"),
            on_completed(400),
        ]
    )
    assert got == [
        on_next(210, "Hello "),  # the first word goes out at once
        on_next(215, "world, "),  # then one per 5 s, whatever the bursts
        on_next(220, "how "),
        on_next(225, "are "),
        on_next(300, "you "),  # idle since 230: the next whole word goes out at once
        on_next(305, "today?\n"),
        on_next(310, "Next "),
        on_next(400, "line"),  # the rest, flushed at completion
        on_completed(400),
    ]


def test_whole_words_left_at_completion_keep_their_pace() -> None:
    got = run([on_next(210, "one two three four"), on_completed(211)])
    assert got == [
        on_next(210, "one "),
        on_next(215, "two "),
        on_next(220, "three "),
        on_next(225, "four"),
        on_completed(225),
    ]


def test_lines() -> None:
    got = run([on_next(210, "a b\nc"), on_next(212, " d\n\ne\n"), on_completed(300)], chunking="line")
    assert got == [on_next(210, "a b\n"), on_next(215, "c d\n\n"), on_next(220, "e\n"), on_completed(300)]


def test_an_error_flushes_everything_at_once_then_fails() -> None:
    boom = RuntimeError("boom")
    got = run([on_next(210, "one two three fo"), on_error(212, boom)])
    assert got == [on_next(210, "one "), on_next(212, "two three fo"), on_error(212, boom)]


def test_disposing_stops_the_ticks() -> None:
    got = run([on_next(210, "one two three four"), on_completed(300)], disposed=216)
    assert got == [on_next(210, "one "), on_next(215, "two ")]


def test_a_regex_or_a_function_cuts_the_chunks() -> None:
    sentences = run([on_next(210, "Hi. How are you? Fine"), on_completed(300)], chunking=re.compile(r"[.?!]\s+"))
    assert [m.value.value for m in sentences if m.value.kind == "N"] == ["Hi. ", "How are you? ", "Fine"]
    pairs = run([on_next(210, "abcde"), on_completed(300)], chunking=lambda text: 2 if len(text) >= 2 else None)
    assert [m.value.value for m in pairs if m.value.kind == "N"] == ["ab", "cd", "e"]


def test_a_bad_chunker_is_an_error() -> None:
    got = run([on_next(210, "abc")], chunking=lambda text: 99)
    assert got[-1].value.kind == "E" and "chunker returned 99" in str(got[-1].value.exception)
    with pytest.raises(ValueError):
        ops.smooth(delay=-1)
    with pytest.raises(TypeError):
        ops.smooth(42)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.text(alphabet="ab \n.é", max_size=12)), max_size=12),
    st.sampled_from(["word", "line"]),
    st.integers(1, 6),
)
def test_never_drops_or_reorders_and_keeps_the_pace(pieces: list[tuple[int, str]], chunking: str, delay: int) -> None:
    t, messages = 200, []
    for gap, text in pieces:
        t += gap + 1
        messages.append(on_next(t, text))
    messages.append(on_completed(t + 1))
    got = run(messages, chunking=chunking, delay=delay, disposed=10_000)
    texts = [m.value.value for m in got if m.value.kind == "N"]
    assert "".join(texts) == "".join(text for _, text in pieces)
    assert all(texts)
    assert got[-1].value.kind == "C"
    times = [m.time for m in got if m.value.kind == "N"]
    assert all(b - a >= delay for a, b in itertools.pairwise(times))


async def test_smooth_on_a_live_stream_uses_the_running_loop() -> None:
    text = "The quick brown fox jumps over the lazy dog.\nAnd again."
    async with MockServer() as server, rxclaude.Client(api_key=server.api_key, base_url=server.url) as client:
        server.enqueue(Reply.text(text))
        stream = client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
        chunks: list[str] = []
        done = asyncio.Event()
        stream.text.pipe(ops.smooth(delay=0.001)).subscribe(chunks.append, on_completed=done.set)
        async with stream:
            await asyncio.wait_for(done.wait(), 10)
    assert "".join(chunks) == text
    assert chunks[0] == "The " and all(c.endswith((" ", "\n")) for c in chunks[:-1])


def test_without_a_loop_it_falls_back_to_a_timer_thread() -> None:
    got = list(
        reactivex.from_iterable(["a b", " c"]).pipe(ops.smooth(delay=0.001), reactivex.operators.to_list()).run()
    )
    assert got == ["a ", "b ", "c"]


def test_marbles() -> None:
    """The same rules as marble diagrams (one character a second; the scheduler comes from subscribe)."""
    from reactivex.testing.marbles import marbles_testing

    with marbles_testing(timespan=1.0) as (start, cold, _hot, exp):
        text = cold("a-------b---|", {"a": "one two three ", "b": "four five"})
        expected = exp("x-y-z---u---(v,|)", {"x": "one ", "y": "two ", "z": "three ", "u": "four ", "v": "five"})
        assert start(text.pipe(ops.smooth("word", delay=2))) == expected

    with marbles_testing(timespan=1.0) as (start, cold, _hot, exp):
        boom = ValueError("connection lost")
        text = cold("a--#", {"a": "one two three"}, boom)
        assert start(text.pipe(ops.smooth(delay=2))) == exp("x-y(z,#)", {"x": "one ", "y": "two ", "z": "three"}, boom)
