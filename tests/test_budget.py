"""rxclaude.core.budget: the bucket arithmetic, with plain numbers for the clock."""

from __future__ import annotations

import base64
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxclaude.core.budget import (
    IMAGE_TOKENS,
    PDF_PAGE_TOKENS,
    Budget,
    Cost,
    Limits,
    Ticket,
    TokenBucket,
    estimate_input_tokens,
    model_class,
)
from rxclaude.core.ratelimit import RateLimit, RateLimits

FULL = Limits(requests=60, input_tokens=6_000, output_tokens=1_200)


def headers(
    requests: int | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    limits: Limits = FULL,
) -> RateLimits:
    return RateLimits(
        requests=RateLimit(limits.requests, requests),
        input_tokens=RateLimit(limits.input_tokens, input_tokens),
        output_tokens=RateLimit(limits.output_tokens, output_tokens),
    )


def test_model_classes_pool_by_family() -> None:
    assert model_class("claude-opus-4-1-20250805") == "opus"
    assert model_class("claude-3-5-haiku-latest") == "haiku"
    assert model_class("claude-sonnet-4-5") == "sonnet"
    assert model_class("some-other-model") == "some-other-model"


def test_bucket_refills_continuously_up_to_capacity() -> None:
    b = TokenBucket(600, period=60.0, now=0.0)
    b.take(600, now=0.0)
    assert b.refill(1.0) == pytest.approx(10.0)
    assert b.refill(30.0) == pytest.approx(300.0)
    assert b.refill(1_000.0) == 600.0


def test_bucket_wait_time_and_oversized_requests() -> None:
    b = TokenBucket(100, period=10.0, now=0.0)
    b.take(100, now=0.0)
    assert b.wait_time(50, now=0.0) == pytest.approx(5.0)
    assert b.wait_time(500, now=0.0) == pytest.approx(10.0)  # larger than the bucket: wait for a full one
    b.take(500, now=10.0)
    assert b.level == pytest.approx(-400.0)  # and then it owes the rest


def test_blocked_bucket_does_not_refill_until_then() -> None:
    b = TokenBucket(60, period=60.0, now=0.0)
    b.block(until=5.0, now=0.0)
    assert b.refill(4.0) == 0.0
    assert b.wait_time(1, now=4.0) == pytest.approx(2.0)  # 1 s blocked + 1 s of refill
    assert b.refill(6.0) == pytest.approx(1.0)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_admit_reserves_max_tokens_and_settle_refunds() -> None:
    budget = Budget(FULL)
    ticket = budget.admit(Cost(input_tokens=100, output_tokens=1_000), now=0.0)
    assert isinstance(ticket, Ticket)
    wait = budget.admit(Cost(input_tokens=100, output_tokens=1_000), now=0.0)
    assert wait == pytest.approx((1_000 - 200) / 20.0)  # 1,200 per minute: 20 a second
    budget.settle(ticket, output_tokens=150, now=0.0)
    assert isinstance(budget.admit(Cost(input_tokens=100, output_tokens=1_000), now=0.0), Ticket)
    assert budget.output_tokens_used == 150
    budget.settle(ticket, output_tokens=150, now=0.0)  # twice: nothing more
    assert budget.output_tokens_used == 150


def test_settle_without_usage_keeps_the_reservation() -> None:
    budget = Budget(FULL)
    ticket = budget.admit(Cost(output_tokens=1_000), now=0.0)
    assert isinstance(ticket, Ticket)
    budget.settle(ticket, output_tokens=None, now=0.0)
    assert budget.buckets["output_tokens"].level == pytest.approx(200.0)
    assert budget.in_flight == 0


def test_release_gives_the_whole_cost_back() -> None:
    budget = Budget(FULL)
    ticket = budget.admit(Cost(input_tokens=500, output_tokens=1_000), now=0.0)
    assert isinstance(ticket, Ticket)
    budget.release(ticket, now=0.0)
    snap = budget.snapshot(0.0)
    assert snap.available == {"requests": 60.0, "input_tokens": 6_000.0, "output_tokens": 1_200.0}
    assert snap.in_flight == 0


