"""End-to-end benchmark on loopback: the client's CPU per event against the same server bytes.

The mock server runs in its own process (``_server.py``), so ``time.process_time()`` here is
the client's CPU alone. Three clients read the same response bytes:

  rxclaude -- ``client.messages.stream(...)``: ``.text`` subscriber + ``final_message()``
  sdk      -- the official ``anthropic.AsyncAnthropic`` ``messages.stream``: ``text_stream``
              + ``get_final_message()``
  floor    -- raw aiohttp: ``content.iter_any()`` + ``bytes.find`` + ``orjson.loads``

Time to first text is measured over the issue's baseline, a raw aiohttp readline loop, with the
four clients in a shuffled order each round, on the 10,000-delta server (the first read holds
16 KiB of frames) and on one paced like the API (head frames at once, then a delta a millisecond).

Run:  python bench/client.py [--deltas 10000] [--concurrent 200] [--small 2000] [--ttft 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rxclaude

PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64000,
    "messages": [{"role": "user", "content": "bench"}],
}
KEY = "bench-key-not-a-secret"


class Server:
    """The mock server in a child process."""

    def __init__(self, deltas: int, tokens_per_second: float | None = None) -> None:
        pace = ["--tokens-per-second", str(tokens_per_second)] if tokens_per_second else []
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_server.py")), "--deltas", str(deltas), *pace],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# -- the three clients: each returns (text, first_text_time) -----------------------------------
# With keep=False the consumer only counts characters (returned instead of the text): holding
# every piece in a list would make "peak memory per stream" mostly the benchmark's own list.


async def rx_one(client: rxclaude.Client, keep: bool = True) -> tuple[str | int, float]:
    parts: list[str] = []
    first: list[float] = []
    count = 0

    def on_text(t: str) -> None:
        nonlocal count
        if not first:
            first.append(time.perf_counter())
        if keep:
            parts.append(t)
        count += len(t)

    async with client.messages.stream(**PARAMS) as stream:
        stream.text.subscribe(on_text)
        message = await stream.final_message()
    assert message.stop_reason == "end_turn" and len(message.text) == count
    return ("".join(parts) if keep else count), first[0]


async def sdk_one(client: Any, keep: bool = True) -> tuple[str | int, float]:
    parts: list[str] = []
    first = 0.0
    count = 0
    async with client.messages.stream(**PARAMS) as stream:
        async for t in stream.text_stream:
            if not count:
                first = time.perf_counter()
            if keep:
                parts.append(t)
            count += len(t)
        message = await stream.get_final_message()
    assert message.stop_reason == "end_turn"
    return ("".join(parts) if keep else count), first


async def floor_one(session: aiohttp.ClientSession, url: str) -> tuple[str, float]:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    parts: list[str] = []
    first = 0.0
    buf = b""
    loads = orjson.loads
    async with session.post(
        url + "/v1/messages", data=orjson.dumps({**PARAMS, "stream": True}), headers=headers
    ) as resp:
        async for chunk in resp.content.iter_any():
            buf += chunk
            start = 0
            while (end := buf.find(b"\n\n", start)) >= 0:
                frame = buf[start:end]
                start = end + 2
                i = frame.find(b"data: ")
                if i >= 0:
                    d = loads(frame[i + 6 :])
                    if d["type"] == "content_block_delta" and d["delta"]["type"] == "text_delta":
                        if not parts:
                            first = time.perf_counter()
                        parts.append(d["delta"]["text"])
            buf = buf[start:]
    return "".join(parts), first


async def readline_one(session: aiohttp.ClientSession, url: str) -> tuple[str, float]:
    """The issue's time-to-first-text baseline: a raw aiohttp readline loop."""
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    parts: list[str] = []
    first = 0.0
    loads = orjson.loads
    async with session.post(
        url + "/v1/messages", data=orjson.dumps({**PARAMS, "stream": True}), headers=headers
    ) as resp:
        async for line in resp.content:
            if line.startswith(b"data: "):
                d = loads(line[6:])
                if d["type"] == "content_block_delta" and d["delta"]["type"] == "text_delta":
                    if not parts:
                        first = time.perf_counter()
                    parts.append(d["delta"]["text"])
    return "".join(parts), first


