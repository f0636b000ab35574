"""The ``rxclaude`` command: stream a reply live, or run the offline demo.

    rxclaude "Why is the sky blue?" --show usage,thinking
    rxclaude demo                      # offline: embedded mock server, one request, many sinks
    rxclaude record "Hi" -o run.jsonl  # stream live and record the raw frames with their timing
    rxclaude replay run.jsonl --speed 2   # re-run a recording (or any .sse file) offline
    rxclaude files upload|list|download|delete ...
    rxclaude publish --redis URL --id ID "Hi"   # publish a reply to Redis; relay nodes serve it
    rxclaude relay --redis URL | relay token --id ID | relay demo   (see rxclaude.cli.relay)

Ctrl-C cancels the request (the connection is closed at once); errors print one line and exit
non-zero. The API key comes from ``ANTHROPIC_API_KEY`` and is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO, TypeVar

from reactivex import Observable

from rxclaude.client import Client
from rxclaude.core.errors import RxClaudeError
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.stream import MessageStream

__all__ = ["main"]

_T = TypeVar("_T")

DEFAULT_MODEL = os.environ.get("RXCLAUDE_MODEL", "claude-sonnet-4-5")
PROVIDER_CHOICES = ("anthropic", "bedrock", "vertex", "foundry", "bedrock-mantle", "aws", "google-cloud")
"""``--provider`` values (:data:`rxclaude.cloud.PROVIDERS`, listed here so ``--help`` stays import-light)."""
_OWN_MODEL_IDS = ("bedrock", "vertex", "bedrock-mantle")  # platforms whose model ids are not first-party
SUBCOMMANDS = ("demo", "record", "replay", "files", "publish", "relay")


def _prompt_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude", description="Stream a Claude reply live to the terminal.", epilog="Offline demo: rxclaude demo"
    )
    p.add_argument("prompt", help="the user message ('-' reads standard input)")
    p.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument("--max-tokens", type=int, default=1024)
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("--thinking", type=int, metavar="BUDGET", help="extended thinking budget in tokens")
    p.add_argument("--show", default="", help="extra streams to show: usage,thinking,raw")
    p.add_argument("--image", action="append", default=[], metavar="PATH|URL|file_id", help="attach an image")
    p.add_argument("--pdf", action="append", default=[], metavar="PATH|URL|file_id", help="attach a PDF")
    p.add_argument("--file", action="append", default=[], metavar="file_id", help="attach an uploaded file")
    p.add_argument("--base-url", help="API base URL (default ANTHROPIC_BASE_URL or the real API)")
    p.add_argument(
        "--provider",
        choices=PROVIDER_CHOICES,
        default="anthropic",
        help="where to send the request (each platform's credentials come from its environment "
        "variables; bedrock, bedrock-mantle and aws need the [bedrock] extra for SigV4, vertex and "
        "google-cloud the [vertex]/[google-cloud] extra, foundry's Entra ID the [foundry] extra)",
    )
    p.add_argument(
        "--region", help="AWS region, or Google Cloud location (bedrock/bedrock-mantle/aws/vertex/google-cloud)"
    )
    p.add_argument("--project-id", help="Google Cloud project (vertex/google-cloud)")
    p.add_argument("--workspace-id", help="workspace (aws/google-cloud; else their *_WORKSPACE_ID variable)")
    return p


def _record_parser() -> argparse.ArgumentParser:
    p = _prompt_parser()
    p.prog = "rxclaude record"
    p.description = "Stream a reply live and record its raw frames with arrival times (JSON Lines)."
    p.add_argument("-o", "--output", required=True, help="the recording file to write")
    return p


def _replay_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude replay", description="Re-run a recording (or any .sse file) through the operators, offline."
    )
    p.add_argument("path", help="a recording written by `rxclaude record`, or a raw .sse body")
    p.add_argument("--speed", type=float, default=1.0, help="1 = original pace, 10 = ten times faster, 0 = no waits")
    p.add_argument("--show", default="", help="extra streams to show: usage,thinking,raw")
    return p


def _demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude demo",
        description="Offline demo: the embedded mock server streams a reply that fans out to several sinks at once.",
    )
    p.add_argument("--tokens-per-second", type=float, default=60.0)
    p.add_argument("--fast", action="store_true", help="no pacing (as fast as the loop goes)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rxclaude`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "demo":
            return asyncio.run(_demo(_demo_parser().parse_args(args[1:])))
        if args and args[0] == "record":
            return asyncio.run(_prompt(_record_parser().parse_args(args[1:])))
        if args and args[0] == "replay":
            return asyncio.run(_replay(_replay_parser().parse_args(args[1:])))
        if args and args[0] in ("publish", "relay"):  # streams shared across machines: cli/relay.py
            from rxclaude.cli.relay import publish_main, relay_main

            if args[0] == "relay":
                return relay_main(args[1:])
            return publish_main(args[1:], _prompt_parser(), _client, _message_content)
        if args and args[0] == "files":
            try:
                from rxclaude.cli.files import main as files_main
            except ImportError:  # pragma: no cover - the Files API module is optional here
                print("rxclaude: the files commands are not available in this build", file=sys.stderr)
                return 2
            return files_main(args[1:])
        if not args:
            _prompt_parser().print_help()
            return 2
        return asyncio.run(_prompt(_prompt_parser().parse_args(args)))
    except KeyboardInterrupt:
        print("\n[cancelled]", file=sys.stderr)
        return 130


async def _message_content(ns: argparse.Namespace, client: Client) -> Any:
    """The user turn: attachments first (as the vision docs advise), then the prompt."""
    prompt = sys.stdin.read() if ns.prompt == "-" else ns.prompt
    if not (ns.image or ns.pdf or ns.file):
        return prompt
    from rxclaude import content

    attachments: list[dict[str, Any]] = [content.image(src) for src in ns.image]
    attachments += [content.document(src) for src in ns.pdf]
    for file_id in ns.file:  # the file's own type decides: image, document or container upload
        attachments.append((await client.files.retrieve(file_id)).block())
    return [*attachments, {"type": "text", "text": prompt}]


async def _prompt(ns: argparse.Namespace) -> int:
    show = {s.strip() for s in ns.show.split(",") if s.strip()}
    if ns.provider in _OWN_MODEL_IDS and ns.model == DEFAULT_MODEL:
        print(
            f"rxclaude: --provider {ns.provider} needs -m/--model with that platform's model id "
            "(e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0, anthropic.claude-opus-4-7 or "
            "claude-sonnet-4-5@20250929)",
            file=sys.stderr,
        )
        return 2
    try:
        async with _client(ns) as client:
            params: dict[str, Any] = {
                "model": ns.model,
                "max_tokens": ns.max_tokens,
                "messages": [{"role": "user", "content": await _message_content(ns, client)}],
            }
            if ns.system:
                params["system"] = ns.system
            if ns.thinking:
                params["thinking"] = {"type": "enabled", "budget_tokens": ns.thinking}
            stream = client.messages.stream(**params)
            handle = None
            if getattr(ns, "output", None):
                from rxclaude.sinks import record

                handle = record(stream.frames, ns.output, meta={"model": ns.model})
            await _render(stream, show, sys.stdout)
            if handle is not None:
                count = await handle
                print(f"[recorded] {count} frames -> {ns.output}", file=sys.stderr)
        return 0
    except (RxClaudeError, OSError, ValueError, ImportError) as e:
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def _client(ns: argparse.Namespace) -> Client:
    """The client for ``--provider`` (first-party by default)."""
    from rxclaude.cloud import client_for

    extra = {"workspace_id": ns.workspace_id} if ns.workspace_id else {}
    return client_for(ns.provider, region=ns.region, project_id=ns.project_id, base_url=ns.base_url, **extra)


async def _replay(ns: argparse.Namespace) -> int:
    from rxclaude import operators as ops
    from rxclaude.transport.replay import replay

    show = {s.strip() for s in ns.show.split(",") if s.strip()}
    frames = replay(ns.path, speed=ns.speed if ns.speed > 0 else None).pipe(ops.broadcast())
    events = frames.pipe(ops.parse(), ops.broadcast())
    terminal = _Terminal(sys.stdout)
    terminal.attach(show, frames=frames, thinking=events.pipe(ops.thinking()), text=events.pipe(ops.text()))
    final = _first(events.pipe(ops.message()))
    events.connect()
    frames.connect()
    try:
        message = await final
    except (RxClaudeError, OSError) as e:
        print(f"\nrxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    terminal.finish(message, show)
    return 0


def _first(source: Observable[_T]) -> asyncio.Future[_T]:
    """A future for the first value (or the error) of ``source``, subscribed now."""
    future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()

    def on_next(value: _T) -> None:
        if not future.done():
            future.set_result(value)

    def on_error(error: Exception) -> None:
        if not future.done():
            future.set_exception(error)

    source.subscribe(on_next, on_error)
    return future


class _Terminal:
    """Live terminal output: dim thinking, then text, raw frames on request, a usage line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        color = out.isatty()
        self.dim, self.reset = ("\x1b[2m", "\x1b[0m") if color else ("", "")
        self.mode = ""  # "thinking" while thinking is being printed, then "text"

    def write(self, s: str) -> None:
        self.out.write(s)
        self.out.flush()

    def thinking(self, t: str) -> None:
        if self.mode != "thinking":
            self.write(f"{self.dim}[thinking] ")
            self.mode = "thinking"
        self.write(t)

    def text(self, t: str) -> None:
        if self.mode == "thinking":
            self.write(f"{self.reset}\n\n")
        self.mode = "text"
        self.write(t)

    def raw(self, frame: Frame) -> None:
        self.write(f"\n[raw] {frame.event}: {frame.data.strip()}")

    def attach(
        self, show: set[str], *, frames: Observable[Frame], thinking: Observable[str], text: Observable[str]
    ) -> None:
        """Subscribe the sinks ``show`` asks for (errors are reported once, by the caller)."""
        if "raw" in show:
            frames.subscribe(self.raw, _ignore_error)
        if "thinking" in show:
            thinking.subscribe(self.thinking, _ignore_error)
        text.subscribe(self.text, _ignore_error)

    def finish(self, message: Message, show: set[str]) -> None:
        """End the line; print usage when asked."""
        if self.mode == "thinking":
            self.write(self.reset)
        self.write("\n")
        if "usage" in show:
            u = message.usage
            self.write(
                f"[usage] input={u.input_tokens} output={u.output_tokens} "
                f"cache_read={u.cache_read_input_tokens} cache_write={u.cache_creation_input_tokens} "
                f"stop={message.stop_reason}\n"
            )


