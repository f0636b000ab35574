"""A MessageStream's recovery after HTTP 200: decide, tell subscribers, request again, splice.

Strategy: the first attempt costs nothing extra -- the stream's own observer is attached to the
request as always. Only when that attempt fails (an in-stream error, a reset, a stall, a body
cut short) does the :class:`Recoverer` act: it checks the policy against what was delivered,
records the attempt (its usage too), makes the failed attempt's observer inert, tells
subscribers (a :class:`~rxclaude.RecoveryEvent` through ``events``, ``recoveries`` and the raw
frames, so a relay or a recording carries it), waits the backoff and subscribes the next
attempt through a :class:`~rxclaude.core.recovery.Splicer`, whose rewritten frames go through
the stream as if the server had sent them.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from reactivex import Observable, abc

from rxclaude.core.accumulate import BlockState, MessageAccumulator
from rxclaude.core.blocks import TOOL_INPUT_BLOCKS, TextBlock, ThinkingBlock
from rxclaude.core.errors import APIError, BadRequestError
from rxclaude.core.events import RecoveryEvent
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, Usage
from rxclaude.core.recovery import (
    Prefill,
    RecoveryAttempt,
    Splicer,
    add_usage,
    is_prefill_refusal,
    prefill_for,
    recoverable,
)
from rxclaude.plumbing import Once
from rxclaude.transport.base import Response
from rxclaude.transport.recovery import Recovery

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["RecoveryHost", "Recoverer"]


class RecoveryHost(Protocol):
    """What the :class:`Recoverer` needs of its stream (a :class:`~rxclaude.MessageStream`)."""

    _acc: MessageAccumulator
    _connection: abc.DisposableBase | None
    _finished: bool
    _halt: bool
    response: Response | None

    @property
    def current_message(self) -> Message | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def headers(self) -> Any: ...
    def _attach(self, source: Observable[Frame], intake: abc.ObserverBase[Frame]) -> None: ...
    def _connection_dispose(self) -> None: ...
    def _on_recovery(self, event: RecoveryEvent, frame: Frame | None) -> None: ...
    def _on_frame(self, frame: Frame) -> None: ...
    def _fail(self, error: Exception) -> None: ...
    def _on_completed(self) -> None: ...
    def _set_response(self, response: Response) -> None: ...


class Recoverer:
    """Recovers one stream per its :class:`~rxclaude.transport.recovery.Recovery`."""

    def __init__(self, recovery: Recovery, intake: weakref.ref[Any] | None = None) -> None:
        self.recovery = recovery
        self._intake = intake  # the current attempt's observer (made inert if it fails; no cycle)
        self._done: list[RecoveryAttempt] = []
        self._kind = "first"
        self._splicer: Splicer | None = None
        self._prior = Usage()  # the failed attempts' usage, summed
        self._timer: asyncio.TimerHandle | None = None
        self._completed = False  # ended without another request (see _complete)
        self._stale: Any = None  # the response of the attempt before the current one

    # -- the record -------------------------------------------------------------------------------

    def watch(self, intake: Any) -> None:
        """``intake`` observes the current attempt (it is made inert if that attempt fails)."""
        self._intake = weakref.ref(intake)

    def _own(self, host: RecoveryHost) -> tuple[str | None, Usage]:
        """The current attempt's message id and its own usage."""
        if self._splicer is not None:
            return self._splicer.message_id, self._splicer.usage
        message = host.current_message
        return (message.id if message is not None else None), host._acc.usage

    def attempts(self, host: RecoveryHost) -> tuple[RecoveryAttempt, ...]:
        """Every attempt so far, the current one last."""
        if self._completed:
            return tuple(self._done)
        message_id, usage = self._own(host)
        error = getattr(host, "_error", None)
        return (
            *self._done,
            RecoveryAttempt(len(self._done) + 1, self._kind, host.request_id, message_id, usage, error),
        )

    # -- deciding ---------------------------------------------------------------------------------

    def recover(self, host: RecoveryHost, error: Exception) -> bool:
        """Recover ``host`` from ``error`` if the policy allows; ``False``: it fails with it."""
        rec = self.recovery
        if host._finished or self._completed or len(self._done) >= rec.max_recoveries:
            return False
        # the API refused our prefill (Claude 4.6+: "does not support assistant message prefill",
        # or anything else it found wrong in it): fall back, as the policy says
        response = host.response  # this attempt's, if it got one (the last one's stays until then)
        status = response.status if response is not None and response is not self._stale else None
        refused = self._kind == "continue" and status == 400 and isinstance(error, BadRequestError)
        if refused and is_prefill_refusal(error):
            rec.prefill_refused()
        elif status != 200 or not recoverable(error):
            return False  # before HTTP 200 the transport's own retries already ran
        policy = rec.policy
        kind: str | None
        if refused:
            kind = policy.fallback
        elif not _has_content(host._acc.blocks):
            kind = "retry" if policy.before_content else None
        else:
            kind = policy.after_content
        prefill: Prefill | None = None
        if kind == "continue" and host._acc.stop_reason is not None:
            return self._complete(host, error)  # only message_stop was lost: nothing to ask for
        if kind == "continue":
            message = host.current_message
            made = prefill_for(message, _open_index(host._acc.blocks)) if message is not None else "nothing"
            if isinstance(made, Prefill) and rec.accepts_prefill:
                prefill = made
            else:
                kind = policy.fallback
        if kind not in ("retry", "continue", "restart"):
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        assert kind is not None

        message_id, usage = self._own(host)
        self._done.append(RecoveryAttempt(len(self._done) + 1, self._kind, host.request_id, message_id, usage, error))
        self._prior = add_usage(self._prior, usage)
        blocks = host._acc.blocks
        announced = tuple((b.start.type, getattr(b.start, "name", None)) for b in blocks)
        discarded = ""
        if kind == "restart":
            message = host.current_message
            discarded = message.text if message is not None else ""
        if prefill is not None:
            splicer = Splicer(
                kind, prior=self._prior, base=prefill.base, open_text=prefill.open_text, trimmed=prefill.trimmed
            )
        else:
            splicer = Splicer(kind, prior=self._prior, announced=announced, started=host._acc.started)

        # the failed attempt is over: nothing more from it reaches the stream
        _inert(self._intake() if self._intake is not None else None)
        host._halt = True
        host._connection_dispose()
        self._kind, self._splicer = kind, splicer
        host._on_recovery(RecoveryEvent(kind, len(self._done) + 1, _error_dict(error), discarded), None)
        message_param = prefill.message if prefill is not None else None
        delay = rec.delay(len(self._done) - 1, host.headers)
        self._timer = loop.call_later(delay, self._reconnect, host, message_param)
        host._connection = Once(self._cancel_timer)  # cancel() in the pause stops the next attempt
        return True

    def _complete(self, host: RecoveryHost, error: Exception) -> bool:
        """End a reply whose ``message_delta`` (stop reason, usage) arrived, with no request."""
        message_id, usage = self._own(host)
        self._done.append(RecoveryAttempt(len(self._done) + 1, self._kind, host.request_id, message_id, usage, error))
        self._completed = True
        _inert(self._intake() if self._intake is not None else None)
        host._connection_dispose()
        host._on_recovery(RecoveryEvent("continue", len(self._done), _error_dict(error)), None)
        host._on_frame(Frame("message_stop", '{"type":"message_stop"}'))
        host._on_completed()  # (raw frames end with the body; this attempt's will not come)
        return True

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _reconnect(self, host: RecoveryHost, prefill: Mapping[str, Any] | None) -> None:
        self._timer = None
        splicer = self._splicer
        if host._finished or splicer is None:
            return
        self._stale = host.response
        intake = _Spliced(host, splicer, len(self._done) + 1)
        self.watch(intake)
        host._halt = False
        try:
            source = self.recovery.source(prefill, host._set_response)
        except Exception as e:  # e.g. the request can no longer be built
            host._fail(e)
            return
        host._attach(source, intake)  # type: ignore[arg-type]


