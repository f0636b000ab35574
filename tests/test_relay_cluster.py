"""Relay nodes as real processes: a producer process, two ``rxclaude relay`` processes, Redis, many viewers.

Everything runs on 127.0.0.1: a private ``redis-server`` (started by the test), the embedded mock
Messages API in the test process, ``rxclaude publish`` and ``rxclaude relay`` as child processes
(started with this interpreter), and viewers reading with aiohttp. Waits are hang guards only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from rxclaude.relay.redis_log import RedisLog
from rxclaude.relay.tokens import make_token
from rxclaude.testing import MockServer, Reply
from rxclaude.testing.redis import RedisServer

from .redis_support import SECRET, event_id, need_redis_server, redis_server, split_events

__all__ = ["redis_server"]

MODEL = "claude-opus-4-7"
CLI = [sys.executable, "-c", "import sys; from rxclaude.cli import main; sys.exit(main())"]
ENV = {**os.environ, "RXCLAUDE_RELAY_SECRET": SECRET}


async def within(aw: Any, seconds: float = 20.0) -> Any:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


@asynccontextmanager
async def node(redis_url: str, *extra: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """An ``rxclaude relay`` process on a free port; yields it and its base URL."""
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "relay",
        "--redis",
        redis_url,
        "--port",
        "0",
        "--heartbeat-check",
        "0.2",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        line = (await within(proc.stdout.readline(), 30)).decode()
        assert line.startswith("rxclaude relay: serving http://127.0.0.1:"), line
        yield proc, line.split("serving ", 1)[1].split("/streams", 1)[0]
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def producer(redis_url: str, api: MockServer, stream_id: str) -> asyncio.subprocess.Process:
    """``rxclaude publish`` against the mock API, heartbeat 0.2 s."""
    return await asyncio.create_subprocess_exec(
        *CLI,
        "publish",
        "--redis",
        redis_url,
        "--id",
        stream_id,
        "--base-url",
        api.url,
        "--heartbeat",
        "0.2",
        "--quiet",
        "-m",
        MODEL,
        "Hi",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**ENV, "ANTHROPIC_API_KEY": api.api_key},
    )


async def wait_for_stream(log: RedisLog, stream_id: str) -> None:
    async def poll() -> None:
        while await log.read(stream_id, 0) is None:
            await asyncio.sleep(0.02)

    await within(poll())


async def log_events(log: RedisLog, stream_id: str) -> list[bytes]:
    """Every event of a stream, straight from Redis."""
    chunks: list[bytes] = []
    after = 0
    while (batch := await log.read(stream_id, after)) is not None and batch.chunks:
        chunks.extend(batch.chunks)
        after = batch.last_id
    return chunks


class Viewer:
    """Reads a stream from a list of nodes: on a dropped connection it resumes on the next one."""

    def __init__(self, http: aiohttp.ClientSession, stream_id: str, bases: list[str]) -> None:
        self.http = http
        self.stream_id = stream_id
        self.bases = bases
        self.events: list[bytes] = []
        self.switches = 0
        self.statuses: list[int] = []

    async def run(self) -> list[bytes]:
        token = make_token(self.stream_id, secret=SECRET, ttl=120)
        for base in self.bases:
            headers = {"Authorization": f"Bearer {token}"}
            if self.events:
                headers["Last-Event-ID"] = str(event_id(self.events[-1]))
            rest = b""
            try:
                async with self.http.get(f"{base}/streams/{self.stream_id}/events", headers=headers) as response:
                    self.statuses.append(response.status)
                    if response.status != 200:
                        return self.events
                    async for piece in response.content.iter_any():
                        events, rest = split_events(rest + piece)
                        self.events += events
                return self.events  # a clean end of the body: the stream is over
            except (aiohttp.ClientError, ConnectionError):
                self.switches += 1  # the node died mid-body: the incomplete rest is dropped
        return self.events


def paced(deltas: int, rate: float) -> Reply:
    return Reply.text([f"w{i} " for i in range(deltas)], seed=7).with_faults(tokens_per_second=rate)


async def test_sigkill_a_relay_node_viewers_resume_on_the_other_byte_identical() -> None:
    need_redis_server()
    with RedisServer() as redis:
        async with (
            MockServer(default_reply=paced(400, 120)) as api,
            RedisLog(redis.url) as log,
            node(redis.url) as (proc_a, url_a),
            node(redis.url) as (_, url_b),
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        ):
            pub = await producer(redis.url, api, "cluster-1")
            await wait_for_stream(log, "cluster-1")
            viewers = [Viewer(http, "cluster-1", [url_a, url_b]) for _ in range(50)]
            tasks = [asyncio.create_task(v.run()) for v in viewers]

            async def all_started() -> None:
                while min(len(v.events) for v in viewers) < 20:
                    await asyncio.sleep(0.01)

            await within(all_started())
            proc_a.send_signal(signal.SIGKILL)  # mid-stream: the producer is still far from the end
            await within(asyncio.gather(*tasks), 60)
            assert await within(pub.wait()) == 0, (await pub.stderr.read()).decode() if pub.stderr else ""
            reference = await log_events(log, "cluster-1")
    assert len(reference) > 400 and b"message_stop" in reference[-1]
    for viewer in viewers:
        assert viewer.switches == 1 and viewer.statuses == [200, 200]
        assert viewer.events == reference  # byte-identical: no gap, no duplicate
        assert [event_id(e) for e in viewer.events] == list(range(1, len(reference) + 1))


async def test_sigkill_the_producer_viewers_get_an_error_event() -> None:
    need_redis_server()
    with RedisServer() as redis:
        async with (
            MockServer(default_reply=paced(5000, 100)) as api,
            RedisLog(redis.url) as log,
            node(redis.url) as (_, url_a),
            node(redis.url) as (_, url_b),
            aiohttp.ClientSession() as http,
        ):
            pub = await producer(redis.url, api, "cluster-2")
            await wait_for_stream(log, "cluster-2")
            viewers = [Viewer(http, "cluster-2", [url]) for url in (url_a, url_b) for _ in range(5)]
            tasks = [asyncio.create_task(v.run()) for v in viewers]

            async def started() -> None:
                while min(len(v.events) for v in viewers) < 5:
                    await asyncio.sleep(0.01)

            await within(started())
            pub.send_signal(signal.SIGKILL)
            await pub.wait()
            await within(asyncio.gather(*tasks), 15)  # heartbeat 0.2 s: the error comes within about a second
            reference = await log_events(log, "cluster-2")
    last = reference[-1]
    assert last.startswith(b"event: error\n")
    body = orjson.loads(last.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    assert body == {"type": "error", "error": {"type": "api_error", "message": body["error"]["message"]}}
    assert "heartbeat" in body["error"]["message"]
    assert sum(b"event: error" in e for e in reference) == 1  # both nodes noticed; only one wrote it
    for viewer in viewers:
        assert viewer.events == reference


async def test_redis_stops_mid_stream_producer_and_viewers_get_typed_errors() -> None:
    need_redis_server()
    redis = RedisServer()
    with redis:
        async with (
            MockServer(default_reply=paced(5000, 100)) as api,
            RedisLog(redis.url) as log,
            node(redis.url) as (proc_a, url_a),
            aiohttp.ClientSession() as http,
        ):
            pub = await producer(redis.url, api, "cluster-3")
            await wait_for_stream(log, "cluster-3")
            viewers = [Viewer(http, "cluster-3", [url_a]) for _ in range(5)]
            tasks = [asyncio.create_task(v.run()) for v in viewers]

            async def started() -> None:
                while min(len(v.events) for v in viewers) < 5:
                    await asyncio.sleep(0.01)

            await within(started())
            redis.stop()
            assert await within(pub.wait()) == 1
            assert pub.stderr is not None
            assert "EventLogError" in (await pub.stderr.read()).decode()
            await within(asyncio.gather(*tasks))
            for viewer in viewers:
                last = viewer.events[-1]
                assert last.startswith(b"event: error\n") and event_id(last) is None  # no id: resume later
                assert b"reconnect" in last
            token = make_token("cluster-3", secret=SECRET)
            async with http.get(f"{url_a}/streams/cluster-3/events", params={"token": token}) as response:
                assert response.status == 503
                assert (await response.json())["error"]["type"] == "api_error"
            assert proc_a.returncode is None  # the node lives on


async def test_cli_relay_token_prints_a_token_for_the_stream() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "relay",
        "token",
        "--id",
        "chat-9",
        "--ttl",
        "60",
        stdout=asyncio.subprocess.PIPE,
        env=ENV,
    )
    out, _ = await within(proc.communicate())
    from rxclaude.relay.tokens import verify_token

    verify_token(out.decode().strip(), "chat-9", secret=SECRET)
    bad = await asyncio.create_subprocess_exec(
        *CLI,
        "relay",
        "token",
        "--id",
        "chat-9",
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in ENV.items() if k != "RXCLAUDE_RELAY_SECRET"},
    )
    _, err = await within(bad.communicate())
    assert bad.returncode == 1 and b"TokenError" in err and b"RXCLAUDE_RELAY_SECRET" in err


async def test_the_readme_two_node_demo_runs_offline() -> None:
    need_redis_server()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "relay", "demo", "--tokens-per-second", "400", stdout=asyncio.subprocess.PIPE, env=ENV
    )
    out, _ = await within(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "[switching to node B, Last-Event-ID: " in text
    assert "no gap, no duplicate, byte-identical to the log" in text
