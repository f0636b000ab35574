"""``rxclaude publish`` and ``rxclaude relay``: streams shared across machines through Redis.

rxclaude publish --redis URL --id ID "prompt" [prompt options]   # the backend with the key
rxclaude relay token --id ID [--ttl S]        # a viewer token (secret: $RXCLAUDE_RELAY_SECRET)
rxclaude relay --redis URL [--host H] [--port N]   # a relay node: GET /streams/{id}/events
rxclaude relay demo                            # offline: mock API, Redis, two nodes, a viewer
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from rxclaude.client import Client
from rxclaude.core.errors import RxClaudeError

if TYPE_CHECKING:
    from rxclaude.relay.redis_log import RedisLog

__all__ = ["publish_main", "relay_main"]


def _log(url: str, ns: argparse.Namespace) -> RedisLog:
    from rxclaude.relay.redis_log import RedisLog

    return RedisLog(url, prefix=ns.prefix, max_events=ns.max_events, retention=ns.retention)


def _log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis", required=True, metavar="URL", help="the Redis (or Valkey) URL, redis://host:port/db")
    p.add_argument("--prefix", default="rxclaude:", help="key prefix (default rxclaude:)")
    p.add_argument("--max-events", type=int, default=100_000, help="events kept per stream (MAXLEN)")
    p.add_argument("--retention", type=float, default=3600.0, help="seconds a stream is kept after its last write")


# -- publish --------------------------------------------------------------------------------------


ClientFor = Callable[[argparse.Namespace], Client]
ContentFor = Callable[[argparse.Namespace, Client], Awaitable[Any]]


def _publish_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.prog = "rxclaude publish"
    p.description = "Stream a reply and publish its frames to Redis under a stream id, for relay nodes to serve."
    _log_options(p)
    p.add_argument("--id", required=True, dest="stream_id", help="the stream id viewers ask relay nodes for")
    p.add_argument(
        "--heartbeat",
        type=float,
        default=1.0,
        help="seconds between heartbeats (viewers get an error within about 4x this if the producer dies)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print the reply's text")
    return p


def publish_main(
    argv: Sequence[str], prompt_parser: argparse.ArgumentParser, client_for: ClientFor, content_for: ContentFor
) -> int:
    """``rxclaude publish``: the main command's prompt options (``prompt_parser``) plus the log's; the exit status.

    ``client_for`` and ``content_for`` make the client and the user turn as the main command does.
    """
    ns = _publish_parser(prompt_parser).parse_args(list(argv))
    try:
        return asyncio.run(_publish(ns, client_for, content_for))
    except ImportError as e:  # no [redis] extra
        print(f"rxclaude: {e}", file=sys.stderr)
        return 1


async def _publish(ns: argparse.Namespace, client_for: ClientFor, content_for: ContentFor) -> int:
    from rxclaude.relay.producer import publish

    log = _log(ns.redis, ns)
    try:
        await log.ping()
        async with client_for(ns) as client:
            params: dict[str, Any] = {
                "model": ns.model,
                "max_tokens": ns.max_tokens,
                "messages": [{"role": "user", "content": await content_for(ns, client)}],
            }
            if ns.system:
                params["system"] = ns.system
            if ns.thinking:
                params["thinking"] = {"type": "enabled", "budget_tokens": ns.thinking}
            stream = client.messages.stream(**params)
            publication = publish(stream.frames, log, ns.stream_id, heartbeat=ns.heartbeat)
            if not ns.quiet:
                stream.text.subscribe(_print, _ignore)
            stream.connect()
            last_id = await publication
            if not ns.quiet:
                sys.stdout.write("\n")
            print(f"[published] {last_id} events to stream {ns.stream_id}", file=sys.stderr)
            return 0
    except (RxClaudeError, OSError, ValueError) as e:
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        await log.aclose()


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _ignore(error: Exception) -> None:
    """The publication reports errors (once)."""


# -- relay ----------------------------------------------------------------------------------------


def _relay_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude relay",
        description="A relay node: serve streams published to Redis, by id, to browsers and SDKs "
        "(GET /streams/{id}/events, POST /streams/{id}/v1/messages). Subcommands: token, demo.",
    )
    _log_options(p)
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="the port (0: a free one; default 8765)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name to serve besides the loopback names (repeat)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an exact origin allowed to read from a page, e.g. https://app.example.com (repeat)",
    )
    p.add_argument("--max-clients", type=int, default=4096, help="streaming responses per node")
    p.add_argument("--max-clients-per-stream", type=int, default=1024, help="streaming responses per stream")
    p.add_argument("--heartbeat-check", type=float, default=1.0, help="seconds between producer-heartbeat checks")
    p.add_argument("--no-auth", action="store_true", help="serve without viewer tokens (trusted networks only)")
    return p


def _token_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxclaude relay token", description="Print a viewer token for one stream (secret: $RXCLAUDE_RELAY_SECRET)."
    )
    p.add_argument("--id", required=True, dest="stream_id", help="the stream id")
    p.add_argument("--ttl", type=float, default=3600.0, help="seconds the token is valid (default 3600)")
    return p


def relay_main(argv: Sequence[str]) -> int:
    """``rxclaude relay [token|demo]``: returns the exit status."""
    args = list(argv)
    try:
        if args and args[0] == "token":
            ns = _token_parser().parse_args(args[1:])
            from rxclaude.relay.log import check_stream_id
            from rxclaude.relay.tokens import make_token

            print(make_token(check_stream_id(ns.stream_id), ttl=ns.ttl))
            return 0
        if args and args[0] == "demo":
            from rxclaude.cli.relay_demo import demo_main

            return demo_main(args[1:])
        return asyncio.run(_serve(_relay_parser().parse_args(args)))
    except (RxClaudeError, ValueError, ImportError) as e:
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


async def _serve(ns: argparse.Namespace) -> int:
    from rxclaude.relay.node import RelayNode
    from rxclaude.relay.security import DEFAULT_ALLOWED_HOSTS

    log = _log(ns.redis, ns)
    try:
        await log.ping()
        node = RelayNode(
            log,
            auth=not ns.no_auth,
            allowed_hosts=(*DEFAULT_ALLOWED_HOSTS, *ns.allow_host, ns.host),
            cors_origins=ns.cors_origin,
            max_clients=ns.max_clients,
            max_clients_per_stream=ns.max_clients_per_stream,
            heartbeat_check=ns.heartbeat_check,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with node.serve(ns.host, ns.port) as url:
            print(f"rxclaude relay: serving {url}/streams/{{id}}/events (pid {os.getpid()})", flush=True)
            await stop.wait()
        return 0
    except (RxClaudeError, OSError) as e:
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        await log.aclose()
