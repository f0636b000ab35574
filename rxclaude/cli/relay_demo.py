"""``rxclaude relay demo``: two relay nodes sharing one stream through a real Redis, offline.

A private ``redis-server`` (or ``--redis URL``), the embedded mock Messages API as the upstream,
a producer publishing the reply, two relay nodes on two ports, and a viewer that reads half the
stream from node A, drops the connection and resumes on node B with ``Last-Event-ID``; at the end
it checks what it got against the log: every id once, in order, byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import TextIO

import aiohttp
import orjson

from rxclaude.client import Client
from rxclaude.core.errors import RxClaudeError
from rxclaude.relay.log import EventLog

__all__ = ["demo_main"]

_SECRET = "rxclaude-demo-secret-not-for-production"
_TEXT = (
    "One producer holds the API key and publishes this reply to Redis Streams, event by event, with "
    "ids 1, 2, 3 and so on. Two relay nodes read the same stream from Redis and serve it to any "
    "number of viewers. This viewer started on node A; halfway through it drops its connection and "
    "resumes on node B with Last-Event-ID, so it gets every event exactly once, byte for byte."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rxclaude relay demo", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--redis", metavar="URL", help="use this Redis instead of starting a private redis-server")
    p.add_argument("--tokens-per-second", type=float, default=40.0)
    return p


def demo_main(argv: list[str]) -> int:
    """Run the demo; returns the exit status."""
    ns = _parser().parse_args(argv)
    try:
        return asyncio.run(_demo(ns))
    except (RxClaudeError, OSError) as e:
        print(f"rxclaude: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


@contextlib.asynccontextmanager
async def _redis(url: str | None) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    from rxclaude.testing.redis import RedisServer

    with RedisServer() as server:
        yield server.url


async def _frames(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Complete SSE events (with their blank line) as they arrive."""
    buffer = b""
    async for piece in response.content.iter_any():
        buffer += piece
        while (end := buffer.find(b"\n\n")) >= 0:
            yield buffer[: end + 2]
            buffer = buffer[end + 2 :]


async def _demo(ns: argparse.Namespace) -> int:
    from rxclaude.relay.node import RelayNode
    from rxclaude.relay.producer import publish
    from rxclaude.relay.redis_log import RedisLog
    from rxclaude.relay.tokens import make_token
    from rxclaude.testing import MockServer, Reply

    out = sys.stdout
    words = [w + " " for w in _TEXT.split(" ")]
    reply = Reply.text(words, seed=1).with_faults(tokens_per_second=ns.tokens_per_second)
    async with _redis(ns.redis) as url, RedisLog(url) as log_a, RedisLog(url) as log_b, RedisLog(url) as producer_log:
        node_a, node_b = RelayNode(log_a, secret=_SECRET), RelayNode(log_b, secret=_SECRET)
        async with MockServer(default_reply=reply) as api, node_a.serve() as url_a, node_b.serve() as url_b:
            out.write(f"rxclaude relay demo: Redis {url}, mock API {api.url}\n  node A {url_a}\n  node B {url_b}\n\n")
            stream_id = "demo-1"
            async with Client(api_key=api.api_key, base_url=api.url) as client:
                stream = client.messages.stream(
                    model="claude-sonnet-5-5",
                    max_tokens=1024,
                    messages=[{"role": "user", "content": "Show me two nodes."}],
                )
                publication = publish(stream.frames, producer_log, stream_id, heartbeat=0.5)
                stream.connect()
                token = make_token(stream_id, secret=_SECRET, ttl=300)
                got: list[bytes] = []
                last_id = texts = 0
                async with aiohttp.ClientSession() as http:
                    for name, base in (("A", url_a), ("B", url_b)):
                        headers = {"Authorization": f"Bearer {token}"}
                        if last_id:
                            headers["Last-Event-ID"] = str(last_id)
                            out.write(f"\n\x1b[2m[switching to node {name}, Last-Event-ID: {last_id}]\x1b[0m\n")
                        else:
                            out.write(f"\x1b[2m[reading from node {name}]\x1b[0m\n")
                        async with http.get(f"{base}/streams/{stream_id}/events", headers=headers) as response:
                            if response.status != 200:
                                out.write(f"node {name} answered {response.status}: {await response.text()}\n")
                                return 1
                            async for frame in _frames(response):
                                got.append(frame)
                                last_id = int(frame.rsplit(b"\nid: ", 1)[1].strip())
                                _show(frame, out)
                                texts += b"text_delta" in frame
                                if name == "A" and texts >= len(words) // 2:
                                    break
                await stream.final_message()
                await publication
            reference = await _read_all(log_a, stream_id)
    ids = [int(f.rsplit(b"\nid: ", 1)[1].strip()) for f in got]
    ok = got == reference and ids == list(range(1, len(reference) + 1))
    out.write(
        f"\n\n[check] {len(got)} events, ids 1..{ids[-1] if ids else 0}, "
        f"{'no gap, no duplicate, byte-identical to the log' if ok else 'MISMATCH with the log'}\n"
    )
    return 0 if ok else 1


def _show(frame: bytes, out: TextIO) -> None:
    if b"text_delta" not in frame:
        return
    data = frame.split(b"\ndata: ", 1)[1].split(b"\n", 1)[0]
    text = orjson.loads(data)["delta"].get("text", "")
    out.write(text)
    out.flush()


async def _read_all(log: EventLog, stream_id: str) -> list[bytes]:
    chunks: list[bytes] = []
    after = 0
    while True:
        batch = await log.read(stream_id, after)
        if batch is None or not batch.chunks:
            return chunks
        chunks.extend(batch.chunks)
        after = batch.last_id