def test_concurrency_cap_waits_for_a_finish() -> None:
    budget = Budget(FULL, max_concurrency=2)
    tickets = [budget.admit(Cost(output_tokens=1), now=0.0) for _ in range(2)]
    assert budget.admit(Cost(output_tokens=1), now=0.0) == math.inf
    first = tickets[0]
    assert isinstance(first, Ticket)
    budget.settle(first, output_tokens=1, now=0.0)
    assert isinstance(budget.admit(Cost(output_tokens=1), now=0.0), Ticket)


def test_unknown_limits_probe_with_one_request_then_learn_from_headers() -> None:
    budget = Budget()
    probe = budget.admit(Cost(input_tokens=10, output_tokens=100), now=0.0)
    assert isinstance(probe, Ticket)
    assert budget.admit(Cost(), now=0.0) == math.inf  # one at a time until the limits are known
    budget.sync(probe, headers(59, 5_990, 1_100), now=0.1)
    assert budget.learnt
    assert budget.buckets["output_tokens"].capacity == 1_200
    assert budget.buckets["output_tokens"].level == 1_100  # the API's level when it admitted the probe
    assert isinstance(budget.admit(Cost(), now=0.1), Ticket)


def test_a_backend_without_limit_headers_ends_the_probe() -> None:
    budget = Budget(max_concurrency=4)
    probe = budget.admit(Cost(output_tokens=100), now=0.0)
    assert isinstance(probe, Ticket)
    budget.sync(probe, RateLimits(), now=0.0)
    assert budget.learnt and not budget.buckets
    assert all(isinstance(budget.admit(Cost(), now=0.0), Ticket) for _ in range(3))
    assert budget.admit(Cost(), now=0.0) == math.inf


def test_sync_corrects_once_for_a_discrepancy_seen_by_concurrent_responses() -> None:
    """Another client took 3,000 input tokens: every in-flight response reports it, once is enough."""
    budget = Budget(FULL, token_rounding=1)
    tickets = [budget.admit(Cost(input_tokens=100, output_tokens=10), now=0.0) for _ in range(3)]
    assert all(isinstance(t, Ticket) for t in tickets)
    for t in tickets:
        assert isinstance(t, Ticket)
        budget.sync(t, headers(input_tokens=int(t.levels["input_tokens"]) - 3_000), now=0.0)
    assert budget.buckets["input_tokens"].level == pytest.approx(6_000 - 300 - 3_000)


def test_sync_ignores_differences_within_the_header_rounding() -> None:
    budget = Budget(FULL, token_rounding=1000)
    ticket = budget.admit(Cost(input_tokens=1_234, output_tokens=10), now=0.0)
    assert isinstance(ticket, Ticket)
    budget.sync(ticket, headers(59, 5_000, 1_000), now=0.0)  # 4,766 rounded to 5,000; 1,190 to 1,000
    assert budget.buckets["input_tokens"].level == pytest.approx(4_766)
    assert budget.buckets["output_tokens"].level == pytest.approx(1_190)


def test_sync_does_not_raise_the_level() -> None:
    """A higher level in the headers may be a refund the API made first and we make later."""
    budget = Budget(FULL, token_rounding=1)
    ticket = budget.admit(Cost(input_tokens=3_000, output_tokens=10), now=0.0)
    assert isinstance(ticket, Ticket)
    budget.sync(ticket, headers(59, 5_000, 1_190), now=0.0)
    assert budget.buckets["input_tokens"].level == pytest.approx(3_000)


