"""Relay nodes in one process: streams by id from the in-memory log and from a real Redis.

Each test runs against both :class:`MemoryLog` and :class:`RedisLog` (a private ``redis-server``
on a free port) unless it is about Redis itself. Viewers read with aiohttp (raw bytes) or the
official ``anthropic`` SDK. Waits are hang guards only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
import reactivex
from reactivex.subject import Subject

from rxclaude import Client
from rxclaude.core.errors import EventLogError, StreamConflictError, StreamIdError
from rxclaude.core.frame import Frame
from rxclaude.core.sse import SSEDecoder
from rxclaude.relay.log import EventLog, MemoryLog
from rxclaude.relay.node import RelayNode
from rxclaude.relay.producer import publish
from rxclaude.relay.redis_log import RedisLog
from rxclaude.relay.tokens import make_token
from rxclaude.relay.wire import encode_frame
from rxclaude.testing import MockServer, Reply
from rxclaude.testing.redis import RedisServer

from .redis_support import SECRET, event_id, need_redis_server, redis_server, split_events

__all__ = ["redis_server"]

MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
RICH = Reply.text(
    ["Let me ", "check ", "the weather."],
    thinking=["The user ", "wants ", "weather."],
    tool_uses=[{"name": "weather", "input": {"city": "Rome"}}],
    seed=3,
)
_counter = iter(range(1_000_000))


def new_id() -> str:
    return f"s-{next(_counter)}"


async def within(aw: Any, seconds: float = 10.0) -> Any:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await within(poll(), seconds)


def frames_of(reply: Reply) -> list[Frame]:
    decoder = SSEDecoder()
    return [*decoder.feed(b"".join(reply.frames(PARAMS))), *decoder.close()]


def encoded(frames: list[Frame]) -> list[bytes]:
    return [encode_frame(f.event, f.data, n) for n, f in enumerate(frames, 1)]


@pytest.fixture(params=["memory", "redis"])
async def make_log(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., EventLog]]:
    """A factory of logs that share one store: a ``MemoryLog`` (one instance), or ``RedisLog`` connections."""
    logs: list[EventLog] = []
    memory = MemoryLog()
    server = request.getfixturevalue("redis_server") if request.param == "redis" else None

    def factory(**options: Any) -> EventLog:
        nonlocal memory
        if server is None:
            if options:  # a store with other limits, shared from now on
                memory = MemoryLog(**options)
            return memory
        log = RedisLog(server.url, **options)
        logs.append(log)
        return log

    yield factory
    for log in logs:
        await log.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(stream_id: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(stream_id, secret=SECRET)}", **headers}


async def get(http: aiohttp.ClientSession, url: str, stream_id: str, **headers: str) -> tuple[int, bytes]:
    async with http.get(f"{url}/streams/{stream_id}/events", headers=auth(stream_id, **headers)) as response:
        return response.status, await response.read()


async def published(log: EventLog, stream_id: str, frames: list[Frame]) -> int:
    return int(await within(publish(reactivex.from_iterable(frames), log, stream_id)))


# -- serving ------------------------------------------------------------------------------------


async def test_a_stream_by_id_is_the_published_frames_byte_for_byte(make_log: Any, http: Any) -> None:
    log, sid, frames = make_log(), new_id(), frames_of(RICH)
    assert await published(log, sid, frames) == len(frames)
    async with RelayNode(make_log(), secret=SECRET).serve() as url:
        status, body = await get(http, url, sid)
        assert status == 200 and body == b"".join(encoded(frames))
        # caught up on an ended stream: 204 (EventSource stops); past the end: 400
        assert (await get(http, url, sid, **{"Last-Event-ID": str(len(frames))}))[0] == 204
        status, body = await get(http, url, sid, **{"Last-Event-ID": str(len(frames) + 1)})
        assert status == 400 and b"invalid_request_error" in body
        status, body = await get(http, url, sid, **{"Last-Event-ID": "x1"})
        assert status == 400
        status, body = await get(http, url, "no-such-stream")
        assert status == 404 and orjson.loads(body)["error"]["type"] == "not_found_error"
        async with http.get(
            f"{url}/streams/{sid}/events", params={"last_event_id": "3"}, headers=auth(sid)
        ) as response:
            assert await response.read() == b"".join(encoded(frames)[3:])


async def test_live_viewers_on_two_nodes_see_the_same_bytes_and_resume_across_nodes(make_log: Any, http: Any) -> None:
    sid, frames = new_id(), frames_of(RICH)
    subject: Subject[Frame] = Subject()
    publication = publish(subject, make_log(), sid, heartbeat=0.2)
    await asyncio.sleep(0.05)  # the first heartbeat: the stream exists
    node_a, node_b = RelayNode(make_log(), secret=SECRET), RelayNode(make_log(), secret=SECRET)
    async with node_a.serve() as url_a, node_b.serve() as url_b:
        async with (
            http.get(f"{url_a}/streams/{sid}/events", headers=auth(sid)) as ra,
            http.get(f"{url_b}/streams/{sid}/events", headers=auth(sid)) as rb,
        ):
            assert ra.status == rb.status == 200
            half = len(frames) // 2
            for frame in frames[:half]:
                subject.on_next(frame)
            want = b"".join(encoded(frames)[:half])
            got_a = b""
            while len(got_a) < len(want):
                got_a += await within(ra.content.readany())
            assert got_a == want
        # A's viewer went away after event `half`; it resumes on B (which is still live)
        subject.on_next(frames[half])
        status_task = asyncio.create_task(get(http, url_b, sid, **{"Last-Event-ID": str(half)}))
        await asyncio.sleep(0.05)
        for frame in frames[half + 1 :]:
            subject.on_next(frame)
        subject.on_completed()
        status, rest = await within(status_task)
        assert status == 200 and got_a + rest == b"".join(encoded(frames))
        assert await within(publication) == len(frames)


async def test_a_viewer_ahead_of_this_node_gets_only_what_it_lacks(make_log: Any, http: Any) -> None:
    sid, frames = new_id(), frames_of(RICH)
    subject: Subject[Frame] = Subject()
    log = make_log()
    publication = publish(subject, log, sid, heartbeat=0.2)
    await asyncio.sleep(0.05)
    async with RelayNode(make_log(), secret=SECRET, read_interval=0.2).serve() as url:
        viewer = asyncio.create_task(get(http, url, sid, **{"Last-Event-ID": "4"}))  # seen elsewhere already
        await asyncio.sleep(0.05)
        for frame in frames:
            subject.on_next(frame)
        subject.on_completed()
        status, body = await within(viewer)
        assert status == 200 and body == b"".join(encoded(frames)[4:])
    await publication


async def test_upstream_failure_becomes_one_error_event(make_log: Any, http: Any) -> None:
    sid, frames = new_id(), frames_of(RICH)[:4]
    source = reactivex.concat(reactivex.from_iterable(frames), reactivex.throw(OSError("secret path /x")))
    assert await within(publish(source, make_log(), sid)) == 5
    async with RelayNode(make_log(), secret=SECRET).serve() as url:
        _, body = await get(http, url, sid)
    events, rest = split_events(body)
    assert rest == b"" and len(events) == 5 and events[-1].startswith(b"event: error\n")
    assert b"secret" not in events[-1] and b"OSError" in events[-1] and event_id(events[-1]) == 5
    # an upstream error event is relayed as is, never twice
    sid2 = new_id()
    error = Frame("error", '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert await within(publish(reactivex.from_iterable([*frames, error]), make_log(), sid2)) == 5


async def test_a_producer_that_stops_heartbeating_gets_an_error_event_once(make_log: Any, http: Any) -> None:
    sid, frames = new_id(), frames_of(RICH)
    log = make_log()
    await log.heartbeat(sid, 0.3)  # a producer that writes three events, then dies
    await log.append(sid, 1, encoded(frames)[:3])
    nodes = [RelayNode(make_log(), secret=SECRET, heartbeat_check=0.1) for _ in range(2)]
    async with nodes[0].serve() as url_a, nodes[1].serve() as url_b:
        results = await within(asyncio.gather(get(http, url_a, sid), get(http, url_b, sid)))
    (status_a, body_a), (status_b, body_b) = results
    assert status_a == status_b == 200 and body_a == body_b
    events, _ = split_events(body_a)
    assert events[:3] == encoded(frames)[:3] and len(events) == 4
    assert events[3].startswith(b"event: error\n") and event_id(events[3]) == 4
    assert b'"type":"api_error"' in events[3] and b"heartbeat" in events[3]
    with pytest.raises(StreamConflictError):  # the producer comes back: its id is taken
        await log.append(sid, 4, [encoded(frames)[3]])


async def test_a_second_producer_on_the_same_id_is_refused(make_log: Any) -> None:
    sid, frames = new_id(), frames_of(RICH)
    log = make_log()
    await published(log, sid, frames)
    with pytest.raises(StreamConflictError):
        await within(publish(reactivex.from_iterable(frames), log, sid))
    with pytest.raises(StreamIdError):
        publish(reactivex.empty(), log, "bad id!")


async def test_the_official_sdk_reads_a_stream_through_base_url(make_log: Any) -> None:
    async with MockServer(default_reply=RICH) as server, Client(api_key=server.api_key, base_url=server.url) as c:
        stream = c.messages.stream(**PARAMS)
        sid = new_id()
        publication = publish(stream.frames, make_log(), sid)
        stream.connect()
        expected = await within(stream.final_message())
        await within(publication)
    async with RelayNode(make_log(), secret=SECRET).serve() as url:
        sdk = anthropic.AsyncAnthropic(
            auth_token=make_token(sid, secret=SECRET), base_url=f"{url}/streams/{sid}", max_retries=0
        )
        async with sdk.messages.stream(**PARAMS) as s:
            message = await within(s.get_final_message())
        await sdk.close()
    assert [b.type for b in message.content] == [b.type for b in expected.content]
    assert message.content[1].text == "Let me check the weather."  # type: ignore[union-attr]


async def test_no_key_or_header_reaches_the_log_or_a_viewer(redis_server: RedisServer, http: Any) -> None:
    key = "fake-key-that-must-not-leak-0123"  # plainly fake, in no real key format
    async with (
        MockServer(default_reply=RICH, require_key=key) as server,
        Client(api_key=key, base_url=server.url) as c,
        RedisLog(redis_server.url) as log,
    ):
        stream = c.messages.stream(**PARAMS)
        sid = new_id()
        publication = publish(stream.frames, log, sid)
        stream.connect()
        await within(stream.final_message())
        await within(publication)
        import redis.asyncio as aioredis

        raw = aioredis.Redis.from_url(redis_server.url)
        stored = b""
        for name in await raw.keys(f"*{sid}*"):
            stored += name
            if await raw.type(name) == b"stream":
                for _, fields in await raw.xrange(name):
                    stored += b"".join(k + v for k, v in fields.items())
            else:
                stored += await raw.get(name) or b""
        await raw.aclose()
        assert key.encode() not in stored and b"request-id" not in stored.lower() and b"x-api-key" not in stored
        async with (
            RelayNode(log, secret=SECRET).serve() as url,
            http.get(f"{url}/streams/{sid}/events", headers=auth(sid)) as response,
        ):
            headers = {k.lower() for k in response.headers}
            body = await response.read()
        assert not {h for h in headers if h.startswith(("anthropic", "request-id", "x-"))} - {"x-accel-buffering"}
        assert key.encode() not in body


# -- retention ----------------------------------------------------------------------------------


async def test_trimmed_events_give_410_never_a_gap(make_log: Any, http: Any) -> None:
    sid = new_id()
    frames = frames_of(Reply.text([f"t{i} " for i in range(40)], seed=1))
    log = make_log(max_events=20)
    await published(log, sid, frames)
    n = len(frames)
    async with RelayNode(make_log(), secret=SECRET, mirror_events=5).serve() as url:
        status, body = await get(http, url, sid, **{"Last-Event-ID": "2"})
        assert status == 410 and orjson.loads(body)["error"]["type"] == "not_found_error"
        async with http.post(f"{url}/streams/{sid}/v1/messages", headers=auth(sid), json=PARAMS) as response:
            assert response.status == 410  # an SDK needs the whole stream
        status, body = await get(http, url, sid)  # a browser without an id gets what is kept
        events, _ = split_events(body)
        ids = [event_id(e) for e in events]
        assert status == 200 and ids == list(range(n - 19, n + 1))[-len(ids) :] and len(ids) >= 19  # ~20 kept
        # older than the node's in-memory mirror but still in the log: read from the log, no gap
        status, body = await get(http, url, sid, **{"Last-Event-ID": str(n - 15)})
        assert status == 200 and body == b"".join(encoded(frames)[n - 15 :])


async def test_an_expired_stream_is_404(redis_server: RedisServer, http: Any) -> None:
    sid = new_id()
    async with RedisLog(redis_server.url, retention=1) as log:
        await published(log, sid, frames_of(RICH))
        await asyncio.sleep(1.3)  # EXPIRE 1 s
        async with RelayNode(log, secret=SECRET).serve() as url:
            assert (await get(http, url, sid))[0] == 404


# -- Redis outage -------------------------------------------------------------------------------


async def test_redis_stopping_mid_stream_gives_typed_errors_and_leaks_no_task(http: Any) -> None:
    need_redis_server()
    sid = new_id()
    frames = frames_of(RICH)
    with RedisServer() as redis:
        producer_log, node_log = RedisLog(redis.url, timeout=2), RedisLog(redis.url, timeout=2)
        subject: Subject[Frame] = Subject()
        publication = publish(subject, producer_log, sid, heartbeat=0.1)
        node = RelayNode(node_log, secret=SECRET, heartbeat_check=0.1)
        async with node.serve() as url:
            await asyncio.sleep(0.05)
            subject.on_next(frames[0])
            async with http.get(f"{url}/streams/{sid}/events", headers=auth(sid)) as response:
                assert response.status == 200
                first = await within(response.content.readany())
                assert event_id(first) == 1
                redis.stop()
                rest = await within(response.read())
            assert rest.startswith(b"event: error\n") and b"reconnect" in rest and b"id:" not in rest
            subject.on_next(frames[1])
            with pytest.raises(EventLogError):
                await within(publication)
            status, body = await get(http, url, sid)
            assert status == 503 and orjson.loads(body)["error"]["type"] == "api_error"
            await until(lambda: node.stats.streams == 0)
        await producer_log.aclose()
        await node_log.aclose()
    leaked = [t for t in asyncio.all_tasks() if t.get_name().startswith("rxclaude-")]
    assert leaked == []
