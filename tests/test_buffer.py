"""Bounded per-subscriber buffers: the async-iterator bridge, ops.buffered and to_async_sink."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest
import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable

from rxclaude.core.errors import RxClaudeError
from rxclaude.operators import Broadcast
from rxclaude.operators.buffering import BufferOverflowError, BufferStats, buffered
from rxclaude.sinks.bridge import BufferedIterator, aiter, to_async_sink
from rxclaude.sinks.handle import SinkHandle

# A generous bound, only so that a bug shows up as a failure rather than a hung test run.
HANG = 30.0


class Tracked:
    """A source that emits ``values`` synchronously during subscribe, then stays open."""

    def __init__(self, values: list[Any], *, complete: bool = False, error: Exception | None = None) -> None:
        self.values = values
        self.complete = complete
        self.error = error
        self.subscriptions = 0
        self.disposals = 0

    def observable(self) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            self.subscriptions += 1
            for v in self.values:
                observer.on_next(v)
            if self.error is not None:
                observer.on_error(self.error)
            elif self.complete:
                observer.on_completed()

            def dispose() -> None:
                self.disposals += 1

            return Disposable(dispose)

        return Observable(subscribe)


async def collect(it: BufferedIterator[Any]) -> list[Any]:
    return [v async for v in it]


# -- aiter -----------------------------------------------------------------------------------------


async def test_values_emitted_during_subscribe_are_kept() -> None:
    assert await collect(aiter(reactivex.of(1, 2, 3))) == [1, 2, 3]


async def test_subscribes_only_when_iteration_starts() -> None:
    src = Tracked([1], complete=True)
    it = aiter(src.observable())
    assert src.subscriptions == 0
    assert await it.__anext__() == 1
    assert src.subscriptions == 1


async def test_values_from_the_loop_in_order_then_completion() -> None:
    hub: Broadcast[int] = Broadcast()

    async def produce() -> None:
        await asyncio.sleep(0)
        for i in range(100):
            hub.on_next(i)
            if i % 7 == 0:
                await asyncio.sleep(0)
        hub.on_completed()

    task = asyncio.ensure_future(produce())
    got = await asyncio.wait_for(collect(aiter(hub)), HANG)
    await task
    assert got == list(range(100))


async def test_error_is_the_same_object_after_the_values() -> None:
    error = RxClaudeError("boom")
    it = aiter(Tracked([1, 2], error=error).observable())
    got = []
    with pytest.raises(RxClaudeError) as info:
        async for v in it:
            got.append(v)
    assert info.value is error
    assert got == [1, 2]
    with pytest.raises(StopAsyncIteration):
        await it.__anext__()


async def test_overflow_error_delivers_the_buffer_then_raises_and_disposes() -> None:
    src = Tracked(list(range(10)))
    it = aiter(src.observable(), maxsize=3, overflow="error")
    got = []
    with pytest.raises(BufferOverflowError) as info:
        async for v in it:
            got.append(v)
    assert got == [0, 1, 2]
    assert info.value.maxsize == 3
    assert isinstance(info.value, RxClaudeError)
    assert src.disposals == 1
    assert it.stats.dropped == 1
    assert it.stats.high_water == 3


async def test_drop_oldest_keeps_the_newest() -> None:
    it = aiter(reactivex.from_(range(10)), maxsize=3, overflow="drop_oldest")
    assert await collect(it) == [7, 8, 9]
    s = it.stats
    assert (s.received, s.delivered, s.dropped, s.high_water, s.size) == (10, 3, 7, 3, 0)


async def test_latest_keeps_only_the_newest_value() -> None:
    it = aiter(reactivex.from_(range(10)), maxsize=100, overflow="latest")
    assert await collect(it) == [9]
    assert it.stats.dropped == 9
    assert it.stats.high_water == 1


async def test_latest_when_the_consumer_keeps_up() -> None:
    hub: Broadcast[int] = Broadcast()
    it = aiter(hub, overflow="latest")

    async def produce() -> None:
        for i in range(5):
            await asyncio.sleep(0)
            hub.on_next(i)
            for _ in range(3):
                await asyncio.sleep(0)
        hub.on_next(5)
        hub.on_next(6)
        hub.on_completed()

    task = asyncio.ensure_future(produce())
    got = await asyncio.wait_for(collect(it), HANG)
    await task
    assert got == [0, 1, 2, 3, 4, 6]


async def test_break_disposes_the_subscription() -> None:
    src = Tracked(list(range(10)))
    async for v in aiter(src.observable()):
        if v == 2:
            break
    gc.collect()
    assert src.disposals == 1


async def test_exception_in_the_loop_body_disposes() -> None:
    src = Tracked(list(range(10)))
    with pytest.raises(KeyError):
        async for _ in aiter(src.observable()):
            raise KeyError("consumer failed")
    gc.collect()
    assert src.disposals == 1


async def test_aclose_disposes_and_ends_iteration() -> None:
    src = Tracked(list(range(10)))
    it = aiter(src.observable())
    assert await it.__anext__() == 0
    await it.aclose()
    assert src.disposals == 1
    with pytest.raises(StopAsyncIteration):
        await it.__anext__()
    assert it.stats.size == 0


async def test_dropping_the_iterator_disposes() -> None:
    src = Tracked([1, 2, 3])
    it = aiter(src.observable())
    await it.__anext__()
    del it
    gc.collect()
    assert src.disposals == 1


async def test_hub_loses_the_observer_after_break() -> None:
    hub: Broadcast[int] = Broadcast()

    async def produce() -> None:
        i = 0
        while hub.observer_count:
            hub.on_next(i)
            i += 1
            await asyncio.sleep(0)

    it = aiter(hub)
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0)
    task = asyncio.ensure_future(produce())
    assert await asyncio.wait_for(first, HANG) == 0
    await it.aclose()
    await asyncio.wait_for(task, HANG)
    assert hub.observer_count == 0


async def test_values_from_another_thread() -> None:
    def subscribe(observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        def run() -> None:
            for i in range(2000):
                observer.on_next(i)
            observer.on_completed()

        threading.Thread(target=run, daemon=True).start()
        return Disposable()

    it = aiter(Observable(subscribe), maxsize=5000)
    assert await asyncio.wait_for(collect(it), HANG) == list(range(2000))


async def test_another_thread_with_a_small_buffer_stays_bounded_and_ordered() -> None:
    def subscribe(observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        def run() -> None:
            for i in range(5000):
                observer.on_next(i)
            observer.on_completed()

        threading.Thread(target=run, daemon=True).start()
        return Disposable()

    it = aiter(Observable(subscribe), maxsize=16, overflow="drop_oldest")
    got = await asyncio.wait_for(collect(it), HANG)
    assert got == sorted(set(got))
    assert got[-1] == 4999
    s = it.stats
    assert s.high_water <= 16
    assert s.received == 5000 == s.delivered + s.dropped


async def test_concurrent_anext_is_refused() -> None:
    it = aiter(reactivex.never())
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await it.__anext__()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await it.aclose()


@pytest.mark.parametrize("kwargs", [{"maxsize": 0}, {"maxsize": -1}, {"overflow": "block"}])
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        aiter(reactivex.empty(), **kwargs)
    with pytest.raises(ValueError):
        buffered(**kwargs)


# -- ops.buffered ----------------------------------------------------------------------------------


async def burst_producer(hub: Broadcast[int], n: int, burst: int) -> None:
    """Emit ``n`` values in synchronous bursts, yielding to the loop between bursts."""
    for i in range(n):
        hub.on_next(i)
        if i % burst == burst - 1:
            await asyncio.sleep(0)
    hub.on_completed()


async def test_buffered_fan_out_fast_subscriber_unaffected_slow_one_bounded() -> None:
    hub: Broadcast[int] = Broadcast()
    fast: list[int] = []
    stats: list[BufferStats] = []
    slow: list[int] = []
    done = asyncio.get_running_loop().create_future()

    hub.subscribe(fast.append)
    hub.pipe(buffered(8, on_stats=stats.append)).subscribe(
        slow.append, done.set_exception, lambda: done.set_result(None)
    )

    def check_fast(i: int) -> None:  # the fast subscriber has every value when the source returns
        assert fast[-1] == i

    hub.subscribe(check_fast)
    await burst_producer(hub, 1000, 100)
    await asyncio.wait_for(done, HANG)
    assert fast == list(range(1000))
    (s,) = stats
    assert s.high_water <= 8
    assert s.dropped > 0
    assert s.received == 1000 == s.delivered + s.dropped
    assert slow == sorted(set(slow)) and slow[-1] == 999


async def test_buffered_slow_async_sink_stays_bounded() -> None:
    hub: Broadcast[int] = Broadcast()
    fast: list[int] = []
    slow: list[int] = []
    hub.subscribe(fast.append)

    async def slow_sink(value: int) -> None:
        await asyncio.sleep(0.001)
        slow.append(value)

    handle = hub.pipe(to_async_sink(slow_sink, maxsize=16))
    await burst_producer(hub, 2000, 100)
    assert fast == list(range(2000))  # the source never waited for the slow sink
    await asyncio.wait_for(handle, HANG)
    s = handle.stats
    assert s is not None
    assert s.high_water <= 16
    assert s.dropped > 0
    assert s.received == 2000 == s.delivered + s.dropped
    assert len(slow) == s.delivered
    assert slow == sorted(set(slow)) and slow[-1] == 1999


async def test_buffered_overflow_error_after_the_buffered_values() -> None:
    src = Tracked(list(range(10)))
    got: list[int] = []
    errors: list[Exception] = []
    done = asyncio.Event()

    def on_error(e: Exception) -> None:
        errors.append(e)
        done.set()

    src.observable().pipe(buffered(4, "error")).subscribe(got.append, on_error)
    await asyncio.wait_for(done.wait(), HANG)
    assert got == [0, 1, 2, 3]
    assert isinstance(errors[0], BufferOverflowError)
    assert src.disposals == 1


async def test_buffered_forwards_errors_and_completion_after_the_values() -> None:
    error = ValueError("x")
    seen: list[Any] = []
    done = asyncio.Event()

    def on_error(e: Exception) -> None:
        seen.append(e)
        done.set()

    reactivex.concat(reactivex.of(1, 2), reactivex.throw(error)).pipe(buffered()).subscribe(seen.append, on_error)
    assert seen == []  # delivered later, from the pump task
    await asyncio.wait_for(done.wait(), HANG)
    assert seen == [1, 2, error]


async def test_buffered_dispose_stops_the_pump_and_the_source() -> None:
    hub: Broadcast[int] = Broadcast()
    got: list[int] = []
    sub = hub.pipe(buffered()).subscribe(got.append)
    hub.on_next(1)
    sub.dispose()
    assert hub.observer_count == 0
    hub.on_next(2)
    for _ in range(5):
        await asyncio.sleep(0)
    assert got == []


async def test_buffered_downstream_take_disposes_upstream() -> None:
    from reactivex import operators as rx

    hub: Broadcast[int] = Broadcast()
    got: list[int] = []
    done = asyncio.Event()
    hub.pipe(buffered(), rx.take(2)).subscribe(got.append, on_completed=done.set)
    for i in range(5):
        hub.on_next(i)
    await asyncio.wait_for(done.wait(), HANG)
    assert got == [0, 1]
    assert hub.observer_count == 0


def test_buffered_needs_a_running_loop() -> None:
    errors: list[Exception] = []
    reactivex.of(1).pipe(buffered()).subscribe(on_error=errors.append)
    assert isinstance(errors[0], RuntimeError)


# -- to_async_sink and SinkHandle ----------------------------------------------------------------


async def test_to_async_sink_delivers_everything_when_it_keeps_up() -> None:
    got: list[int] = []

    async def sink(v: int) -> None:
        got.append(v)

    handle = reactivex.from_(range(50)).pipe(to_async_sink(sink))
    await asyncio.wait_for(handle, HANG)
    assert got == list(range(50))
    assert handle.done and not handle.disposed and handle.error is None


async def test_to_async_sink_callback_error_disposes_the_source() -> None:
    src = Tracked([1, 2, 3])
    error = KeyError("sink failed")

    async def sink(v: int) -> None:
        raise error

    handle = src.observable().pipe(to_async_sink(sink))
    with pytest.raises(KeyError) as info:
        await asyncio.wait_for(handle, HANG)
    assert info.value is error
    assert handle.error is error
    assert src.disposals == 1


async def test_to_async_sink_source_error_reaches_the_handle_after_the_values() -> None:
    error = RxClaudeError("upstream")
    got: list[int] = []

    async def sink(v: int) -> None:
        got.append(v)

    handle = Tracked([1, 2], error=error).observable().pipe(to_async_sink(sink))
    with pytest.raises(RxClaudeError) as info:
        await asyncio.wait_for(handle, HANG)
    assert info.value is error and got == [1, 2]


async def test_to_async_sink_dispose_cancels_a_running_callback() -> None:
    hub: Broadcast[int] = Broadcast()
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def sink(v: int) -> None:
        started.set()
        try:
            await asyncio.sleep(HANG)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    handle = hub.pipe(to_async_sink(sink))
    hub.on_next(1)
    await asyncio.wait_for(started.wait(), HANG)
    handle.dispose()
    assert hub.observer_count == 0
    await asyncio.wait_for(handle, HANG)
    for _ in range(3):
        await asyncio.sleep(0)
    assert cancelled == [True]
    assert handle.disposed


async def test_sink_handle_wakes_awaiters_from_another_thread() -> None:
    handle: SinkHandle[int] = SinkHandle(lambda: 42)
    waiter = asyncio.ensure_future(_await(handle))
    await asyncio.sleep(0)
    threading.Thread(target=handle.finish).start()
    assert await asyncio.wait_for(waiter, HANG) == 42
    assert "done" in repr(handle)


async def _await(handle: SinkHandle[int]) -> int:
    return await handle


async def test_sink_handle_runs_on_stop_once() -> None:
    calls: list[int] = []
    handle: SinkHandle[None] = SinkHandle(lambda: None, on_stop=lambda: calls.append(1))
    handle.dispose()
    handle.dispose()
    handle.finish(ValueError("late"))
    assert calls == [1]
    assert handle.error is None and handle.disposed
    await handle  # returns at once
