"""Rate-limit and retry headers as values (pure: headers in, dataclass out)."""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RateLimit", "RateLimits", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One ``anthropic-ratelimit-<kind>-{limit,remaining,reset}`` triple (reset is RFC 3339)."""

    limit: int | None = None
    remaining: int | None = None
    reset: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What the response headers say about rate limits.

    Example:
        >>> RateLimits.from_headers({"anthropic-ratelimit-requests-remaining": "49"}).requests.remaining
        49
    """

    requests: RateLimit = RateLimit()
    tokens: RateLimit = RateLimit()
    input_tokens: RateLimit = RateLimit()
    output_tokens: RateLimit = RateLimit()
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimits:
        """Parse the ``anthropic-ratelimit-*`` and ``retry-after(-ms)`` headers (missing -> None)."""
        lower = {k.lower(): v for k, v in headers.items()}

        def kind(name: str) -> RateLimit:
            prefix = f"anthropic-ratelimit-{name}-"
            return RateLimit(
                _int(lower.get(prefix + "limit")), _int(lower.get(prefix + "remaining")), lower.get(prefix + "reset")
            )

        return cls(
            kind("requests"), kind("tokens"), kind("input-tokens"), kind("output-tokens"), retry_after_seconds(lower)
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """``retry-after-ms`` (float ms) first, then ``retry-after`` (seconds or an HTTP-date).

    Example:
        >>> retry_after_seconds({"retry-after-ms": "1500"})
        1.5
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, origin unknown (RFC 5322); never local time
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp() - (time.time() if now is None else now)
