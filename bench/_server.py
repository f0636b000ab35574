"""Run the embedded mock server in its own process for the end-to-end benchmark.

Prints the base URL on stdout, then serves until stdin closes. The reply is the stream of
``--deltas`` text deltas from ``_streams.text_stream`` (real padding), written in 16 KiB pieces,
or with ``--paced`` a short reply whose first delta comes after a fixed think time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _streams import text_stream

from rxclaude.testing import MockServer, Reply


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=16 * 1024)
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=None,
        help="pace the deltas like the API (the head frames go out at once)",
    )
    args = parser.parse_args()
    reply = Reply.from_sse(text_stream(args.deltas)).with_faults(
        chunk_size=args.chunk, tokens_per_second=args.tokens_per_second
    )
    async with MockServer(default_reply=reply, rate_limit_headers=True) as server:
        print(server.url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
