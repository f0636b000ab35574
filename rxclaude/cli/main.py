"""The ``rxclaude`` command: stream a reply live, or run the offline demo.

    rxclaude "Why is the sky blue?" --show usage,thinking
    rxclaude demo                      # offline: embedded mock server, one request, many sinks
    rxclaude record "Hi" -o run.jsonl  # stream live and record the raw frames with their timing
    rxclaude replay run.jsonl --speed 2   # re-run a recording (or any .sse file) offline
    rxclaude files upload|list|download|delete ...
    rxclaude run prompts.jsonl -o results.jsonl   # many requests, one rate-limit budget, resumable
    rxclaude batch submit|status|results|list|cancel|delete ...   # the Message Batches API
    rxclaude publish --redis URL --id ID "Hi"   # publish a reply to Redis; relay nodes serve it
    rxclaude relay --redis URL | relay token --id ID | relay demo   (see rxclaude.cli.relay)

Ctrl-C cancels the request (the connection is closed at once, the partial reply is kept);
errors print one line (on a line of their own) and exit non-zero; bad flags exit 2. The API
key comes from ``ANTHROPIC_API_KEY`` and is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO, TypeVar
from urllib.parse import urlsplit

import orjson
from reactivex import Observable

from rxclaude.client import Client
from rxclaude.core.blocks import ContentBlock, MCPToolUseBlock, ServerToolUseBlock, ToolUseBlock
from rxclaude.core.errors import ConfigurationError, RxClaudeError
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message
from rxclaude.core.models import DEFAULT_MODEL as _NEWEST
from rxclaude.core.models import find_model
from rxclaude.core.versions import API_VERSIONS, AUTH_SCHEMES, EFFORTS
from rxclaude.stream import MessageStream

__all__ = ["main"]

_T = TypeVar("_T")

DEFAULT_MODEL = os.environ.get("RXCLAUDE_MODEL", _NEWEST)
PROVIDER_CHOICES = ("anthropic", "bedrock", "vertex", "foundry", "bedrock-mantle", "aws", "google-cloud")
"""``--provider`` values (:data:`rxclaude.cloud.PROVIDERS`, listed here so ``--help`` stays import-light)."""
_OWN_MODEL_IDS = ("bedrock", "vertex", "bedrock-mantle")  # platforms whose model ids are not first-party
SUBCOMMANDS = ("demo", "record", "replay", "files", "run", "batch", "publish", "relay")
SHOW = ("usage", "thinking", "raw")
_COMMANDS_HELP = """commands:
  rxclaude PROMPT [options]        stream a reply live (this help)
  rxclaude demo                    offline demo: embedded mock server, one request, many sinks
  rxclaude record PROMPT -o FILE   stream a reply and record its raw frames with their timing
  rxclaude replay FILE             re-run a recording (or any .sse file) offline
  rxclaude files upload|list|info|download|delete ...   the Files API
  rxclaude run PROMPTS.jsonl -o RESULTS.jsonl   many requests under one rate-limit budget (resumes)
  rxclaude batch submit|status|results|list|cancel|delete ...   the Message Batches API
  rxclaude publish --redis URL --id ID PROMPT   publish a reply to Redis; relay nodes serve it
  rxclaude relay --redis URL | relay token --id ID | relay demo   relay nodes across machines

`rxclaude COMMAND --help` tells more."""


def _show(value: str) -> set[str]:
    """``--show``: a comma-separated subset of :data:`SHOW` (anything else is a usage error)."""
    items = {s.strip() for s in value.split(",") if s.strip()}
    unknown = sorted(items - set(SHOW))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown value {', '.join(unknown)} (choose from {', '.join(SHOW)})")
    return items


def _base_url(value: str) -> str:
    """``--base-url``: an http(s) URL."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL, e.g. https://api.anthropic.com")
    return value


