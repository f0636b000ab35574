"""SyncClient on loopback: a blocking text loop against the official SDK's sync client.

The mock server runs in its own process (``_server.py``) and answers every request with the same
10k-delta text stream. Each path reads every text delta in a blocking ``for`` loop, then the
final message:

  rxclaude.SyncClient  -- ``for text in stream.text_stream`` (the async client on a loop thread,
                          events handed over through a queue)
  rxclaude async       -- the async client's ``stream.text`` subscription, ``asyncio.run`` (the
                          floor the facade adds its hand-over to)
  anthropic.Anthropic  -- the official sync client's ``for text in stream.text_stream``

Wall time per request and CPU time of this process (both threads), medians over --repeat.
Run:  python bench/sync.py [--deltas 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rxclaude

PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}
KEY = "bench-key-not-a-secret"


def run_sync(url: str) -> Callable[[], str]:
    client = rxclaude.SyncClient(api_key=KEY, base_url=url)

    def once() -> str:
        parts = []
        with client.messages.stream(**PARAMS) as stream:
            for text in stream.text_stream:
                parts.append(text)
            assert stream.final_message().text == "".join(parts)
        return "".join(parts)

    once.close = client.close  # type: ignore[attr-defined]
    return once


def run_async(url: str) -> Callable[[], str]:
    async def go() -> str:
        async with rxclaude.Client(api_key=KEY, base_url=url) as client:
            parts: list[str] = []
            stream = client.messages.stream(**PARAMS)
            stream.text.subscribe(parts.append)
            async with stream:
                await stream.final_message()
            return "".join(parts)

    return lambda: asyncio.run(go())


def run_sdk(url: str) -> Callable[[], str]:
    import anthropic

    client = anthropic.Anthropic(api_key=KEY, base_url=url)

    def once() -> str:
        with client.messages.stream(**PARAMS) as stream:
            text = "".join(stream.text_stream)
            stream.get_final_message()
        return text

    once.close = client.close  # type: ignore[attr-defined]
    return once


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_server.py"), "--deltas", str(args.deltas)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        results: dict[str, tuple[list[float], list[float]]] = {}
        texts = set()
        for name, make in (
            ("rxclaude.SyncClient", run_sync),
            ("rxclaude async", run_async),
            ("anthropic.Anthropic", run_sdk),
        ):
            once = make(url)
            texts.add(once())  # warm-up (and the same text on every path)
            walls, cpus = [], []
            for _ in range(args.repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                once()
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
            getattr(once, "close", lambda: None)()
            results[name] = (walls, cpus)
        assert len(texts) == 1
        base = statistics.median(results["rxclaude.SyncClient"][1])
        print(f"{args.deltas} text deltas per request, {args.repeat} requests per path")
        print("| path | wall ms (median, range) | CPU ms (median, range) | CPU x SyncClient |")
        print("|---|---:|---:|---:|")
        for name, (walls, cpus) in results.items():
            print(
                f"| {name} | {statistics.median(walls) * 1e3:.0f} ({min(walls) * 1e3:.0f}-{max(walls) * 1e3:.0f}) "
                f"| {statistics.median(cpus) * 1e3:.0f} ({min(cpus) * 1e3:.0f}-{max(cpus) * 1e3:.0f}) "
                f"| {statistics.median(cpus) / base:.2f} |"
            )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()
