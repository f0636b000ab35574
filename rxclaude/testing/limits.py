"""Rate limits in the mock server, enforced the way the API enforces them.

Example::

    limits = MockLimits(Limits(requests=50, input_tokens=40_000, output_tokens=8_000))
    async with MockServer(limits=limits) as server:
        ...                                   # the 51st request within a minute gets a 429
        assert limits.rate_limited == 0

Strategy: one set of token buckets per model class (Opus, Sonnet, Haiku pooled), refilling
continuously (:class:`rxclaude.core.budget.TokenBucket`). A Messages request is admitted when
each bucket holds what it asks: one request, its input tokens (the same count the mock's
``count_tokens`` gives) and its ``max_tokens`` of output, which are reserved. When the
response's ``message_delta`` is written, the reservation is corrected to the output tokens the
usage reports (the unused part comes back). Every answer carries
``anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,remaining,reset}``
(token counts rounded to the nearest thousand, ``reset`` in RFC 3339: when the bucket is full
again); a refusal is a 429 ``rate_limit_error`` with ``retry-after`` (whole seconds until the
request would fit). ``period`` scales the minute down so tests and benches need not wait.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from rxclaude.core.budget import Limits, TokenBucket, model_class
from rxclaude.testing.replies import _estimate_input_tokens

__all__ = ["Grant", "MockLimits"]

_KINDS = ("requests", "input_tokens", "output_tokens")
_NAMES = {"requests": "requests", "input_tokens": "input tokens", "output_tokens": "output tokens"}


@dataclass(slots=True, eq=False)
class Grant:
    """What one admitted request took from its model class's buckets."""

    model_class: str
    input_tokens: int
    reserved: int
    output_tokens: int | None = None
    settled: bool = False


@dataclass
class _Pool:
    buckets: dict[str, TokenBucket] = field(default_factory=dict)


