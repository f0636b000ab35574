"""Core pipeline benchmark: bytes -> text stream + final message, one run, same bytes.

Compares, per event and as ratios:
  rxclaude  -- public operators: frames() -> parse() -> broadcast() fan-out to text() and message()
  sdk       -- the official SDK's MessageStream (its SSE decoder, text_stream, get_final_message())
  floor     -- a minimal hand-written loop: bytes.find + orjson, concatenating text_delta text

Run:  python bench/core.py [--deltas 10000] [--repeat 5]
Prints a table and the target checks from the core issue. Times are this thread's CPU time
(``time.thread_time``), best of N, so that other processes on a shared machine count for little.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import reactivex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _streams import chunks, text_stream

from rxclaude import operators as ops


def run_rxclaude(pieces: list[bytes]) -> tuple[str, Any]:
    texts: list[str] = []
    final: list[Any] = []
    events = reactivex.from_iterable(pieces).pipe(ops.frames(), ops.parse(), ops.broadcast())
    events.pipe(ops.text()).subscribe(texts.append)
    events.pipe(ops.message()).subscribe(final.append)
    events.connect()
    return "".join(texts), final[0]


def run_floor(pieces: list[bytes]) -> tuple[str, Any]:
    buf = b""
    texts: list[str] = []
    loads = orjson.loads
    message: dict[str, Any] = {}
    for piece in pieces:
        buf += piece
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            frame = buf[start:end]
            start = end + 2
            i = frame.find(b"data: ")
            if i < 0:
                continue
            d = loads(frame[i + 6 :])
            t = d["type"]
            if t == "content_block_delta":
                delta = d["delta"]
                if delta["type"] == "text_delta":
                    texts.append(delta["text"])
            elif t == "message_start":
                message = d["message"]
            elif t == "message_delta":
                message["stop_reason"] = d["delta"]["stop_reason"]
                message["usage"]["output_tokens"] = d["usage"]["output_tokens"]
        buf = buf[start:]
    text = "".join(texts)
    message["content"] = [{"type": "text", "text": text}]
    return text, message


def run_sdk(pieces: list[bytes]) -> tuple[str, Any]:
    import anthropic
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=_Body(pieces))

    client = anthropic.Anthropic(api_key="bench", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    texts = []
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for t in stream.text_stream:
            texts.append(t)
        final = stream.get_final_message()
    client.close()
    return "".join(texts), final


class _Body(__import__("httpx2").SyncByteStream):  # type: ignore[misc]
    """An httpx2 sync byte stream yielding the same chunks."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Any:
        return iter(self.pieces)

    def close(self) -> None:
        pass


def best(fn: Callable[[list[bytes]], Any], pieces: list[bytes], repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.thread_time()  # CPU time of this thread: other processes on a shared VM do not count
        result = fn(pieces)
        times.append(time.thread_time() - t0)
    return min(times), result


def import_time(module: str) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parent.parent,
            ).stdout
        )
        for _ in range(3)
    ]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-sdk", action="store_true", help="skip the official SDK baseline")
    args = parser.parse_args()

    n = args.deltas
    pieces = chunks(text_stream(n))
    events = n + 6
    t_rx, (text_rx, msg_rx) = best(run_rxclaude, pieces, args.repeat)
    t_floor, (text_floor, _) = best(run_floor, pieces, args.repeat)
    assert text_rx == text_floor == msg_rx.text, "rxclaude and the floor disagree"
    rows = [("rxclaude", t_rx), ("floor", t_floor)]
    t_sdk = None
    if not args.no_sdk:
        t_sdk, (text_sdk, msg_sdk) = best(run_sdk, pieces, max(1, min(args.repeat, 3)))
        assert text_sdk == text_rx and msg_sdk.content[0].text == text_rx, "the SDK disagrees"
        rows.append(("sdk MessageStream", t_sdk))
    big_n = n * 10
    big = chunks(text_stream(big_n))
    t_big, _ = best(run_rxclaude, big, max(1, args.repeat // 2))

    print(f"{n:,} text deltas ({sum(map(len, pieces)):,} bytes, 4 KiB chunks), best of {args.repeat}:")
    for name, t in rows:
        print(f"  {name:<20} {t * 1e3:9.1f} ms   {t / events * 1e6:7.2f} µs/event")
    print(f"  rxclaude at {big_n:,} deltas: {t_big * 1e3:.1f} ms = {t_big / t_rx:.2f}x the {n:,}-delta time")
    print("targets:")
    if t_sdk is not None:
        print(f"  vs SDK MessageStream: {t_sdk / t_rx:6.1f}x faster   (target >= 20x)")
    print(f"  vs floor:             {t_rx / t_floor:6.2f}x the floor (target <= 4x)")
    print(f"  10x the deltas:       {t_big / t_rx:6.2f}x the time  (target <= 11x)")
    imp = import_time("rxclaude")
    print(f"  import rxclaude:      {imp * 1e3:6.0f} ms         (target < 1000 ms)", end="")
    if not args.no_sdk:
        print(f"; import anthropic: {import_time('anthropic') * 1e3:.0f} ms")
    else:
        print()


if __name__ == "__main__":
    main()
