"""Structured output as it grows: ops.partial_output against re-parsing the whole buffer per delta.

Every path sees the same JSON answer cut into the same text deltas (4-11 characters, as a
structured reply streams) and produces the partial value after each delta:

  rxclaude   -- ops.partial_output(): the incremental JSONBuilder (each character parsed once;
                a value copies only the containers still open)
  jiter      -- what peers do: join the text so far and parse it with jiter's partial mode
                (the official SDK's partial-JSON parser, in Rust) after every delta
  python     -- the same with rxclaude's pure-Python partial parser (no jiter installed)

Two answers: a list of records (many small values) and one long string field (an article).
Sizes grow 10x; a linear path's time grows ~10x, a quadratic one's ~100x.

Run:  python bench/partial_output.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import reactivex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rxclaude import operators as ops
from rxclaude.core.partial_json import parse_partial_json
from rxclaude.testing import json_pieces


def records(n: int) -> Any:
    return {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.5} for i in range(n)]}


def article(n: int) -> Any:
    return {"title": "A long one", "body": " ".join(f"word{i}" for i in range(n))}


def run_rxclaude(pieces: list[str]) -> Any:
    last: list[Any] = [None]  # keep the latest value only, as a UI does

    def keep(p: Any) -> None:
        last[0] = p

    reactivex.from_iterable(pieces).pipe(ops.partial_output()).subscribe(keep)
    return last[0].value


def reparse(use_jiter: bool) -> Callable[[list[str]], Any]:
    def run(pieces: list[str]) -> Any:
        parts: list[str] = []
        value = None
        for piece in pieces:
            parts.append(piece)
            try:
                value = parse_partial_json("".join(parts), use_jiter=use_jiter)
            except ValueError:
                pass
        return value

    return run


PATHS: dict[str, Callable[[list[str]], Any]] = {
    "rxclaude": run_rxclaude,
    "jiter": reparse(True),
    "python": reparse(False),
}


def timed(fn: Callable[[list[str]], Any], pieces: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(pieces)
        times.append(time.perf_counter() - t0)
    return times


def peak_memory(fn: Callable[[list[str]], Any], pieces: list[str]) -> int:
    tracemalloc.start()
    fn(pieces)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| answer | size | deltas | path | median ms | range ms | peak traced memory | x rxclaude |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, make, sizes in (("records", records, (100, 1000)), ("article", article, (2000, 20000))):
        for n in sizes:
            text = orjson.dumps(make(n)).decode()
            pieces = json_pieces(text)
            expected = orjson.loads(text)
            medians: dict[str, float] = {}
            for path, fn in PATHS.items():
                if path == "python" and len(text) > 60_000:
                    continue  # minutes: quadratic in pure Python
                assert fn(pieces) == expected, path
                times = timed(fn, pieces, args.repeat if len(text) < 60_000 or path == "rxclaude" else 2)
                medians[path] = statistics.median(times)
                mem = peak_memory(fn, pieces)
                ratio = medians[path] / medians["rxclaude"]
                print(
                    f"| {name} | {len(text) / 1024:.0f} KiB | {len(pieces)} | {path} | {medians[path] * 1e3:.1f} "
                    f"| {min(times) * 1e3:.1f}-{max(times) * 1e3:.1f} | {mem / 1024:.0f} KiB | {ratio:.1f}x |"
                )


if __name__ == "__main__":
    main()