def _api_root(value: str, flag: str) -> str:
    """A first-party base URL is the API's root: ``/v1/messages`` is added to it (hint on ``/v1``)."""
    _base_url(value)
    if urlsplit(value).path.rstrip("/").endswith("/v1"):
        root = value.rstrip("/").removesuffix("/v1")
        raise argparse.ArgumentTypeError(
            f"{value!r} ends in /v1, but rxclaude adds /v1/messages itself: use {flag} {root}"
        )
    return value


def _thinking(value: str) -> int | str:
    """``--thinking``: ``adaptive``, or a token budget of at least 1024 (the API's minimum)."""
    if value == "adaptive":
        return value
    try:
        budget = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither 'adaptive' nor a number of tokens") from None
    if budget < 1024:
        raise argparse.ArgumentTypeError(f"the thinking budget must be at least 1024 tokens, got {budget}")
    return budget


def _prompt_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude",
        description="Stream a Claude reply live to the terminal.",
        epilog=_COMMANDS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("prompt", help="the user message ('-' reads standard input)")
    p.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument("--max-tokens", type=int, default=1024, help="the reply's token limit (default 1024)")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument(
        "--thinking",
        type=_thinking,
        metavar="adaptive|BUDGET",
        help="think first: 'adaptive' (newer models), or a budget in tokens (models with manual thinking; "
        "--max-tokens is raised to leave the reply its room)",
    )
    p.add_argument("--effort", choices=EFFORTS, help="output_config.effort (with --thinking adaptive)")
    p.add_argument(
        "--anthropic-version",
        help=f"{' or '.join(API_VERSIONS)} (default: RXCLAUDE_ANTHROPIC_VERSION, else {API_VERSIONS[0]})",
    )
    p.add_argument(
        "--auth",
        choices=AUTH_SCHEMES,
        help="send the key as x-api-key or Authorization: Bearer (default RXCLAUDE_AUTH or x-api-key)",
    )
    p.add_argument("--show", type=_show, default=set(), help="extra streams to show: usage,thinking,raw")
    p.add_argument("--image", action="append", default=[], metavar="PATH|URL|file_id", help="attach an image")
    p.add_argument("--pdf", action="append", default=[], metavar="PATH|URL|file_id", help="attach a PDF")
    p.add_argument("--file", action="append", default=[], metavar="file_id", help="attach an uploaded file")
    p.add_argument(
        "--base-url",
        type=_base_url,
        help="API base URL, without /v1 for the first-party API (default ANTHROPIC_BASE_URL or the real API)",
    )
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
    p.add_argument("--show", type=_show, default=set(), help="extra streams to show: usage,thinking,raw")
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
            return asyncio.run(_prompt(_checked(_record_parser(), args[1:])))
        if args and args[0] == "replay":
            return asyncio.run(_replay(_replay_parser().parse_args(args[1:])))
        if args and args[0] in ("run", "batch"):
            from rxclaude.cli import batch, run

            return (run.main if args[0] == "run" else batch.main)(args[1:])
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
        return asyncio.run(_prompt(_checked(_prompt_parser(), args)))
    except KeyboardInterrupt:
        print("\n[cancelled]", file=sys.stderr)
        return 130