async def first_text(url: str, rounds: int) -> dict[str, float]:
    """p50 time to first text (seconds) of each client, in a shuffled order every round: each
    one runs after any of the others, so none is always measured in the same cache state."""
    import anthropic

    rx = rxclaude.Client(api_key=KEY, base_url=url)
    sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=url, max_retries=0)
    session = aiohttp.ClientSession()
    runs: dict[str, Callable[[], Awaitable[tuple[Any, float]]]] = {
        "readline": lambda: readline_one(session, url),
        "floor": lambda: floor_one(session, url),
        "rxclaude": lambda: rx_one(rx),
        "sdk": lambda: sdk_one(sdk),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    shuffle = random.Random(7).shuffle
    try:
        for _ in range(rounds):
            order = list(runs)
            shuffle(order)
            for name in order:
                t0 = time.perf_counter()
                _, first = await runs[name]()
                times[name].append(first - t0)
    finally:
        await rx.close()
        await sdk.close()
        await session.close()
    return {name: statistics.median(t) for name, t in times.items()}


def print_first_text(label: str, p50: dict[str, float], rounds: int) -> None:
    base = p50["readline"]
    print(
        f"Time to first text, {label}, p50 over {rounds} shuffled rounds: readline loop {base * 1e3:.2f} ms; "
        f"rxclaude +{(p50['rxclaude'] - base) * 1e3:.2f} ms (target <= 0.1; "
        f"+{(p50['rxclaude'] - p50['floor']) * 1e3:.2f} over the iter_any floor), "
        f"sdk +{(p50['sdk'] - base) * 1e3:.2f} ms"
    )


async def measure(label: str, run: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float, Any]:
    """Best-of-N (CPU seconds, wall seconds)."""
    best_cpu = best_wall = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        result = await run()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall, result


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deltas", type=int, default=10_000)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--small", type=int, default=2_000)
    ap.add_argument("--ttft", type=int, default=60, help="rounds of the time-to-first-text comparison")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import anthropic

    # 1. One long stream.
    server = Server(args.deltas)
    try:
        rx = rxclaude.Client(api_key=KEY, base_url=server.url)
        sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0)
        session = aiohttp.ClientSession()
        n = args.deltas + 6
        rx_cpu, rx_wall, (rx_text, _) = await measure("rxclaude", lambda: rx_one(rx), args.repeat)
        sdk_cpu, sdk_wall, (sdk_text, _) = await measure("sdk", lambda: sdk_one(sdk), max(1, args.repeat - 1))
        fl_cpu, fl_wall, (fl_text, _) = await measure("floor", lambda: floor_one(session, server.url), args.repeat)
        assert rx_text == sdk_text == fl_text
        print(f"One stream of {args.deltas:,} text deltas over loopback (client CPU, best of {args.repeat}):")
        for name, cpu, wall in (
            ("rxclaude", rx_cpu, rx_wall),
            ("sdk AsyncAnthropic", sdk_cpu, sdk_wall),
            ("floor aiohttp+orjson", fl_cpu, fl_wall),
        ):
            print(f"  {name:<22} {cpu / n * 1e6:7.2f} µs CPU/event   {n / wall:>10,.0f} events/s")
        print(
            f"  -> events/s vs SDK: {sdk_wall / rx_wall:5.1f}x (target >= 30x);"
            f" CPU vs floor: {rx_cpu / fl_cpu:4.2f}x (target <= 2.5x)"
        )

        # 3. Added time to first text over the raw readline loop, on this server (the
        #    first read holds 16 KiB of frames) and on one paced like the API (below).
        print_first_text("whole stream at once", await first_text(server.url, args.ttft), args.ttft)
        await rx.close()
        await sdk.close()
        await session.close()
    finally:
        server.close()

    server = Server(20, tokens_per_second=1000)  # head frames at once, then a delta every ms
    try:
        print_first_text("paced like the API", await first_text(server.url, args.ttft), args.ttft)
    finally:
        server.close()

    # 2. Many concurrent short streams: CPU in one pass, peak memory in another (tracemalloc
    #    slows every allocation, so CPU measured under it would mostly measure tracemalloc).
    server = Server(args.small)
    try:
        k = args.concurrent
        results: dict[str, list[float]] = {}
        for name in ("rxclaude", "sdk"):
            for traced in (False, True):
                gc.collect()
                client: Any
                if name == "rxclaude":
                    client = rxclaude.Client(api_key=KEY, base_url=server.url)
                    one: Callable[[Any, bool], Awaitable[Any]] = rx_one
                else:
                    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0, timeout=600)
                    one = sdk_one
                if traced:
                    tracemalloc.start()
                c0, w0 = time.process_time(), time.perf_counter()
                counts = {n for n, _ in await asyncio.gather(*(one(client, False) for _ in range(k)))}
                assert len(counts) == 1, counts  # every stream delivered the same text length
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                if traced:
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    results[name].append(float(peak))
                else:
                    results[name] = [cpu, wall]
                await client.close()
        print(f"{k} concurrent streams of {args.small:,} deltas:")
        for name, (cpu, wall, high) in results.items():
            print(
                f"  {name:<10} client CPU {cpu:6.2f} s   wall {wall:6.2f} s   peak traced memory "
                f"{high / k / 1024:8.1f} KiB/stream"
            )
        ratio = results["sdk"][0] / results["rxclaude"][0]
        mem = results["rxclaude"][2] / results["sdk"][2]
        print(
            f"  -> CPU: rxclaude uses 1/{ratio:.1f} of the SDK's (target <= 1/15); "
            f"memory per stream {mem:.2f}x the SDK's (target <= 1x)"
        )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