class _Spliced:
    """The observer of a recovery attempt: each frame through the splicer, then the stream."""

    __slots__ = ("__weakref__", "_attempt", "_host", "_splicer", "dead")

    def __init__(self, host: RecoveryHost, splicer: Splicer, attempt: int) -> None:
        self._host = host
        self._splicer = splicer
        self._attempt = attempt
        self.dead = False

    def on_next(self, frame: Frame) -> None:
        host = self._host
        if self.dead:
            return
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            data = None
        if type(data) is not dict:
            host._on_frame(frame)  # the stream types the failure
            return
        name = data.get("type")
        if type(name) is not str:
            name = frame.event
        splicer = self._splicer
        diverged = splicer.diverged
        out = splicer.feed(name, data)
        if splicer.diverged and not diverged:  # a "retry" the model began differently: say so
            host._on_recovery(RecoveryEvent("restart", self._attempt, {"type": "diverged", "message": name}), None)
        for event, body in out:
            if body is data and event == frame.event:
                host._on_frame(frame)
            else:
                host._on_frame(Frame(event, orjson.dumps(body).decode(), frame.id, frame.retry))
            if self.dead or host._halt:
                return

    def on_error(self, error: Exception) -> None:
        if not self.dead:
            self._host._fail(error)

    def on_completed(self) -> None:
        if not self.dead:
            self._host._on_completed()


def _noop(*args: Any) -> None:
    return None


def _inert(intake: Any) -> None:
    """Make a failed attempt's observer deaf (its frames may still be in a decoder's loop)."""
    if intake is None:
        return
    if isinstance(intake, _Spliced):
        intake.dead = True
        return
    for name in ("on_next", "on_fields", "on_error", "on_completed"):
        setattr(intake, name, _noop)


def _has_content(blocks: list[BlockState]) -> bool:
    """Whether anything of the reply was delivered (an empty block start is not content)."""
    for b in blocks:
        if len(b.parts) or len(b.json) or b.citations or b.signature is not None or b.compaction is not None:
            return True
        start = b.start
        if isinstance(start, TextBlock):
            if start.text:
                return True
        elif isinstance(start, ThinkingBlock):
            if start.thinking or start.signature:
                return True
        elif isinstance(start, TOOL_INPUT_BLOCKS):
            if getattr(start, "input", None):
                return True
        else:
            return True  # a block complete at its start (a server tool's result...)
    return False


def _open_index(blocks: list[BlockState]) -> int | None:
    return len(blocks) - 1 if blocks and not blocks[-1].stopped else None


def _error_dict(error: Exception) -> dict[str, Any]:
    if isinstance(error, APIError):
        return {"type": error.type or type(error).__name__, "message": error.message}
    return {"type": type(error).__name__, "message": str(error)}
