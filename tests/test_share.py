"""Broadcast (the lock-free hub) and DirectObservable (subscribe without the trampoline)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex import Observer, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable

import rxclaude
from rxclaude.operators import Broadcast
from rxclaude.plumbing import DirectObservable, Once


def test_broadcast_fans_out_and_isolates_a_failing_subscriber() -> None:
    hub: Broadcast[int] = Broadcast()
    good: list[int] = []
    bad_errors: list[Exception] = []

    def bad(x: int) -> None:
        if x == 2:
            raise ValueError("subscriber bug")

    hub.subscribe(good.append)
    hub.subscribe(bad, bad_errors.append)
    for x in (1, 2, 3):
        hub.on_next(x)
    hub.on_completed()
    assert good == [1, 2, 3]
    assert [str(e) for e in bad_errors] == ["subscriber bug"]
    assert hub.observer_count == 0


def test_a_late_subscriber_gets_the_end_at_once() -> None:
    hub: Broadcast[int] = Broadcast()
    hub.on_error(KeyError("gone"))
    errors: list[Exception] = []
    hub.subscribe(print, errors.append)
    assert [type(e) for e in errors] == [KeyError]
    done: list[str] = []
    finished: Broadcast[int] = Broadcast()
    finished.on_completed()
    finished.subscribe(print, None, lambda: done.append("completed"))
    assert done == ["completed"]


def test_attach_adds_the_observer_itself() -> None:
    hub: Broadcast[int] = Broadcast()
    seen: list[int] = []
    observer = Observer(seen.append)
    subscription = hub.attach(observer)
    hub.on_next(1)
    subscription.dispose()
    hub.on_next(2)
    assert seen == [1] and hub.observer_count == 0


def test_direct_observable_subscribes_like_an_observable() -> None:
    registered: list[abc.ObserverBase[int]] = []
    disposed: list[bool] = []

    def subscribe(observer: abc.ObserverBase[int], scheduler: Any = None) -> abc.DisposableBase:
        registered.append(observer)
        return Disposable(lambda: disposed.append(True))

    source: DirectObservable[int] = DirectObservable(subscribe)
    seen: list[int] = []
    subscription = source.subscribe(seen.append)  # callbacks
    registered[0].on_next(7)
    subscription.dispose()
    registered[0].on_next(8)  # after dispose: dropped by the AutoDetachObserver
    assert seen == [7] and disposed == [True]

    observed: list[int] = []
    source.subscribe(Observer(observed.append))  # an observer object
    registered[1].on_next(9)
    registered[1].on_completed()
    registered[1].on_next(10)  # after the end: dropped
    assert observed == [9] and disposed == [True, True]  # completing disposes the subscription


def test_direct_observable_routes_a_subscribe_failure_to_on_error() -> None:
    def subscribe(observer: abc.ObserverBase[int], scheduler: Any = None) -> abc.DisposableBase:
        raise RuntimeError("no loop")

    errors: list[Exception] = []
    DirectObservable(subscribe).subscribe(print, errors.append)
    assert [str(e) for e in errors] == ["no loop"]
    with pytest.raises(RuntimeError):  # nobody handles it: raised, as Observable.subscribe does
        DirectObservable(subscribe).subscribe(print)


def test_once_runs_its_action_once() -> None:
    calls: list[int] = []
    once = Once(lambda: calls.append(1))
    assert not once.is_disposed
    with once:
        pass
    once.dispose()
    assert calls == [1] and once.is_disposed
    assert Once().is_disposed  # nothing to do


def test_operators_that_lock_their_source_get_a_lock_made_on_first_use() -> None:
    hub: Broadcast[int] = Broadcast()
    assert "_lock" not in hub.__dict__  # no RLock per hub, view or request until asked for
    got: list[int] = []
    hub.pipe(ops.take_while(lambda x: x < 3)).subscribe(got.append)  # take_while locks its source
    for x in (1, 2, 3, 4):
        hub.on_next(x)
    assert got == [1, 2] and "_lock" in hub.__dict__  # made by take_while, on first use
    assert hub.lock is hub.lock


async def test_a_stream_view_works_under_a_locking_operator() -> None:
    frames = rxclaude.SSEDecoder().feed((Path(__file__).parent / "fixtures" / "text-basic-sonnet4.sse").read_bytes())
    stream = rxclaude.MessageStream(reactivex.from_iterable(frames))
    got: list[str] = []
    stream.text.pipe(ops.take_while(lambda t: not t.startswith(" (That"))).subscribe(got.append)
    stream.text.pipe(ops.delay(0.001)).subscribe(got.append)  # delay locks its source too
    await stream.final_message()
    await asyncio.sleep(0.05)
    assert "".join(got).startswith("Olá!")


def test_event_broadcast_builds_a_plain_delta_once_and_only_for_those_who_want_events() -> None:
    from rxclaude.core.events import ContentBlockDeltaEvent
    from rxclaude.plumbing import EventBroadcast

    hub = EventBroadcast()
    got: list[Any] = []

    class Plain:
        def on_plain(self, index: int, text: str, thinking: bool) -> None:
            got.append(("plain", index, text, thinking))

        def on_next(self, event: Any) -> None:
            got.append(("event", event))

        def on_error(self, error: Exception) -> None:
            got.append(("error", error))

        def on_completed(self) -> None:
            got.append("completed")

    plain = Plain()
    subscription = hub.attach_plain(plain)
    hub.on_plain(0, "Hi", False)  # nobody wants the event: none is built
    assert got == [("plain", 0, "Hi", False)]
    events: list[Any] = []
    hub.subscribe(events.append)
    hub.subscribe(events.append)
    hub.on_plain(0, "there", False)
    assert got[-1] == ("plain", 0, "there", False)
    assert events[0] is events[1] and isinstance(events[0], ContentBlockDeltaEvent)  # built once
    assert events[0].delta.text == "there"
    subscription.dispose()
    hub.on_plain(1, "x", True)
    assert got[-1] == ("plain", 0, "there", False) and events[-1].delta.thinking == "x"