def _checked(parser: argparse.ArgumentParser, args: Sequence[str]) -> argparse.Namespace:
    """Parse, then make ``--thinking`` and ``--max-tokens`` a request the API accepts (or exit 2).

    A budget must stay below ``max_tokens``: a smaller ``--max-tokens`` is raised to the budget
    plus ``--max-tokens`` (the reply's own room), within the model's output limit.
    """
    ns = parser.parse_args(args)
    ns.raised_max_tokens = None
    if ns.provider == "anthropic":
        try:
            if ns.base_url is not None:
                _api_root(ns.base_url, "--base-url")
            elif os.environ.get("ANTHROPIC_BASE_URL"):
                _api_root(os.environ["ANTHROPIC_BASE_URL"], "ANTHROPIC_BASE_URL=")
        except argparse.ArgumentTypeError as e:
            parser.error(str(e))
    if ns.thinking is None:
        return ns
    info = find_model(ns.model)
    if ns.thinking == "adaptive":
        if info is not None and "adaptive" not in info.thinking:
            parser.error(f"{ns.model} has no adaptive thinking: give a budget instead, e.g. --thinking 2000")
        return ns
    budget = int(ns.thinking)
    if info is not None and "enabled" not in info.thinking:
        parser.error(f"{ns.model} decides how long to think by itself: use --thinking adaptive")
    if ns.max_tokens <= budget:
        limit = info.max_output_tokens if info is not None else None
        raised = budget + ns.max_tokens if limit is None else min(budget + ns.max_tokens, limit)
        if raised <= budget:
            parser.error(f"a thinking budget of {budget} leaves no room for a reply within {ns.model}'s {limit} tokens")
        ns.max_tokens = ns.raised_max_tokens = raised
    return ns


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
    show: set[str] = ns.show
    if ns.provider in _OWN_MODEL_IDS and ns.model == DEFAULT_MODEL:
        print(
            f"rxclaude: --provider {ns.provider} needs -m/--model with that platform's model id "
            "(e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0, anthropic.claude-opus-4-7 or "
            "claude-haiku-4-5@20251001)",
            file=sys.stderr,
        )
        return 2
    if ns.raised_max_tokens is not None:
        print(f"[note] --max-tokens raised to {ns.max_tokens}: the thinking budget counts toward it", file=sys.stderr)
    terminal = _Terminal(sys.stdout)
    try:
        async with _client(ns) as client:
            params: dict[str, Any] = {
                "model": ns.model,
                "max_tokens": ns.max_tokens,
                "messages": [{"role": "user", "content": await _message_content(ns, client)}],
            }
            if ns.system:
                params["system"] = ns.system
            if ns.thinking == "adaptive":
                params["thinking"] = {"type": "adaptive"}
            elif ns.thinking is not None:
                params["thinking"] = {"type": "enabled", "budget_tokens": ns.thinking}
            if ns.effort:
                params["output_config"] = {"effort": ns.effort}
            stream = client.messages.stream(**params)
            handle = None
            if getattr(ns, "output", None):
                from rxclaude.sinks import record

                handle = record(stream.frames, ns.output, meta={"model": ns.model}, outcome=stream)
            try:
                await _render(stream, show, terminal)
            finally:
                if handle is not None and handle.done:
                    terminal.break_line()
                    how = "" if handle.error is None and not stream.cancelled else f" ({_ending(stream)})"
                    print(f"[recorded] {handle.result} frames -> {ns.output}{how}", file=sys.stderr)
        return 0
    except (RxClaudeError, OSError, ValueError, ImportError) as e:
        terminal.break_line()
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def _ending(stream: MessageStream) -> str:
    return "cancelled" if stream.cancelled else f"ended by {type(stream.error).__name__}"


def _client(ns: argparse.Namespace) -> Client:
    """The client for ``--provider`` (first-party by default)."""
    from rxclaude.cloud import client_for

    options: dict[str, Any] = {"workspace_id": ns.workspace_id} if ns.workspace_id else {}
    if ns.provider == "anthropic":
        options.update(anthropic_version=ns.anthropic_version, auth=ns.auth)
    elif ns.anthropic_version or ns.auth:
        raise ConfigurationError("--anthropic-version and --auth are for --provider anthropic")
    return client_for(ns.provider, region=ns.region, project_id=ns.project_id, base_url=ns.base_url, **options)


