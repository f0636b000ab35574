"""What a stream needs to recover from a failure after HTTP 200: its policy and a way to send
the request again (as it was, or with the partial reply as an assistant prefill).

The splice itself is sans-I/O (:mod:`rxclaude.core.recovery`); the stream drives it
(:mod:`rxclaude.recovering`). :class:`~rxclaude.Client` builds one :class:`Recovery` per stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableSet, Sequence
from typing import Any

from reactivex import Observable

from rxclaude.core.frame import Frame
from rxclaude.core.recovery import RecoveryPolicy, refuses_prefill
from rxclaude.core.retry import RetryPolicy
from rxclaude.transport.base import Response

__all__ = ["Recovery"]

AttemptSource = Callable[["Mapping[str, Any] | None", Callable[[Response], None]], Observable[Frame]]
"""``source(prefill, on_response)``: a cold frame Observable that sends the request again, with
``prefill`` (an assistant message) appended to ``messages`` when it is not ``None``, and reports
its response head to ``on_response``."""


_RETRY = RetryPolicy()
_NO_PARAMS: Mapping[str, Any] = {}


class Recovery:
    """A stream's recovery: the policy, how to request again, and what the model accepts.

    Args:
        policy: what to do (:class:`~rxclaude.RecoveryPolicy`).
        source: ``source(prefill)`` sends the request again (see :data:`AttemptSource`).
        retry: the backoff between attempts (``retry-after`` honoured) and, unless the policy
            says otherwise, the number of recoveries (``max_retries``).
        params: the request (its model decides whether a prefill is worth trying).
        refused: models that refused a prefill before (shared by a client; one refusal is
            enough to stop trying).

    Example:
        >>> r = Recovery(RecoveryPolicy.of("continue"), lambda prefill, on_response: None,
        ...              params={"model": "claude-opus-4-7", "messages": []})
        >>> r.accepts_prefill, r.max_recoveries
        (False, 2)
    """

    __slots__ = ("_params", "policy", "refused", "retry", "source")

    def __init__(
        self,
        policy: RecoveryPolicy,
        source: AttemptSource,
        *,
        retry: RetryPolicy = _RETRY,
        params: Mapping[str, Any] = _NO_PARAMS,
        refused: MutableSet[str] | None = None,
    ) -> None:
        self.policy = policy
        self.source = source
        self.retry = retry
        self._params = params  # read only when a recovery needs it: nothing on the happy path
        self.refused: MutableSet[str] = refused if refused is not None else set()

    @property
    def model(self) -> str:
        """The request's model."""
        model = self._params.get("model")
        return model if isinstance(model, str) else ""

    @property
    def ends_with_assistant(self) -> bool:
        """Whether the request already ends with an assistant prefill (then ``continue`` falls
        back: the partial reply would have to be merged into it)."""
        messages = self._params.get("messages")
        last = messages[-1] if isinstance(messages, Sequence) and messages else None
        return isinstance(last, Mapping) and last.get("role") == "assistant"

    @property
    def max_recoveries(self) -> int:
        """How many recoveries one stream may make."""
        limit = self.policy.max_recoveries
        return self.retry.max_retries if limit is None else limit

    @property
    def accepts_prefill(self) -> bool:
        """Whether a prefill is worth sending (``False`` for models known to refuse it)."""
        return (
            not self.ends_with_assistant and self.model not in self.refused and refuses_prefill(self.model) is not True
        )

    def prefill_refused(self) -> None:
        """The API refused a prefill for this model: remember it."""
        self.refused.add(self.model)

    def delay(self, recoveries: int, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before recovery number ``recoveries + 1`` (``retry-after`` first)."""
        return self.retry.delay(recoveries, headers)