def test_sync_takes_new_limits() -> None:
    budget = Budget(FULL)
    ticket = budget.admit(Cost(output_tokens=200), now=0.0)
    assert isinstance(ticket, Ticket)
    budget.sync(ticket, headers(59, 5_999, 2_200, limits=Limits(60, 6_000, 2_400)), now=0.0)
    assert budget.buckets["output_tokens"].capacity == 2_400
    assert budget.buckets["output_tokens"].level == pytest.approx(2_200)  # not corrected twice
    smaller = budget.admit(Cost(output_tokens=200), now=0.0)
    assert isinstance(smaller, Ticket)
    budget.sync(smaller, headers(58, 5_998, 1_000, limits=Limits(60, 6_000, 1_000)), now=0.0)
    assert budget.buckets["output_tokens"].level == pytest.approx(600)  # 400 below the new top, as before


def test_a_429_blocks_every_bucket_until_retry_after() -> None:
    budget = Budget(FULL)
    budget.rate_limited(3.0, now=10.0)
    assert budget.admit(Cost(input_tokens=1, output_tokens=1), now=12.0) == pytest.approx(
        2.0
    )  # 1 s blocked, 1 s for a request
    assert budget.snapshot(12.0).blocked_until == 13.0
    assert isinstance(budget.admit(Cost(input_tokens=1, output_tokens=1), now=14.0), Ticket)
    assert budget.rate_limited_count == 1


def test_overloads_back_off_separately_and_grow() -> None:
    budget = Budget(FULL, overload_backoff=1.0, overload_max=4.0)
    assert [budget.overloaded(now=0.0) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert budget.admit(Cost(), now=1.0) == pytest.approx(3.0)
    assert budget.buckets["requests"].level == 60  # the buckets are untouched
    budget.succeeded()
    assert budget.overloaded(now=10.0) == 1.0


def test_estimate_counts_images_and_pdf_pages_not_their_bytes() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"x" * 300_000).decode()},
    }
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type /Page >>"
    document = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
    }
    params = {"messages": [{"role": "user", "content": [image, document, {"type": "text", "text": "Hi"}]}]}
    estimate = estimate_input_tokens(params)
    assert IMAGE_TOKENS + 2 * PDF_PAGE_TOKENS < estimate < IMAGE_TOKENS + 2 * PDF_PAGE_TOKENS + 100


def test_estimate_is_above_four_characters_per_token() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 200
    params = {"system": "Be brief.", "messages": [{"role": "user", "content": text}]}
    assert estimate_input_tokens(params) >= len(text) / 4 * 1.3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 2.0), st.integers(1, 400), st.integers(0, 400), st.integers(1, 500)),
        min_size=1,
        max_size=120,
    )
)
def test_a_server_with_the_same_buckets_never_refuses_what_the_budget_admits(
    steps: list[tuple[float, int, int, int]],
) -> None:
    """Requests only start when the local budget admits them; a server metering the same way
    (input counted, max_tokens reserved, refunded at the end) then always has room."""
    limits = Limits(requests=30, input_tokens=2_000, output_tokens=1_000)
    budget = Budget(limits, period=6.0, max_concurrency=8)
    server = {k: TokenBucket(getattr(limits, k), period=6.0) for k in ("requests", "input_tokens", "output_tokens")}
    now = 0.0
    open_: list[tuple[float, Ticket, int]] = []
    for gap, input_tokens, output, max_tokens in steps:
        now += gap
        for end, ticket, used in [o for o in open_ if o[0] <= now]:
            open_.remove((end, ticket, used))
            server["output_tokens"].give(ticket.cost.output_tokens - used, end)
            budget.settle(ticket, output_tokens=used, now=end)
        cost = Cost(input_tokens=input_tokens, output_tokens=max_tokens)
        admitted = budget.admit(cost, now)
        if not isinstance(admitted, Ticket):
            now += admitted if math.isfinite(admitted) else 0.0
            admitted = budget.admit(cost, now)
            if not isinstance(admitted, Ticket):
                continue
        for kind, bucket in server.items():
            need = getattr(cost, kind)
            assert bucket.refill(now) + 1e-6 >= min(need, bucket.capacity), kind
            bucket.take(need, now)
        open_.append((now + 0.5, admitted, min(output, max_tokens)))
