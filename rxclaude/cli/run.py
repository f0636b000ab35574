"""``rxclaude run prompts.jsonl -o results.jsonl``: many requests under one rate-limit budget.

Input lines are Message Batches requests (``{"custom_id": ..., "params": {...}}``); output
lines are Batches results (``{"custom_id": ..., "result": {"type": "succeeded", "message":
...}}``), appended as each request completes. Run it again after Ctrl-C or a crash: ids that
already have a result line are skipped (``--redo-errors`` runs the errored ones again), and a
last line cut short by a crash is dropped first. A progress line on standard error shows
requests done, output tokens per second, the cost so far and the 429s met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from rxclaude.admission import Admission
from rxclaude.client import Client
from rxclaude.core.budget import Limits
from rxclaude.core.errors import RxClaudeError
from rxclaude.core.pricing import cost_of
from rxclaude.runner import RunResult

__all__ = ["RunInputError", "finished_ids", "main", "read_requests"]


class RunInputError(RxClaudeError, ValueError):
    """A line of the requests file is not a Batches request (the message names the line)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude run",
        description="Run a JSONL file of Message Batches requests against the Messages API, under "
        "rate-limit admission control; results are appended as they complete, and a "
        "second run resumes where the first stopped.",
    )
    p.add_argument("input", help='requests, one {"custom_id": ..., "params": {...}} per line')
    p.add_argument("-o", "--output", required=True, help="results file (JSONL, appended; read to resume)")
    p.add_argument("-c", "--concurrency", type=int, default=16, help="requests in flight at most (16)")
    p.add_argument("--rpm", type=int, help="requests per minute (default: learnt from the API's headers)")
    p.add_argument("--itpm", type=int, help="input tokens per minute (default: learnt)")
    p.add_argument("--otpm", type=int, help="output tokens per minute (default: learnt)")
    p.add_argument("--period", type=float, default=60.0, help=argparse.SUPPRESS)  # scaled minutes (tests)
    p.add_argument("--redo-errors", action="store_true", help="run again the ids whose result is errored")
    p.add_argument("--no-progress", action="store_true", help="no progress line on standard error")
    p.add_argument("--base-url", help="API base URL (default ANTHROPIC_BASE_URL or the real API)")
    return p


def finished_ids(path: Path, *, redo_errors: bool = False) -> set[str]:
    """The ids that have a result in ``path`` (the last line wins); repairs a cut-short last line.

    Example::

        done = finished_ids(Path("results.jsonl"))
    """
    done: set[str] = set()
    if not path.exists():
        return done
    good_end = 0
    with path.open("rb") as f:
        position = 0
        for raw in f:
            end = position + len(raw)
            position = end
            if not raw.endswith(b"\n"):
                break  # a crash cut this line short: it is dropped below
            try:
                line = orjson.loads(raw)
                custom_id = line["custom_id"]
                kind = line["result"]["type"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                break
            good_end = end
            if kind == "errored" and redo_errors:
                done.discard(custom_id)
            else:
                done.add(custom_id)
    if good_end != path.stat().st_size:
        with path.open("rb+") as f:
            f.truncate(good_end)
    return done


def read_requests(path: Path) -> Iterator[dict[str, Any]]:
    """The requests of a JSONL file, one at a time; a bad line is a :class:`RunInputError`.

    Example::

        for request in read_requests(Path("prompts.jsonl")): ...
    """
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                request = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise RunInputError(f"{path}:{number}: not JSON ({e})") from None
            if (
                not isinstance(request, dict)
                or not isinstance(request.get("custom_id"), str)
                or not isinstance(request.get("params"), dict)
            ):
                raise RunInputError(f'{path}:{number}: expected {{"custom_id": str, "params": {{...}}}}')
            yield request


class Progress:
    """The progress line: done/total, output tokens/s, cost so far, 429s, errors.

    Example::

        progress = Progress(total=100, out=sys.stderr)
        progress.add(result); progress.close()
    """

    def __init__(self, total: int, *, out: TextIO | None, admission: Admission | None = None, already: int = 0) -> None:
        self.total = total
        self.out = out
        self.admission = admission
        self.done = already
        self.errors = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self._shown = 0.0
        self._tty = bool(out is not None and out.isatty())

    @property
    def rate_limited(self) -> int:
        """429s met so far."""
        if self.admission is None:
            return 0
        return sum(b.rate_limited_count for b in self.admission.budgets.values())

    def add(self, result: RunResult) -> None:
        self.done += 1
        if not result.ok:
            self.errors += 1
        message = result.message
        if message is not None and message.usage is not None:
            self.output_tokens += message.usage.output_tokens or 0
            self.cost += cost_of(message.model or "", message.usage)
        now = time.monotonic()
        if now - self._shown >= (0.1 if self._tty else 2.0):
            self._shown = now
            self.show()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} | "
            f"{self.output_tokens / elapsed:,.0f} tok/s | ${self.cost:,.4f} | "
            f"429s {self.rate_limited} | errors {self.errors}"
        )

    def show(self) -> None:
        if self.out is None:
            return
        if self._tty:
            self.out.write("\r" + self.line() + "\x1b[K")
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.out is None:
            return
        if self._tty:
            self.out.write("\r" + self.line() + "\x1b[K\n")
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()


def main(argv: Sequence[str]) -> int:
    """``rxclaude run ...``: returns 0 when every request succeeded, 1 if some errored."""
    ns = _parser().parse_args(list(argv))
    try:
        return asyncio.run(_run(ns))
    except RxClaudeError as e:
        print(f"rxclaude run: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"rxclaude run: {e}", file=sys.stderr)
        return 2


async def _run(ns: argparse.Namespace) -> int:
    source, target = Path(ns.input), Path(ns.output)
    done = finished_ids(target, redo_errors=ns.redo_errors)
    total = 0
    ids: set[str] = set()
    for request in read_requests(source):  # validate the whole file before sending anything
        if request["custom_id"] in ids:
            raise RunInputError(f"{source}: custom_id {request['custom_id']!r} appears twice")
        ids.add(request["custom_id"])
        total += 1
    todo = (r for r in read_requests(source) if r["custom_id"] not in done)
    limits = Limits(ns.rpm, ns.itpm, ns.otpm)
    admission = Admission(limits, period=ns.period, max_concurrency=ns.concurrency)
    progress = Progress(total, out=None if ns.no_progress else sys.stderr, admission=admission, already=len(done & ids))
    failed = 0
    async with Client(base_url=ns.base_url, admission=admission) as client:
        with target.open("ab") as out:
            try:
                async for result in client.messages.map(todo, concurrency=ns.concurrency):
                    out.write(orjson.dumps(result.to_dict()) + b"\n")
                    out.flush()
                    failed += not result.ok
                    progress.add(result)
            finally:
                out.flush()
                os.fsync(out.fileno())
                progress.close()
    return 1 if failed else 0