class MockLimits:
    """Token buckets per model class for :class:`~rxclaude.testing.MockServer` (``limits=``).

    Args:
        limits: one :class:`~rxclaude.core.budget.Limits` for every model class, or ``{"sonnet": Limits(...)}``
            (classes not named are not limited).
        period: seconds in a rate-limit window (the API's 60; scale it down in tests).
        round_tokens: ``*-tokens-remaining`` headers are rounded to this (the API: 1000; 1 = exact).
        clock: seconds, monotonic.

    Attributes:
        rate_limited: how many 429s were sent.
        admitted: how many requests were admitted.
        output_tokens: output tokens reported by finished responses.

    Example::

        server = MockServer(limits=MockLimits(Limits(requests=5), period=6.0))
    """

    def __init__(
        self,
        limits: Limits | Mapping[str, Limits],
        *,
        period: float = 60.0,
        round_tokens: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.period = period
        self.round_tokens = max(1, round_tokens)
        self.clock = clock
        self.rate_limited = 0
        self.admitted = 0
        self.output_tokens = 0
        self.started_at: float | None = None
        self._pools: dict[str, _Pool] = {}
        self._grants: dict[str, Grant] = {}

    def _pool(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is None:
            limits = self.limits.get(name) if isinstance(self.limits, Mapping) else self.limits
            pool = _Pool()
            if limits is not None:
                now = self.clock()
                for kind in _KINDS:
                    value = getattr(limits, kind)
                    if value is not None:
                        pool.buckets[kind] = TokenBucket(value, period=self.period, now=now)
            self._pools[name] = pool
        return pool

    def capacity(self, model: str, kind: str) -> float | None:
        """The per-window limit of ``kind`` for ``model``'s class (``None``: not limited)."""
        bucket = self._pool(model_class(model)).buckets.get(kind)
        return bucket.capacity if bucket is not None else None

    def admit(self, request_id: str, body: Mapping[str, Any]) -> tuple[Grant | None, dict[str, str], str | None]:
        """Admit a Messages request: ``(grant, headers, None)``, or ``(None, headers, message)`` for a 429."""
        now = self.clock()
        if self.started_at is None:
            self.started_at = now
        name = model_class(str(body.get("model", "")))
        pool = self._pool(name)
        max_tokens = body.get("max_tokens")
        cost = {
            "requests": 1,
            "input_tokens": _estimate_input_tokens(body),
            "output_tokens": max_tokens if isinstance(max_tokens, int) else 0,
        }
        wait, short = 0.0, None
        for kind, bucket in pool.buckets.items():
            level = bucket.refill(now)
            if level < min(cost[kind], bucket.capacity):
                needed = bucket.wait_time(cost[kind], now)
                if needed > wait:
                    wait, short = needed, kind
        if short is not None:
            self.rate_limited += 1
            headers = self.headers(name, now)
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            limit = int(pool.buckets[short].capacity)
            window = "minute" if self.period == 60.0 else f"{self.period:g} seconds"
            message = (
                f"This request would exceed your organization's rate limit of {limit:,} "
                f"{_NAMES[short]} per {window} for {name}. Please reduce the prompt length or the "
                f"maximum tokens requested, or try again later."
            )
            return None, headers, message
        for kind, bucket in pool.buckets.items():
            bucket.take(cost[kind], now)
        grant = Grant(name, cost["input_tokens"], cost["output_tokens"])
        self._grants[request_id] = grant
        self.admitted += 1
        return grant, self.headers(name, now), None

    def grant(self, request_id: str) -> Grant | None:
        """The grant of an admitted request (until it is settled)."""
        return self._grants.get(request_id)

    def on_frame(self, request_id: str, frame: bytes) -> None:
        """Watch a written SSE frame: ``message_delta`` corrects the output reservation."""
        grant = self._grants.get(request_id)
        if grant is None or b"message_delta" not in frame[:40]:
            return
        for line in frame.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    usage = orjson.loads(line[5:]).get("usage") or {}
                except (orjson.JSONDecodeError, AttributeError):
                    return
                tokens = usage.get("output_tokens")
                if isinstance(tokens, int):
                    grant.output_tokens = tokens
                    self.settle(request_id)
                return

    def on_message(self, request_id: str, message: Mapping[str, Any]) -> None:
        """A non-streamed answer: its usage corrects the reservation."""
        grant = self._grants.get(request_id)
        usage = message.get("usage")
        if grant is not None and isinstance(usage, Mapping) and isinstance(usage.get("output_tokens"), int):
            grant.output_tokens = usage["output_tokens"]
            self.settle(request_id)

    def settle(self, request_id: str) -> None:
        """The response ended: the unused output reservation comes back (all of it is kept if
        no usage was seen). Idempotent."""
        grant = self._grants.pop(request_id, None)
        if grant is None or grant.settled:
            return
        grant.settled = True
        if grant.output_tokens is None:
            return
        self.output_tokens += grant.output_tokens
        bucket = self._pool(grant.model_class).buckets.get("output_tokens")
        if bucket is not None:
            unused = grant.reserved - grant.output_tokens
            if unused > 0:
                bucket.give(unused, self.clock())
            elif unused < 0:
                bucket.take(-unused, self.clock())

    def headers_for(self, body: Any) -> dict[str, str]:
        """The ``anthropic-ratelimit-*`` headers for a request body (none if it names no model)."""
        if not isinstance(body, Mapping) or not isinstance(body.get("model"), str):
            return {}
        return self.headers(model_class(body["model"]))

    def headers(self, name: str, now: float | None = None) -> dict[str, str]:
        """The ``anthropic-ratelimit-*`` headers of ``name``'s class now."""
        now = self.clock() if now is None else now
        pool = self._pool(name)
        wall = _dt.datetime.now(_dt.UTC)
        out: dict[str, str] = {}
        tightest: tuple[float, int, int, str] | None = None
        for kind, bucket in pool.buckets.items():
            level = bucket.refill(now)
            remaining = max(0, int(level))
            if kind != "requests" and self.round_tokens > 1:
                remaining = round(remaining / self.round_tokens) * self.round_tokens
            full_in = max(0.0, bucket.blocked_until - now) + max(0.0, bucket.capacity - level) / bucket.rate
            reset = (wall + _dt.timedelta(seconds=math.ceil(full_in))).replace(microsecond=0)
            stamp = reset.isoformat().replace("+00:00", "Z")
            prefix = "anthropic-ratelimit-" + kind.replace("_", "-")
            out[prefix + "-limit"] = str(int(bucket.capacity))
            out[prefix + "-remaining"] = str(remaining)
            out[prefix + "-reset"] = stamp
            if kind != "requests":
                share = level / bucket.capacity
                if tightest is None or share < tightest[0]:
                    tightest = (share, int(bucket.capacity), remaining, stamp)
        if tightest is not None:  # the most restrictive token limit in effect
            out["anthropic-ratelimit-tokens-limit"] = str(tightest[1])
            out["anthropic-ratelimit-tokens-remaining"] = str(tightest[2])
            out["anthropic-ratelimit-tokens-reset"] = tightest[3]
        return out
