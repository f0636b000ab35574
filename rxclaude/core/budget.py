"""Rate-limit budgets as pure arithmetic: token buckets, admission decisions, header re-sync.

Strategy: the API meters each model class (Opus, Sonnet, Haiku) with token buckets that refill
continuously: requests, input tokens and output tokens per minute. A :class:`Budget` keeps the
same buckets locally. :meth:`Budget.admit` asks whether a request of a given :class:`Cost`
may start *now*; it answers a :class:`Ticket` (the cost is taken) or the seconds to wait.
Output tokens are reserved from ``max_tokens`` and the unused part is given back by
:meth:`Budget.settle` (the API corrects its own bucket at the end of a request the same way).
Every response's ``anthropic-ratelimit-*`` headers re-sync the buckets (:meth:`Budget.sync`),
a 429 empties them until its ``retry-after`` (:meth:`Budget.rate_limited`), and overloads
(529, an in-stream ``overloaded_error``) pause admission on a separate, growing backoff
(:meth:`Budget.overloaded`). No I/O and no clock of its own: every call takes ``now`` (seconds,
any monotonic origin), so tests drive it with plain numbers.

Example:
    >>> budget = Budget(Limits(requests=60, input_tokens=10_000, output_tokens=2_400))
    >>> ticket = budget.admit(Cost(input_tokens=100, output_tokens=1_000), now=0.0)
    >>> budget.admit(Cost(input_tokens=100, output_tokens=1_500), now=0.0)  # seconds to wait
    2.5
    >>> budget.settle(ticket, output_tokens=200, now=0.0)   # 800 unused tokens come back
    >>> budget.admit(Cost(input_tokens=100, output_tokens=1_500), now=0.0) is not None
    True
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from rxclaude.core.ratelimit import RateLimit, RateLimits

__all__ = [
    "Budget",
    "BudgetSnapshot",
    "Cost",
    "Limits",
    "Ticket",
    "TokenBucket",
    "estimate_input_tokens",
    "model_class",
]

_KINDS = ("requests", "input_tokens", "output_tokens")


def model_class(model: str) -> str:
    """The rate-limit pool a model id belongs to: ``"opus"``, ``"sonnet"``, ``"haiku"``, else the id.

    Example:
        >>> model_class("claude-sonnet-4-5-20250929"), model_class("claude-3-5-haiku-latest")
        ('sonnet', 'haiku')
    """
    lowered = model.lower()
    for family in ("opus", "sonnet", "haiku"):
        if family in lowered:
            return family
    return model


#: Tokens counted per image by :func:`estimate_input_tokens` (an image of about 1.15 megapixels,
#: the largest the API keeps without resizing, is about 1,600 tokens).
IMAGE_TOKENS = 1_600
#: Tokens counted per PDF page (its text and its page image), an upper estimate.
PDF_PAGE_TOKENS = 3_000
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_INPUT_FIELDS = ("system", "messages", "tools", "tool_choice", "mcp_servers")


def estimate_input_tokens(params: Mapping[str, Any]) -> int:
    """A deliberately high estimate of a request's input tokens, without a tokenizer.

    One token per 3 bytes of the JSON of ``system``, ``messages``, ``tools`` (English text
    runs about 4 characters per token, so this over-counts by about a third), plus
    ``IMAGE_TOKENS`` per image and ``PDF_PAGE_TOKENS`` per page of a base64 PDF (their bytes
    are not counted). Use ``count_tokens`` for the exact figure.

    Example:
        >>> estimate_input_tokens({"messages": [{"role": "user", "content": "Hello, Claude"}]})
        19
    """
    extra = [0]

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            kind = value.get("type")
            source = value.get("source")
            if kind == "image":
                extra[0] += IMAGE_TOKENS
                return {"type": "image"}
            if kind == "document" and isinstance(source, Mapping) and source.get("type") == "base64":
                extra[0] += PDF_PAGE_TOKENS * max(1, _pdf_pages(source.get("data")))
                return {"type": "document"}
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    kept = {k: strip(params[k]) for k in _INPUT_FIELDS if k in params}
    try:
        size = len(orjson.dumps(kept, default=str))
    except TypeError:
        size = len(repr(kept).encode())
    return max(1, math.ceil(size / 3)) + extra[0]


def _pdf_pages(data: Any) -> int:
    if not isinstance(data, str):
        return 1
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    return len(_PDF_PAGE.findall(raw))


@dataclass(slots=True)
class TokenBucket:
    """A bucket of ``capacity`` tokens refilling at ``capacity / period`` per second.

    ``level`` may go below zero (a request larger than the bucket is let through once it is
    full, and then owes the difference). ``blocked_until`` holds the level at zero until then.

    Example:
        >>> b = TokenBucket(600, period=60.0, now=0.0)
        >>> b.take(600, now=0.0); b.wait_time(50, now=0.0)
        5.0
    """

    capacity: float
    period: float = 60.0
    level: float = math.nan
    updated: float = 0.0
    blocked_until: float = -math.inf

    def __init__(self, capacity: float, *, period: float = 60.0, now: float = 0.0, level: float | None = None) -> None:
        if capacity <= 0 or period <= 0:
            raise ValueError(f"a bucket needs capacity > 0 and period > 0, not {capacity}, {period}")
        self.capacity = float(capacity)
        self.period = float(period)
        self.level = self.capacity if level is None else float(level)
        self.updated = now
        self.blocked_until = -math.inf

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self.capacity / self.period

    def refill(self, now: float) -> float:
        """Advance to ``now`` and return the level (nothing refills while blocked)."""
        start = max(self.updated, self.blocked_until)
        if now > start:
            self.level = min(self.capacity, self.level + (now - start) * self.rate)
        self.updated = max(self.updated, now)
        return self.level

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` can be taken (an amount above capacity waits for a full bucket)."""
        level = self.refill(now)
        need = min(amount, self.capacity)
        blocked = max(0.0, self.blocked_until - now)
        if level >= need:
            return blocked
        return blocked + (need - level) / self.rate

    def take(self, amount: float, now: float) -> None:
        """Take ``amount`` (the level may go negative)."""
        self.refill(now)
        self.level -= amount

    def give(self, amount: float, now: float) -> None:
        """Give back ``amount`` (never above capacity)."""
        self.refill(now)
        self.level = min(self.capacity, self.level + amount)

    def block(self, until: float, now: float) -> None:
        """Empty the bucket and keep it empty until ``until``."""
        self.refill(now)
        self.level = min(self.level, 0.0)
        self.blocked_until = max(self.blocked_until, until)

    def resize(self, capacity: float, now: float) -> None:
        """A new capacity (from a ``-limit`` header); the level keeps its distance from the top."""
        self.refill(now)
        if capacity > 0 and capacity != self.capacity:
            self.level = min(capacity, self.level + capacity - self.capacity)
            self.capacity = float(capacity)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute limits of one model class (``None``: not limited, or not known yet).

    Example:
        >>> Limits(requests=50, output_tokens=8_000).output_tokens
        8000
    """

    requests: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @classmethod
    def from_rate_limits(cls, limits: RateLimits) -> Limits:
        """The ``-limit`` values of a response's headers.

        Example:
            >>> Limits.from_rate_limits(RateLimits(requests=RateLimit(limit=50))).requests
            50
        """
        return cls(limits.requests.limit, limits.input_tokens.limit, limits.output_tokens.limit)


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request takes: one request, its input tokens, and ``max_tokens`` reserved.

    Example:
        >>> Cost(input_tokens=12, output_tokens=1024).requests
        1
    """

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 1