async def _replay(ns: argparse.Namespace) -> int:
    from rxclaude import operators as ops
    from rxclaude.core.recording import recorded_end
    from rxclaude.transport.replay import replay

    show: set[str] = ns.show
    frames = replay(ns.path, speed=ns.speed if ns.speed > 0 else None).pipe(ops.broadcast())
    events = frames.pipe(ops.parse(), ops.broadcast())
    terminal = _Terminal(sys.stdout)
    terminal.attach(
        show,
        frames=frames,
        thinking=events.pipe(ops.thinking()),
        text=events.pipe(ops.text()),
        blocks=events.pipe(ops.blocks()),
    )
    final = _first(events.pipe(ops.message(incomplete="emit")))
    events.connect()
    frames.connect()
    try:
        message = await final  # a recording that ended early gives its partial message
    except (RxClaudeError, OSError) as e:
        terminal.break_line()
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    terminal.finish(message, show)
    if message.incomplete:
        end = recorded_end(ns.path)
        how = "no end line (cut off)" if end is None else str(end.get("end"))
        if end is not None and isinstance(end.get("error"), dict):
            how += f": {end['error'].get('type')}: {end['error'].get('message')}"
        print(f"[incomplete] the recorded stream ended before message_stop ({how})", file=sys.stderr)
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
    """Live terminal output: dim thinking, then text, tool calls, raw frames on request, a usage line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        color = out.isatty()
        self.dim, self.reset = ("\x1b[2m", "\x1b[0m") if color else ("", "")
        self.mode = ""  # "thinking" while thinking is being printed, then "text"
        self.at_line_start = True

    def write(self, s: str) -> None:
        if not s:
            return
        self.out.write(s)
        self.out.flush()
        self.at_line_start = s.endswith("\n")

    def break_line(self) -> None:
        """End a partly written line, so that what follows (an error) starts on its own line."""
        if self.mode == "thinking":
            self.write(self.reset)
            self.mode = ""
        if not self.at_line_start:
            self.write("\n")

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

    def block(self, block: ContentBlock) -> None:
        """A tool call, once its input is complete: name and input (server and MCP tools say so)."""
        if isinstance(block, ToolUseBlock):
            name = block.name
        elif isinstance(block, ServerToolUseBlock):
            name = f"{block.name} (server tool)"
        elif isinstance(block, MCPToolUseBlock):
            name = f"{block.server_name}/{block.name} (MCP)"
        else:
            return
        self.break_line()
        self.write(f"[tool] {name} {orjson.dumps(block.input, default=dict).decode()}\n")

    def raw(self, frame: Frame) -> None:
        self.write(f"\n[raw] {frame.event}: {frame.data.strip()}")

    def attach(
        self,
        show: set[str],
        *,
        frames: Observable[Frame],
        thinking: Observable[str],
        text: Observable[str],
        blocks: Observable[ContentBlock],
    ) -> None:
        """Subscribe the sinks ``show`` asks for (errors are reported once, by the caller)."""
        if "raw" in show:
            frames.subscribe(self.raw, _ignore_error)
        if "thinking" in show:
            thinking.subscribe(self.thinking, _ignore_error)
        text.subscribe(self.text, _ignore_error)
        blocks.subscribe(self.block, _ignore_error)

    def finish(self, message: Message, show: set[str]) -> None:
        """End the line; print usage when asked."""
        self.break_line()
        if "usage" in show:
            u = message.usage
            self.write(
                f"[usage] input={u.input_tokens} output={u.output_tokens} "
                f"cache_read={u.cache_read_input_tokens} cache_write={u.cache_creation_input_tokens} "
                f"stop={message.stop_reason}\n"
            )


def _ignore_error(error: Exception) -> None:
    """Subscribers here leave errors to the one place that reports them."""


async def _render(stream: MessageStream, show: set[str], terminal: _Terminal) -> None:
    """Subscribe the terminal sinks, run the stream, print the summary."""
    terminal.attach(show, frames=stream.frames, thinking=stream.thinking, text=stream.text, blocks=stream.blocks)
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
            model=_NEWEST, max_tokens=1024, messages=[{"role": "user", "content": "Show me fan-out."}]
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
        except asyncio.CancelledError:  # Ctrl-C: the connection is closed, the partial message kept
            partial = stream.current_message
            out.write("\x1b[0m\n\n")
            if partial is not None:
                out.write(
                    f"[cancelled] kept the partial message: {len(partial.text)} chars of text, "
                    f"incomplete={partial.incomplete}, output_tokens={partial.usage.output_tokens}\n"
                )
            out.flush()
            raise
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
