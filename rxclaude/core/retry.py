"""When to retry and how long to wait: the official SDK's policy, as pure functions.

1. ``x-should-retry: true|false`` wins outright.
2. Otherwise retry 408, 409, 429 and every status >= 500 (and connection errors/timeouts).
3. Wait ``retry-after-ms`` / ``retry-after`` when it is a sane positive value (<= ``max_wait``),
   else ``min(0.5 * 2**n, 8)`` seconds times a jitter in ``(0.75, 1]``.

Only failures *before the first byte* are retried; once a stream has begun, an error is
delivered (typed), never retried, so no text is ever duplicated.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from rxclaude.core.ratelimit import retry_after_seconds

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry budget and backoff.

    Example:
        >>> RetryPolicy(max_retries=2).should_retry(529, {})
        True
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def should_retry(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether a response with this status and headers may be retried."""
        should = {k.lower(): v for k, v in headers.items()}.get("x-should-retry")
        if should == "true":
            return True
        if should == "false":
            return False
        return status in (408, 409, 429) or status >= 500

    def delay(
        self, retries_taken: int, headers: Mapping[str, str] | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retries_taken + 1``."""
        if headers:
            after = retry_after_seconds(headers)
            if after is not None and 0 < after <= self.max_retry_after:
                return after
        backoff = min(self.initial_delay * 2.0**retries_taken, self.max_delay)
        jitter = 1 - 0.25 * (rng or random).random()
        return backoff * jitter
