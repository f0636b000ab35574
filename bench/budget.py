"""Many requests under one rate-limit budget: rxclaude's runner against asyncio.gather over the SDK.

Each round serves the same N requests from a fresh mock server that enforces the API's limits
(token buckets per model class; ``max_tokens`` reserved, refunded at ``message_delta``; 429 with
``retry-after``), with the rate-limit "minute" scaled down to ``--period`` seconds so that a round
takes seconds, not an hour. Two contenders, one after the other, each on its own server:

  rxclaude -- ``client.messages.map(requests)`` with ``Client(admission=Admission(...))``, the
              limits learnt from the response headers (nothing configured but the period)
  sdk      -- plain ``asyncio.gather`` over ``anthropic.AsyncAnthropic().messages.stream(...)``
              for every request at once (its default two retries, which honour ``retry-after``);
              ``--sdk-concurrency N`` bounds it with a semaphore instead

Measured per round: 429s sent by the server, requests that failed, wall time, and the share of
the allowed output tokens used: output tokens reported by the finished responses over what the
bucket allowed during the round (its capacity at the start plus its refill until the last
result). Then every successful result is compared with a sequential run of the same requests
(one at a time, no limits): same content, same stop reason, same usage.

Run:  python bench/budget.py [--requests 1000] [--rounds 3] [--period 2] [--otpm 2400]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anthropic

import rxclaude
from rxclaude import Admission, Limits
from rxclaude.testing import MockLimits, MockServer, Reply

MODEL = "claude-sonnet-4-6"
WORDS = ["river", "stone", "cloud", "light", "water", "field", "wind", "tree", "bird", "hill"]


def make_requests(n: int, max_tokens: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        words = 10 + (i * 37) % 50  # 10 to 59 words: the replies differ in length
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words))
        params = {"model": MODEL, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}
        out.append({"custom_id": f"r{i:05d}", "params": params})
    return out


def key(message: dict[str, Any]) -> tuple[Any, ...]:
    """What must not differ: the blocks' types and text, the stop reason, the usage's token counts."""
    usage = message.get("usage") or {}
    blocks = tuple((b.get("type"), b.get("text")) for b in message.get("content") or ())
    return blocks, message.get("stop_reason"), usage.get("input_tokens"), usage.get("output_tokens")


def server_for(args: argparse.Namespace) -> tuple[MockServer, MockLimits]:
    limits = MockLimits(Limits(requests=args.rpm, input_tokens=args.itpm, output_tokens=args.otpm), period=args.period)
    return MockServer(limits=limits, default_reply=Reply.echo()), limits


def allowed(limits: MockLimits, elapsed: float) -> float:
    capacity = limits.capacity(MODEL, "output_tokens") or 0.0
    return capacity + capacity / limits.period * elapsed


async def run_rxclaude(args: argparse.Namespace, requests: list[dict[str, Any]]) -> dict[str, Any]:
    server, limits = server_for(args)
    async with server:
        admission = Admission(period=args.period, max_concurrency=args.concurrency)
        async with rxclaude.Client(api_key=server.api_key, base_url=server.url, admission=admission) as client:
            started = time.perf_counter()
            results = {}
            errors: Counter[str] = Counter()
            async for result in client.messages.map(requests):
                if result.ok and result.message is not None:
                    results[result.custom_id] = result.message.to_dict()
                else:
                    errors[type(result.error).__name__] += 1
            elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "429": limits.rate_limited,
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "results": results,
        "used": limits.output_tokens / allowed(limits, elapsed),
    }


async def run_sdk(args: argparse.Namespace, requests: list[dict[str, Any]]) -> dict[str, Any]:
    server, limits = server_for(args)
    async with server:
        sdk = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url)
        gate = asyncio.Semaphore(args.sdk_concurrency or len(requests))
        results: dict[str, Any] = {}

        async def one(item: dict[str, Any]) -> None:
            async with gate, sdk.messages.stream(**item["params"]) as stream:
                message = await stream.get_final_message()
            results[item["custom_id"]] = message.model_dump(mode="json", exclude_none=True)

        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(item) for item in requests), return_exceptions=True)
        elapsed = time.perf_counter() - started
        await sdk.close()
    errors = Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    return {
        "elapsed": elapsed,
        "429": limits.rate_limited,
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "results": results,
        "used": limits.output_tokens / allowed(limits, elapsed),
    }


async def sequential(requests: list[dict[str, Any]]) -> dict[str, Any]:
    server = MockServer(default_reply=Reply.echo())
    async with server, rxclaude.Client(api_key=server.api_key, base_url=server.url) as client:
        return {r["custom_id"]: (await client.messages.create(**r["params"])).to_dict() for r in requests}


def identical(results: dict[str, Any], reference: dict[str, Any]) -> int:
    """How many results differ from the sequential run (content, stop reason, output tokens)."""
    return sum(key(message) != key(reference[custom_id]) for custom_id, message in results.items())


def spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--period", type=float, default=2.0, help="seconds in the scaled rate-limit minute")
    parser.add_argument("--rpm", type=int, default=4_000)
    parser.add_argument("--itpm", type=int, default=400_000)
    parser.add_argument("--otpm", type=int, default=2_400)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64, help="rxclaude's max_concurrency")
    parser.add_argument("--sdk-concurrency", type=int, default=0, help="bound the SDK's gather (0: unbounded)")
    args = parser.parse_args()
    requests = make_requests(args.requests, args.max_tokens)
    reference = await sequential(requests)
    total_output = sum(m["usage"]["output_tokens"] for m in reference.values())
    print(
        f"{args.requests} requests, {total_output:,} output tokens in all; limits per {args.period:g} s 'minute': "
        f"{args.rpm:,} requests, {args.itpm:,} input, {args.otpm:,} output tokens; rxclaude max_concurrency "
        f"{args.concurrency}, sdk {args.sdk_concurrency or 'unbounded'}"
    )
    rows: dict[str, list[dict[str, Any]]] = {"rxclaude": [], "sdk": []}
    for n in range(args.rounds):
        for name, run in (("rxclaude", run_rxclaude), ("sdk", run_sdk)):
            row = await run(args, requests)
            row["differ"] = identical(row.pop("results"), reference)
            rows[name].append(row)
            print(
                f"  round {n + 1} {name:9s} {row['elapsed']:6.2f} s  429s {row['429']:5d}  failed {row['failed']:4d}"
                f"  output tokens used {row['used']:6.1%} of allowed  differ from sequential {row['differ']}"
                + (f"  errors {row['errors']}" if row["errors"] else "")
            )
    print()
    print(f"{'':9s} {'wall s':>18s} {'429s':>16s} {'failed':>14s} {'used of allowed':>24s} {'differ':>7s}")
    for name, runs in rows.items():
        print(
            f"{name:9s} {spread([r['elapsed'] for r in runs], '.2f'):>18s} {spread([r['429'] for r in runs], '.0f'):>16s}"
            f" {spread([r['failed'] for r in runs], '.0f'):>14s} {spread([r['used'] * 100 for r in runs], '.1f'):>22s} %"
            f" {max(r['differ'] for r in runs):>7d}"
        )
    rx, sdk = rows["rxclaude"], rows["sdk"]
    wall = statistics.median(r["elapsed"] for r in rx) / statistics.median(r["elapsed"] for r in sdk)
    used = statistics.median(r["used"] for r in rx) / statistics.median(r["used"] for r in sdk)
    print(f"rxclaude / sdk (medians): wall time {wall:.2f}x, share of the allowed output tokens used {used:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
