"""The processes of ``bench/relay_fanout.py``: one role per process, driven over stdin/stdout.

  memory   --upstream URL --out F     the in-memory ``Relay`` of one upstream stream (one node)
  node     --redis URL                a ``RelayNode`` on Redis (auth off: the bench measures fan-out)
  producer --redis URL --upstream URL --id ID --out F    ``publish()`` of one upstream stream
  viewers  --url URL [--url URL ...] --count N --sample K --out F   N raw-socket viewers

Relays send a ``: keep-alive`` every 0.2 s while idle (aiohttp sends the response head with
the first body bytes, so this is how a viewer knows it is connected). Each prints one line when ready (its URL, or ``ready``), waits for ``go`` on stdin where it has
something to start, prints ``done`` when finished and exits when stdin closes. Times are
``time.monotonic()`` (one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rxclaude import Client, Relay
from rxclaude.relay.node import RelayNode
from rxclaude.relay.producer import publish
from rxclaude.relay.redis_log import RedisLog

KEY = "bench-key-not-a-secret"
PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64000,
    "messages": [{"role": "user", "content": "bench"}],
}


def _last_id(buf: bytes) -> int | None:
    """The id of the last complete event in ``buf``."""
    i = buf.rfind(b"\nid: ")
    while i >= 0:
        j = buf.find(b"\n\n", i + 5)
        if j >= 0 and buf[i + 5 : j].isdigit():
            return int(buf[i + 5 : j])
        i = buf.rfind(b"\nid: ", 0, i)
    return None


async def _line() -> str:
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()


def _stamps(stream: Any) -> list[float]:
    """Record when each frame reached this process (the producer's read)."""
    stamps: list[float] = []
    stream.frames.subscribe(lambda _: stamps.append(time.monotonic()))
    return stamps


async def memory(ns: argparse.Namespace) -> None:
    async with Client(api_key=KEY, base_url=ns.upstream, max_retries=0) as client:
        stream = client.messages.stream(**PARAMS)
        stamps = _stamps(stream)
        relay = Relay(stream.frames, keepalive=0.2, client_queue=100_000, max_clients=100_000)
        async with relay.serve() as url:
            print(url + "/events", flush=True)
            assert await _line() == "go"
            stream.connect()
            await stream.final_message()
            Path(ns.out).write_bytes(orjson.dumps(stamps))
            print("done", flush=True)
            await _line()


async def node(ns: argparse.Namespace) -> None:
    async with RedisLog(ns.redis) as log:
        relay = RelayNode(
            log,
            auth=False,
            read_interval=ns.read_interval,
            keepalive=0.2,
            client_queue=100_000,
            max_clients=100_000,
            max_clients_per_stream=100_000,
        )
        async with relay.serve() as url:
            print(url, flush=True)
            await _line()
            print(orjson.dumps({"reads": relay.stats.reads, "commands": log.commands}).decode(), flush=True)


async def producer(ns: argparse.Namespace) -> None:
    async with RedisLog(ns.redis) as log, Client(api_key=KEY, base_url=ns.upstream, max_retries=0) as client:
        stream = client.messages.stream(**PARAMS)
        stamps = _stamps(stream)
        publication = publish(stream.frames, log, ns.id)
        print("ready", flush=True)
        assert await _line() == "go"
        stream.connect()
        await publication
        Path(ns.out).write_bytes(orjson.dumps({"stamps": stamps, "commands": log.commands}))
        print("done", flush=True)
        await _line()


async def _viewer(url: str, sampled: bool, ready: list[int]) -> tuple[int, list[Any]]:
    host, _, rest = url.removeprefix("http://").partition(":")
    port, _, path = rest.partition("/")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
    writer.write(
        f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"viewer got {head[:40]!r}")
    ready[0] += 1
    arrivals: list[Any] = []
    events = 0
    tail = b""
    while piece := await reader.read(1 << 16):
        now = time.monotonic()
        both = tail + piece
        events += both.count(b"\nid: ") - tail.count(b"\nid: ")
        if sampled and (last := _last_id(both)) is not None:
            arrivals.append((last, now))
        if both.endswith(b"\r\n0\r\n\r\n"):  # the chunked body's end
            break
        tail = both[-8:]
    writer.close()
    return events, arrivals


async def viewers(ns: argparse.Namespace) -> None:
    ready = [0]
    tasks = [asyncio.create_task(_viewer(ns.url[i % len(ns.url)], i % ns.sample == 0, ready)) for i in range(ns.count)]
    while ready[0] < ns.count:
        await asyncio.sleep(0.01)
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()  # type: ignore[misc]
    print("ready", flush=True)
    results = await asyncio.gather(*tasks)
    Path(ns.out).write_bytes(
        orjson.dumps({"events": [r[0] for r in results], "arrivals": [r[1] for r in results if r[1]]})
    )
    print("done", flush=True)
    await _line()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("memory", "node", "producer", "viewers"))
    p.add_argument("--upstream")
    p.add_argument("--redis")
    p.add_argument("--id", default="bench")
    p.add_argument("--out")
    p.add_argument("--url", action="append", default=[])
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--sample", type=int, default=10)
    p.add_argument("--read-interval", type=float, default=0.005)
    ns = p.parse_args()
    asyncio.run({"memory": memory, "node": node, "producer": producer, "viewers": viewers}[ns.role](ns))


if __name__ == "__main__":
    main()