def _ignore_error(error: Exception) -> None:
    """Subscribers here leave errors to the one place that reports them."""


async def _render(stream: MessageStream, show: set[str], out: TextIO) -> None:
    """Subscribe the terminal sinks, run the stream, print the summary."""
    terminal = _Terminal(out)
    terminal.attach(show, frames=stream.frames, thinking=stream.thinking, text=stream.text)
    async with stream:
        message = await stream.final_message()
    terminal.finish(message, show)


DEMO_TEXT = (
    "Reactive streams let one request feed many consumers. This sentence is arriving token by "
    "token from an embedded mock server that speaks Claude's real wire format: message_start, "
    "content_block_delta, pings, message_delta and message_stop. The same bytes are being "
    "decoded once and fanned out to four sinks at the same time: the thinking and the live text "
    "you are reading, a usage meter, and a recorder that counts raw frames.\n\nPress Ctrl-C to cancel: "
    "the connection closes at once and the partial message is kept."
)


async def _demo(ns: argparse.Namespace) -> int:
    from rxclaude.testing import MockServer, Reply

    out = sys.stdout
    reply = Reply.text(DEMO_TEXT, thinking="The user wants to see fan-out. Show text, usage and frames.")
    if not ns.fast:
        reply = reply.with_faults(tokens_per_second=ns.tokens_per_second, ping_every=0.5)
    async with MockServer(default_reply=reply) as server, Client(api_key=server.api_key, base_url=server.url) as client:
        out.write(f"rxclaude demo: offline, mock Messages API at {server.url}\n\n")
        stream = client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": "Show me fan-out."}]
        )
        frames = 0
        started = time.perf_counter()
        first: list[float] = []

        def count(_: object) -> None:
            nonlocal frames
            frames += 1

        stream.frames.subscribe(count)  # sink 1: frame recorder
        out.write("\x1b[2m[thinking] ")

        def thinking(t: str) -> None:  # sink 2: thinking
            out.write(t)
            out.flush()

        stream.thinking.subscribe(thinking)

        def text(t: str) -> None:  # sink 3: live text
            if not first:
                first.append(time.perf_counter() - started)
                out.write("\x1b[0m\n\n")
            out.write(t)
            out.flush()

        stream.text.subscribe(text)
        usage_lines: list[str] = []
        stream.usage.subscribe(
            lambda u: usage_lines.append(  # sink 4: usage meter
                f"input={u.input_tokens} output={u.output_tokens}"
            )
        )
        try:
            async with stream:
                message = await stream.final_message()
        except RxClaudeError as e:
            print(f"\nrxclaude: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        out.write("\n\n")
        out.write(f"[fan-out] one request (id {stream.request_id}) fed {frames} raw frames to 4 sinks at once\n")
        out.write(f"[usage]   {usage_lines[0]}  ->  {usage_lines[-1]}  ({len(usage_lines)} updates)\n")
        ttft = f"{first[0] * 1000:.0f} ms" if first else "n/a"
        out.write(
            f"[final]   {len(message.content)} blocks, {len(message.text)} chars of text, "
            f"stop_reason={message.stop_reason}, time to first text {ttft}\n"
        )
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
