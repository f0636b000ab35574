"""``rxclaude batch submit|status|results|list|cancel|delete``: the Message Batches API.

rxclaude batch submit prompts.jsonl          # prints the batch id
rxclaude batch status msgbatch_01...  [--wait]
rxclaude batch results msgbatch_01... -o results.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from rxclaude.cli.run import read_requests
from rxclaude.client import Client
from rxclaude.core.batch import MessageBatch
from rxclaude.core.errors import RxClaudeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude batch",
        description="The Message Batches API (half price, asynchronous, results within 24 hours).",
    )
    p.add_argument("--base-url", help="API base URL (default ANTHROPIC_BASE_URL or the real API)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="create a batch from a JSONL file of requests")
    s.add_argument("input", help='requests, one {"custom_id": ..., "params": {...}} per line')
    s = sub.add_parser("status", help="show a batch")
    s.add_argument("batch_id")
    s.add_argument("--wait", action="store_true", help="poll until it ended")
    s.add_argument("--interval", type=float, default=30.0, help="seconds between polls with --wait (30)")
    s = sub.add_parser("results", help="write a batch's results as JSONL")
    s.add_argument("batch_id")
    s.add_argument("-o", "--output", help="file to write (default: standard output)")
    sub.add_parser("list", help="list batches, newest first")
    s = sub.add_parser("cancel", help="cancel a batch in progress")
    s.add_argument("batch_id")
    s = sub.add_parser("delete", help="delete an ended batch")
    s.add_argument("batch_id")
    return p


def _summary(batch: MessageBatch) -> str:
    c = batch.request_counts
    return (
        f"{batch.id}  {batch.processing_status}  processing={c.processing} succeeded={c.succeeded} "
        f"errored={c.errored} canceled={c.canceled} expired={c.expired}  created {batch.created_at}"
        + (f"  ended {batch.ended_at}" if batch.ended_at else "")
    )


def main(argv: Sequence[str]) -> int:
    """``rxclaude batch ...``: returns the exit status."""
    ns = _parser().parse_args(list(argv))
    try:
        return asyncio.run(_main(ns))
    except (RxClaudeError, OSError, ValueError) as e:
        print(f"rxclaude batch: {e}", file=sys.stderr)
        return 1


async def _main(ns: argparse.Namespace) -> int:
    async with Client(base_url=ns.base_url) as client:
        batches = client.messages.batches
        if ns.command == "submit":
            batch = await batches.create(list(read_requests(Path(ns.input))))
            print(batch.id)
            print(_summary(batch), file=sys.stderr)
        elif ns.command == "status":
            batch = await (
                batches.wait(ns.batch_id, interval=ns.interval) if ns.wait else batches.retrieve(ns.batch_id)
            )
            print(_summary(batch))
        elif ns.command == "results":
            count = 0
            out = open(ns.output, "wb") if ns.output else None  # noqa: SIM115 - closed below
            try:
                async for result in batches.iter_results(ns.batch_id):
                    line = orjson.dumps(result.to_dict()) + b"\n"
                    if out is not None:
                        out.write(line)
                    else:
                        sys.stdout.buffer.write(line)
                    count += 1
            finally:
                if out is not None:
                    out.close()
                else:
                    sys.stdout.flush()
            print(f"{count} results", file=sys.stderr)
        elif ns.command == "list":
            async for batch in batches.list():
                print(_summary(batch))
        elif ns.command == "cancel":
            print(_summary(await batches.cancel(ns.batch_id)))
        elif ns.command == "delete":
            deleted = await batches.delete(ns.batch_id)
            print(f"{deleted.id} deleted")
    return 0