@dataclass(slots=True, eq=False)
class Ticket:
    """An admitted request: what it took, and the bucket levels right after (for :meth:`Budget.sync`)."""

    cost: Cost
    admitted_at: float
    levels: dict[str, float] = field(default_factory=dict)
    corrections: dict[str, float] = field(default_factory=dict)
    settled: bool = False
    synced: bool = False


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """The state of one model class's budget at time ``t`` (what the admission Observable emits).

    ``available`` and ``capacity`` map ``"requests"``, ``"input_tokens"``, ``"output_tokens"``
    to numbers (a kind not limited is absent).

    Example:
        >>> s = Budget(Limits(requests=10)).snapshot(0.0)
        >>> s.available["requests"], s.in_flight
        (10.0, 0)
    """

    t: float
    model_class: str
    available: dict[str, float]
    capacity: dict[str, float]
    in_flight: int
    waiting: int
    blocked_until: float | None
    overloaded_until: float | None
    rate_limited: int
    overloads: int
    admitted: int
    output_tokens_used: int


class Budget:
    """The local buckets of one model class, plus the concurrency cap and backoffs.

    Args:
        limits: known per-minute limits; unknown kinds are learnt from the first response's
            headers (until then a single request runs at a time, as a probe).
        period: seconds in the API's rate-limit window (60; tests and benches scale it).
        max_concurrency: requests allowed in flight at once (``None``: no cap).
        token_rounding: the API rounds ``*-tokens-remaining`` to the nearest thousand; a
            header differing from the local level by less than half of this is not a correction.
        overload_backoff: first pause after an overload (doubles per overload in a row, up to
            ``overload_max``).

    Example:
        >>> b = Budget(Limits(requests=1, input_tokens=10_000, output_tokens=2_000))
        >>> t = b.admit(Cost(), now=0.0); b.admit(Cost(), now=0.0)
        60.0
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        name: str = "",
        period: float = 60.0,
        max_concurrency: int | None = None,
        token_rounding: int = 1000,
        overload_backoff: float = 1.0,
        overload_max: float = 30.0,
        now: float = 0.0,
    ) -> None:
        self.name = name
        self.period = period
        self.max_concurrency = max_concurrency
        self.token_rounding = token_rounding
        self.overload_backoff = overload_backoff
        self.overload_max = overload_max
        self.buckets: dict[str, TokenBucket] = {}
        for kind in _KINDS:
            value = getattr(limits, kind)
            if value is not None:
                self.buckets[kind] = TokenBucket(value, period=period, now=now)
        self.learnt = all(getattr(limits, kind) is not None for kind in _KINDS)
        self.in_flight = 0
        self.waiting = 0
        self.blocked_until = -math.inf
        self.overloaded_until = -math.inf
        self.overload_streak = 0
        self.rate_limited_count = 0
        self.overload_count = 0
        self.admitted = 0
        self.output_tokens_used = 0
        self._corrections = dict.fromkeys(_KINDS, 0.0)

    # -- admission ---------------------------------------------------------------------------

    def admit(self, cost: Cost, now: float) -> Ticket | float:
        """Admit a request now (a :class:`Ticket`, its cost taken) or say how many seconds to wait.

        A wait of ``math.inf`` means "until a request in flight finishes" (the concurrency cap,
        or the probe while limits are still unknown).
        """
        wait = self.wait_time(cost, now)
        if wait > 0:
            return wait
        for kind, bucket in self.buckets.items():
            bucket.take(getattr(cost, kind), now)
        self.in_flight += 1
        self.admitted += 1
        return Ticket(cost, now, {k: b.level for k, b in self.buckets.items()}, dict(self._corrections))

    def wait_time(self, cost: Cost, now: float) -> float:
        """Seconds until ``cost`` could be admitted (0: now; ``math.inf``: when one finishes)."""
        cap = self.max_concurrency if self.learnt else 1
        if cap is not None and self.in_flight >= cap:
            return math.inf
        wait = max(0.0, self.blocked_until - now, self.overloaded_until - now)
        for kind, bucket in self.buckets.items():
            wait = max(wait, bucket.wait_time(getattr(cost, kind), now))
        return wait

    def settle(self, ticket: Ticket, *, output_tokens: int | None, now: float, input_tokens: int | None = None) -> None:
        """The request ended: give back unused output tokens (and over-estimated input ones).

        ``output_tokens=None`` (the usage never arrived) keeps the whole reservation. Settling
        twice does nothing the second time.
        """
        if ticket.settled:
            return
        ticket.settled = True
        self.in_flight = max(0, self.in_flight - 1)
        if output_tokens is not None:
            self.output_tokens_used += output_tokens
            unused = ticket.cost.output_tokens - output_tokens
            bucket = self.buckets.get("output_tokens")
            if bucket is not None and unused > 0:
                bucket.give(unused, now)
            elif bucket is not None and unused < 0:
                bucket.take(-unused, now)
        if input_tokens is not None and "input_tokens" in self.buckets:
            extra = ticket.cost.input_tokens - input_tokens
            if extra > 0:
                self.buckets["input_tokens"].give(extra, now)
            elif extra < 0:
                self.buckets["input_tokens"].take(-extra, now)

    def release(self, ticket: Ticket, now: float) -> None:
        """The request was never sent or was refused: give its whole cost back."""
        if ticket.settled:
            return
        ticket.settled = True
        self.in_flight = max(0, self.in_flight - 1)
        for kind, bucket in self.buckets.items():
            bucket.give(getattr(ticket.cost, kind), now)

    # -- what the API says -------------------------------------------------------------------

    def sync(self, ticket: Ticket | None, limits: RateLimits, now: float) -> None:
        """Re-sync from a response's ``anthropic-ratelimit-*`` headers.

        ``-limit`` sets each bucket's capacity (creating buckets for kinds not known yet).
        ``-remaining`` is the API's level just after it admitted this request; the local level
        just after admitting it is in the ticket. When the API's is lower (another client of the
        organisation, an input estimate too low), the difference -- less what earlier responses
        already corrected -- comes off the level now (a request admitted later is not counted
        twice). Differences within the header's rounding are ignored; a higher API level is
        not taken (see below).
        """
        for kind, header in (
            ("requests", limits.requests),
            ("input_tokens", limits.input_tokens),
            ("output_tokens", limits.output_tokens),
        ):
            self._sync_kind(kind, header, ticket, now)
        if all(kind in self.buckets for kind in _KINDS):
            self.learnt = True
        elif all(h.limit is None for h in (limits.requests, limits.input_tokens, limits.output_tokens)):
            self.learnt = True  # a backend that sends no limits (Bedrock, Vertex): only the cap applies
        if ticket is not None:
            ticket.synced = True

    def _sync_kind(self, kind: str, header: RateLimit, ticket: Ticket | None, now: float) -> None:
        if header.limit is not None and header.limit > 0:
            bucket = self.buckets.get(kind)
            if bucket is None:
                # learnt now: the API's level is the truth (while limits are unknown only the
                # probe request runs, so nothing else was taken locally)
                level = float(header.remaining) if header.remaining is not None else float(header.limit)
                self.buckets[kind] = TokenBucket(header.limit, period=self.period, now=now, level=level)
                return
            before = bucket.refill(now)
            bucket.resize(header.limit, now)
            self._corrections[kind] += bucket.level - before  # a shift tickets admitted before do not know
        bucket = self.buckets.get(kind)
        if bucket is None or header.remaining is None or ticket is None or kind not in ticket.levels:
            return
        # The API floors request counts and rounds token counts; within that, no news. Only a
        # lower level is taken: a higher one may just be a refund the API made before this
        # response and we make when its message_delta arrives (taking it would count it twice).
        tolerance = 1.0 if kind == "requests" else (self.token_rounding / 2 if self.token_rounding > 1 else 0.0)
        already = self._corrections[kind] - ticket.corrections.get(kind, 0.0)
        delta = header.remaining - ticket.levels[kind] - already
        if delta >= -tolerance:
            return
        step = delta - tolerance
        bucket.refill(now)
        bucket.level = min(bucket.capacity, bucket.level + step)
        self._corrections[kind] += step

    def rate_limited(self, retry_after: float | None, now: float) -> None:
        """A 429: every bucket empties and admission stops until ``retry-after`` seconds from now."""
        self.rate_limited_count += 1
        wait = retry_after if retry_after is not None and retry_after > 0 else self.period / 60.0
        until = now + wait
        self.blocked_until = max(self.blocked_until, until)
        for bucket in self.buckets.values():
            bucket.block(until, now)

    def overloaded(self, now: float) -> float:
        """A 529 or an in-stream ``overloaded_error``: pause admission (a growing backoff); returns the pause."""
        self.overload_count += 1
        pause = min(self.overload_max, self.overload_backoff * 2.0**self.overload_streak)
        self.overload_streak += 1
        self.overloaded_until = max(self.overloaded_until, now + pause)
        return pause

    def succeeded(self) -> None:
        """A request got through: the overload backoff starts again from its first step."""
        self.overload_streak = 0

    # -- observation -------------------------------------------------------------------------

    def snapshot(self, now: float) -> BudgetSnapshot:
        """The state now, as an immutable value."""
        available = {k: b.refill(now) for k, b in self.buckets.items()}
        return BudgetSnapshot(
            t=now,
            model_class=self.name,
            available=available,
            capacity={k: b.capacity for k, b in self.buckets.items()},
            in_flight=self.in_flight,
            waiting=self.waiting,
            blocked_until=self.blocked_until if self.blocked_until > now else None,
            overloaded_until=self.overloaded_until if self.overloaded_until > now else None,
            rate_limited=self.rate_limited_count,
            overloads=self.overload_count,
            admitted=self.admitted,
            output_tokens_used=self.output_tokens_used,
        )
