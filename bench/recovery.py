"""What recovery (issue 12) costs on the happy path: before and after, in the same run.

"Before" is the code at a git revision (default: ``main``), extracted into a temporary
directory; "after" is this checkout, with recovery off, with the default policy (retry before
content) and with ``recovery="continue"``. Each variant runs in its own child process (both are
the package ``rxclaude``), the children in a shuffled order each round, against the same mock
server process, and reports the client's CPU time (``time.process_time``):

  long  -- streams of ``--deltas`` text deltas: CPU per event (``.text`` + ``final_message()``)
  short -- ``--small`` streams of a 3-delta reply, one after another: CPU per stream (the setup a
           recovery policy adds: the Recovery object, the extra hub, the checks at the end)
  setup -- building ``20 * --small`` streams without sending them: the part of ``short`` a
           policy can change, without the loopback I/O's noise

Run:  python bench/recovery.py [--base main] [--rounds 7] [--deltas 10000] [--streams 10] [--small 300]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARAMS: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64000,
    "messages": [{"role": "user", "content": "bench"}],
}
KEY = "bench-key-not-a-secret"


async def child(url: str, small_url: str, recovery: str, streams: int, small: int) -> dict[str, float]:
    import rxclaude

    kw: dict[str, Any] = {}
    if recovery != "base":
        kw["recovery"] = {"off": False, "default": None, "continue": "continue"}[recovery]

    async def one(client: Any) -> int:
        count = 0

        def on_text(t: str) -> None:
            nonlocal count
            count += len(t)

        async with client.messages.stream(**PARAMS) as stream:
            stream.text.subscribe(on_text)
            message = await stream.final_message()
        assert len(message.text) == count
        return count

    out: dict[str, float] = {}
    async with rxclaude.Client(api_key=KEY, base_url=url, **kw) as client:
        await one(client)  # warm: connection pool, imports
        t0 = time.process_time()
        for _ in range(streams):
            await one(client)
        out["long_ms"] = (time.process_time() - t0) * 1000 / streams
    async with rxclaude.Client(api_key=KEY, base_url=small_url, **kw) as client:
        await one(client)
        t0 = time.process_time()
        for _ in range(small):
            await one(client)
        out["short_us"] = (time.process_time() - t0) * 1e6 / small
        # the setup alone, no I/O: building a stream (body encoded and validated, views, policy)
        n = small * 20
        t0 = time.process_time()
        for _ in range(n):
            client.messages.stream(**PARAMS)
        out["setup_us"] = (time.process_time() - t0) * 1e6 / n
    return out


class Server:
    def __init__(self, deltas: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_server.py"), "--deltas", str(deltas)],
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


def extract(rev: str, into: Path) -> None:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "rxclaude"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="main", help="the git revision measured as 'before'")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--deltas", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--child", nargs=3, metavar=("URL", "SMALL_URL", "RECOVERY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        url, small_url, recovery = args.child
        print(json.dumps(asyncio.run(child(url, small_url, recovery, args.streams, args.small))))
        return

    long_server, short_server = Server(args.deltas), Server(3)
    variants = ["base", "off", "default", "continue"]
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extract(args.base, Path(tmp))
            for r in range(args.rounds):
                order = random.sample(variants, len(variants))
                for v in order:
                    path = tmp if v == "base" else str(ROOT)
                    run = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--streams",
                            str(args.streams),
                            "--small",
                            str(args.small),
                            "--child",
                            long_server.url,
                            short_server.url,
                            v,
                        ],
                        check=True,
                        capture_output=True,
                        text=True,
                        env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"},
                        cwd=tmp,  # (so `import rxclaude` finds only PYTHONPATH's)
                    )
                    results[v].append(json.loads(run.stdout))
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(order), file=sys.stderr)
    finally:
        long_server.close()
        short_server.close()

    base_long = [x["long_ms"] for x in results["base"]]
    base_short = [x["short_us"] for x in results["base"]]
    base_setup = [x["setup_us"] for x in results["base"]]
    print(f"{args.rounds} rounds; CPU per stream: long = {args.deltas} deltas (ms), short = 3 deltas (µs), setup (µs)")
    print(
        f"{'variant':<22} {'long ms':>8} {'range':>13} {'ratio':>6}  {'short µs':>8} {'range':>9} {'ratio':>6}"
        f"  {'setup µs':>8} {'range':>11} {'ratio':>6}"
    )
    labels = {
        "base": f"before ({args.base})",
        "off": "after, recovery=False",
        "default": "after, default",
        "continue": "after, continue",
    }
    for v in variants:
        row = []
        for key, base, fmt in (
            ("long_ms", base_long, ".2f"),
            ("short_us", base_short, ".0f"),
            ("setup_us", base_setup, ".1f"),
        ):
            values = [x[key] for x in results[v]]
            med = statistics.median(values)
            row.append(f"{med:8{fmt}} {min(values):{fmt}}–{max(values):<{fmt}} {med / statistics.median(base):6.3f}")
        print(f"{labels[v]:<22} " + "  ".join(row))
    if len(base_long) > 1:
        for name, values in (("long", base_long), ("short", base_short), ("setup", base_setup)):
            pairs = list(itertools.pairwise(values))
            spread = statistics.median(abs(a - b) / statistics.median(values) for a, b in pairs)
            print(f"noise ({name}): consecutive 'before' rounds differ by a median {spread:.1%}")


if __name__ == "__main__":
    main()
