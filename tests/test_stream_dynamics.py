"""MessageStream under random subscribe/dispose sequences: every subscriber gets exactly its window.

Hypothesis picks a recording and a script of subscriptions and disposals between its frames.
A subscriber that joins before frame ``a`` and leaves before frame ``b`` must receive exactly
what the public operators make of frames ``a`` to ``b - 1`` (the streams are hot), never a value
after it left, and, if it stays to the end, exactly one end signal. A ``message`` subscriber
held throughout keeps the request alive, so the final message must equal the operators' one.
The frames reach the stream as Frames or, as from its own request, as the decoder's fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import reactivex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reactivex import abc
from reactivex.disposable import Disposable

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.events import ContentBlockStopEvent
from rxclaude.core.frame import Frame
from rxclaude.plumbing import DirectObservable

FIXTURES = Path(__file__).parent / "fixtures"
RECORDINGS = sorted(p for p in FIXTURES.glob("*.sse") if not p.name.startswith("fragment-"))
FRAMES = {p.name: rxclaude.SSEDecoder().feed(p.read_bytes()) for p in RECORDINGS}
KINDS = ("frames", "events", "text", "thinking", "usage", "stop_reason", "blocks")
OPERATORS: dict[str, Any] = {
    "text": ops.text,
    "thinking": ops.thinking,
    "usage": ops.usage,
    "stop_reason": ops.stop_reason,
}


def _expected(kind: str, frames: list[Frame], a: int, b: int, final: rxclaude.Message | None) -> list[Any]:
    """What a subscriber to ``kind`` present for frames ``a`` .. ``b - 1`` must receive."""
    window = frames[a:b]
    if kind == "frames":
        return list(window)
    events: list[Any] = []
    reactivex.from_iterable(window).pipe(ops.parse()).subscribe(events.append, lambda e: None)
    if kind == "events":
        return events
    if kind == "blocks":  # complete blocks, at their stop (the stream keeps every block's content)
        stops = [e.index for e in events if type(e) is ContentBlockStopEvent]
        return [final.content[i] for i in stops] if final is not None else []
    out: list[Any] = []
    reactivex.from_iterable(events).pipe(OPERATORS[kind]()).subscribe(out.append, lambda e: None)
    return out


class _Source:
    def __init__(self) -> None:
        self.observer: Any = None

        def subscribe(observer: abc.ObserverBase[Frame], scheduler: Any = None) -> abc.DisposableBase:
            self.observer = observer
            return Disposable()

        self.observable: DirectObservable[Frame] = DirectObservable(subscribe)


actions = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(KINDS), st.booleans(), st.integers(0, 10_000)),
    max_size=14,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(FRAMES)), script=actions, as_fields=st.booleans())
async def test_every_subscriber_gets_exactly_its_window(
    name: str, script: list[tuple[int, str, bool, int]], as_fields: bool
) -> None:
    frames = FRAMES[name]
    n = len(frames)
    reference: list[Any] = []
    reactivex.from_iterable(frames).pipe(ops.parse(), ops.message()).subscribe(
        reference.append, lambda e: reference.append(e)
    )
    final = reference[0] if reference and isinstance(reference[0], rxclaude.Message) else None

    source = _Source()
    stream = rxclaude.MessageStream(source.observable)
    held: list[Any] = []
    stream.message.subscribe(held.append, held.append)  # keeps the request alive throughout

    # the script: at frame position p, subscribe to `kind` (and maybe leave later, at position q)
    plan: dict[int, list[tuple[str, bool, int]]] = {}
    for at, kind, leaves, until in script:
        plan.setdefault(at % (n + 1), []).append((kind, leaves, until))
    subscribers: list[dict[str, Any]] = []
    leaving: dict[int, list[dict[str, Any]]] = {}

    def act(position: int) -> None:
        for sub in leaving.pop(position, []):
            sub["handle"].dispose()
            sub["left"] = position
        for kind, leaves, until in plan.get(position, []):
            sub: dict[str, Any] = {"kind": kind, "joined": position, "left": None, "got": [], "ends": []}
            sub["handle"] = getattr(stream, kind).subscribe(
                sub["got"].append, lambda e, sub=sub: sub["ends"].append(e), lambda sub=sub: sub["ends"].append("done")
            )
            subscribers.append(sub)
            if leaves:
                leaving.setdefault(position + 1 + until % (n - position + 1), []).append(sub)

    stream.connect()
    for i, f in enumerate(frames):
        act(i)
        if as_fields:  # as the transport hands frames to the stream's own observer
            source.observer.on_fields(f.event, f.data.encode(), f.id, f.retry)
        else:
            source.observer.on_next(f)
    act(n)
    source.observer.on_completed()

    failed = final is None
    built = final if final is not None else held[0].partial  # where complete blocks come from
    # the typed streams end with the frame that ends the message (message_stop or error);
    # raw frames end only when the body does
    last = next(i for i in range(n - 1, -1, -1) if frames[i].event in ("message_stop", "error"))
    for sub in subscribers:
        end = sub["left"] if sub["left"] is not None else n
        if failed and sub["kind"] != "frames":
            got = sub["got"]  # the error event ends the typed streams before that frame's values
            assert got == _expected(sub["kind"], frames, sub["joined"], end, built)[: len(got)], sub["kind"]
        else:
            assert sub["got"] == _expected(sub["kind"], frames, sub["joined"], end, built), sub["kind"]
        ends_at_last = sub["kind"] != "frames" or failed  # a failure ends raw frames too
        ended_before_leaving = sub["left"] is None or (ends_at_last and sub["left"] > last)
        if not ended_before_leaving:
            assert sub["ends"] == [], sub  # nothing after it left, not even the end
        else:
            assert len(sub["ends"]) == 1, sub
            assert (sub["ends"][0] == "done") is (not failed), sub
    if failed:
        assert isinstance(held[0], rxclaude.RxClaudeError) and type(held[0]) is type(reference[0])
    else:
        assert held[0].to_dict() == final.to_dict()  # type: ignore[union-attr]


def test_the_recordings_cover_success_and_failure() -> None:
    assert len(RECORDINGS) >= 15
    assert any("error" in name for name in FRAMES)
    with pytest.raises(KeyError):
        _expected("nothing", [], 0, 0, None)
