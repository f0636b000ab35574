"""Broadcast (the lock-free hub) and DirectObservable (subscribe without the trampoline)."""

from __future__ import annotations

from typing import Any

import pytest
from reactivex import Observer, abc
from reactivex.disposable import Disposable

from rxclaude.operators import Broadcast
from rxclaude.operators._share import DirectObservable


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
