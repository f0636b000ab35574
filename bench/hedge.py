"""p99 time to first text with and without hedging, against mocks whose first-token delay has a
long (bounded) tail.

Two mock servers (replicas) on 127.0.0.1. Every request's first content comes after a delay
drawn from the same distribution: with probability ``1 - tail`` between ``--fast`` bounds
(default 30-80 ms), else between ``--slow`` bounds (default 0.8-2.0 s). Headers and
``message_start`` go out at once; the delay sits before the first content block, like a
model that is slow to start.

- **plain**: ``client.messages.stream(...)`` against replica A;
- **one route**: ``rxclaude.fallback([A])``: the wrapper alone (what holding frames back costs);
- **hedged**: ``rxclaude.fallback([A, B], hedge_after=H)``: after ``H`` seconds without
  content, the same request goes to B too; the first to send content wins, the other is closed.

Time to first text: from creating the stream to its first ``text`` value. Also printed: the
extra requests hedging sent (load) and the input tokens the losers were billed.

    python bench/hedge.py [--requests 300] [--concurrency 30] [--hedge-after 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rxclaude
from rxclaude.testing import MockServer, Reply

PARAMS = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def delays(
    rng: random.Random, n: int, tail: float, fast: tuple[float, float], slow: tuple[float, float]
) -> list[float]:
    return [rng.uniform(*slow) if rng.random() < tail else rng.uniform(*fast) for _ in range(n)]


def enqueue(server: MockServer, ds: list[float]) -> None:
    server.reset()
    server.enqueue(*(Reply.text("The answer, in a few words.").with_faults(stall_after=1, stall_seconds=d) for d in ds))


async def run(n: int, concurrency: int, one: Callable[[], Awaitable[float]]) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    out: list[float] = []

    async def task() -> None:
        async with gate:
            out.append(await one())

    await asyncio.gather(*(task() for _ in range(n)))
    return out


async def ttft(make: Callable[[], rxclaude.MessageStream]) -> float:
    started = time.perf_counter()
    stream = make()
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    stream.text.subscribe(lambda _t: first.done() or first.set_result(time.perf_counter() - started))
    async with stream:
        value = await first
        await stream.final_message()
    return value


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def one_round(args: argparse.Namespace, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    fast, slow = (args.fast[0], args.fast[1]), (args.slow[0], args.slow[1])
    async with MockServer() as a, MockServer() as b:
        ca = rxclaude.Client(api_key="k", base_url=a.url, max_retries=0, open_telemetry=False)
        cb = rxclaude.Client(api_key="k", base_url=b.url, max_retries=0, open_telemetry=False)
        async with ca, cb:
            enqueue(a, delays(rng, args.requests, args.tail, fast, slow))
            plain = await run(args.requests, args.concurrency, lambda: ttft(lambda: ca.messages.stream(**PARAMS)))

            enqueue(a, delays(rng, args.requests, args.tail, fast, slow))
            single = await run(args.requests, args.concurrency, lambda: ttft(lambda: rxclaude.fallback([ca], **PARAMS)))

            enqueue(a, delays(rng, args.requests, args.tail, fast, slow))
            enqueue(b, delays(rng, args.requests, args.tail, fast, slow))
            streams: list[rxclaude.FallbackStream] = []

            def hedged_stream() -> rxclaude.MessageStream:
                s = rxclaude.fallback([ca, cb], hedge_after=args.hedge_after, **PARAMS)
                streams.append(s)
                return s

            hedged = await run(args.requests, args.concurrency, lambda: ttft(hedged_stream))
            sent = len(a.requests) + len(b.requests)
            lost = [x for s in streams for x in s.attempts if x.outcome == "lost"]
            billed = sum(x.usage.input_tokens or 0 for x in lost if x.usage is not None)
    return {
        "plain_p50": pct(plain, 50),
        "plain_p99": pct(plain, 99),
        "one_route_p50": pct(single, 50),
        "one_route_p99": pct(single, 99),
        "hedged_p50": pct(hedged, 50),
        "hedged_p99": pct(hedged, 99),
        "extra_requests": sent / args.requests - 1,
        "losers_input_tokens_per_request": billed / args.requests,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=30)
    ap.add_argument("--hedge-after", type=float, default=0.2)
    ap.add_argument("--tail", type=float, default=0.05, help="share of requests with a slow first token")
    ap.add_argument("--fast", type=float, nargs=2, default=(0.03, 0.08))
    ap.add_argument("--slow", type=float, nargs=2, default=(0.8, 2.0))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rounds = [await one_round(args, seed) for seed in range(args.repeat)]
    print(
        f"{args.requests} requests x {args.repeat} runs, concurrency {args.concurrency}, tail {args.tail:.0%} "
        f"in {args.slow[0]}-{args.slow[1]} s, hedge after {args.hedge_after} s"
    )
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        ms = key.endswith(("p50", "p99"))
        unit, digits = (1000, 1) if ms else (1, 3)
        print(
            f"  {key:34s} median {statistics.median(values) * unit:8.{digits}f}   "
            f"range {min(values) * unit:8.{digits}f} - {max(values) * unit:8.{digits}f}" + (" ms" if ms else "")
        )
    ratio = [r["plain_p99"] / r["hedged_p99"] for r in rounds]
    print(f"  p99 plain / hedged: median {statistics.median(ratio):.1f}x (range {min(ratio):.1f}-{max(ratio):.1f}x)")


if __name__ == "__main__":
    asyncio.run(main())
