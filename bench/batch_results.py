"""Reading a Message Batch's results: memory stays bounded however many lines the file has.

A small server on 127.0.0.1 answers ``GET /v1/messages/batches/{id}`` (an ended batch) and
streams its results file: ``--results`` lines generated on the fly (about 700 bytes each, a
short succeeded Message with usage; every tenth an errored result). The client reads them with
``client.messages.batches.results(id)`` (an Observable of ``BatchResult``), counting by type and
keeping nothing, while ``tracemalloc`` records the peak of Python allocations. The same is done
for a tenth of the lines: a bounded reader's peak does not grow with the file.

Run:  python bench/batch_results.py [--results 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from aiohttp import web

import rxclaude

BATCH = "msgbatch_01BenchResults000000000"


def line(i: int) -> bytes:
    if i % 10 == 9:
        result = {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": f"request {i}: max_tokens: Field required"},
            },
        }
    else:
        result = {
            "type": "succeeded",
            "message": {
                "id": f"msg_{i:024d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": f"Result number {i}: " + "a short answer, " * 20}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 120, "output_tokens": 60, "service_tier": "batch"},
            },
        }
    return orjson.dumps({"custom_id": f"req-{i:06d}", "result": result}) + b"\n"


def app(count: int) -> web.Application:
    async def batch(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.json_response(
            {
                "id": BATCH,
                "type": "message_batch",
                "processing_status": "ended",
                "request_counts": {
                    "processing": 0,
                    "succeeded": count - count // 10,
                    "errored": count // 10,
                    "canceled": 0,
                    "expired": 0,
                },
                "created_at": "2026-12-05T08:00:00Z",
                "expires_at": "2026-12-06T08:00:00Z",
                "ended_at": "2026-12-05T09:00:00Z",
                "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{base}/v1/messages/batches/{BATCH}/results",
            }
        )

    async def results(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "application/binary"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = bytearray()
        for i in range(count):
            chunk += line(i)
            if len(chunk) >= 1 << 16:
                await response.write(bytes(chunk))
                chunk.clear()
        await response.write(bytes(chunk))
        await response.write_eof()
        return response

    application = web.Application()
    application.router.add_get(f"/v1/messages/batches/{BATCH}", batch)
    application.router.add_get(f"/v1/messages/batches/{BATCH}/results", results)
    return application


async def read(count: int) -> tuple[Counter[str], float, int, int]:
    runner = web.AppRunner(app(count), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    counts: Counter[str] = Counter()
    try:
        async with rxclaude.Client(api_key="bench-key-not-a-secret", base_url=f"http://127.0.0.1:{port}") as client:
            done = asyncio.Event()
            failure: list[Exception] = []
            tracemalloc.start()
            started = time.perf_counter()
            client.messages.batches.results(BATCH).subscribe(
                lambda r: counts.update([r.type]),
                on_error=lambda e: (failure.append(e), done.set()),
                on_completed=done.set,
            )
            await done.wait()
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            if failure:
                raise failure[0]
    finally:
        await runner.cleanup()
    size = sum(len(line(i)) for i in range(count))
    return counts, elapsed, peak, size


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=100_000)
    args = parser.parse_args()
    for count in (args.results // 10, args.results):
        counts, elapsed, peak, size = await read(count)
        assert sum(counts.values()) == count, counts
        print(
            f"{count:>7,} results ({size / 1e6:5.1f} MB): {dict(counts)}  read in {elapsed:5.2f} s "
            f"({count / elapsed:,.0f}/s, server included)  peak Python memory {peak / 1e6:5.2f} MB"
        )


if __name__ == "__main__":
    asyncio.run(main())
