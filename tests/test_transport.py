"""The transport against the mock server: timeouts, retries, connection failures, pooling.

Every delay is tiny (``retry-after-ms: 10``, backoff scaled down); time limits only guard
against hangs, nothing asserts how long something took.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest
from aiohttp import web

import rxclaude
from rxclaude import Client, Timeouts
from rxclaude.core.errors import (
    BadRequestError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    FirstByteTimeoutError,
    InternalServerError,
    MalformedEventError,
    OverloadedError,
    RateLimitError,
    StreamCancelledError,
    StreamStalledError,
    TotalTimeoutError,
)
from rxclaude.core.retry import RetryPolicy
from rxclaude.testing import MockServer, Reply

KEY = "fake-key-test-transport-0123456789"
MODEL = "claude-opus-4-7"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005)
LONG = Reply.text([f"tok{i} " for i in range(40)])

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float = 10.0) -> T:
    """Guard against hangs only (never a timing assertion)."""
    return await asyncio.wait_for(aw, seconds)


async def no_tasks(client: Client) -> None:
    for _ in range(200):
        if client.transport.open_requests == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{client.transport.open_requests} request task(s) still running")


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer() as s:
        yield s


def make_client(server: MockServer, **kw: Any) -> Client:
    retry = kw.pop("retry", FAST)
    kw.setdefault("recovery", False)  # these tests pin the transport's own errors (recovery: test_recovery.py)
    client = Client(api_key=KEY, base_url=server.url, **kw)
    client.retry = RetryPolicy(
        max_retries=kw.get("max_retries", 2), initial_delay=retry.initial_delay, max_delay=retry.max_delay
    )
    return client


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[Client]:
    async with make_client(server) as c:
        yield c


async def fail(stream: rxclaude.MessageStream) -> Any:
    """The exception ``final_message()`` raises (typed ``Any``: tests read subclass attributes)."""
    with pytest.raises(Exception) as info:
        await within(stream.final_message())
    return info.value


# -- connecting -------------------------------------------------------------------------------


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


async def test_connect_refused_is_connect_error_and_retried() -> None:
    port = free_port()
    async with Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}", max_retries=1) as client:
        client.retry = RetryPolicy(max_retries=1, initial_delay=0.001)
        stream = client.messages.stream(**PARAMS)
        error = await fail(stream)
        assert isinstance(error, ConnectError)
        assert isinstance(error, ConnectionError) and isinstance(error, rxclaude.TransportError)
        assert str(port) in str(error)
        await no_tasks(client)


async def test_connect_timeout_on_a_full_backlog() -> None:
    """A listener that never accepts, its backlog filled: the SYN goes unanswered (Linux)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(s)
        await asyncio.sleep(0.05)
        timeouts = Timeouts(connect=0.2, first_byte=5.0)
        async with Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0, timeouts=timeouts) as client:
            error = await fail(client.messages.stream(**PARAMS))
            if not isinstance(error, ConnectTimeoutError):
                pytest.skip(f"could not reproduce a connect timeout offline here ({type(error).__name__})")
            assert error.timeout == 0.2
            assert isinstance(error, TimeoutError)
    finally:
        for s in fillers:
            s.close()
        listener.close()


# -- first byte -------------------------------------------------------------------------------


async def test_first_byte_timeout_is_retried_then_raised(server: MockServer) -> None:
    server.enqueue(*[LONG.with_faults(headers_delay=30)] * 3)
    async with make_client(server, timeouts=Timeouts(first_byte=0.2)) as client:
        error = await fail(client.messages.stream(**PARAMS))
        assert isinstance(error, FirstByteTimeoutError)
        assert error.timeout == 0.2
        assert len(server.requests) == 3  # 1 + max_retries
        for record in server.requests:
            await record.wait_disconnected(5)  # each attempt closed its connection
        await no_tasks(client)


async def test_first_byte_timeout_then_success(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(headers_delay=30), LONG)
    async with make_client(server, timeouts=Timeouts(first_byte=0.2)) as client:
        stream = client.messages.stream(**PARAMS)
        message = await within(stream.final_message())
        assert message.text.startswith("tok0 tok1")
        assert len(server.requests) == 2
        assert stream.response is not None and stream.response.retries == 1
        assert stream.request_id == server.requests[1].request_id


async def test_max_retries_zero_means_one_attempt(server: MockServer) -> None:
    server.enqueue(*[LONG.with_faults(headers_delay=30)] * 2)
    async with make_client(server, max_retries=0, timeouts=Timeouts(first_byte=0.2)) as client:
        assert isinstance(await fail(client.messages.stream(**PARAMS)), FirstByteTimeoutError)
        assert len(server.requests) == 1


# -- idle, pings, total -----------------------------------------------------------------------


async def test_idle_stall_mid_stream_is_not_retried_and_keeps_partial(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(stall_after=6), LONG)
    async with make_client(server, timeouts=Timeouts(idle=0.3)) as client:
        stream = client.messages.stream(**PARAMS)
        texts: list[str] = []
        stream.text.subscribe(texts.append, lambda e: None)
        error = await fail(stream)
        assert isinstance(error, StreamStalledError)
        assert error.timeout == 0.3
        assert len(server.requests) == 1
        assert error.partial is not None and error.partial.incomplete
        assert error.partial.text == "".join(texts) != ""
        assert stream.current_message is not None and stream.current_message.text == "".join(texts)
        await server.requests[0].wait_disconnected(5)
        await no_tasks(client)


async def test_pings_keep_the_idle_timer_alive(server: MockServer) -> None:
    # deltas 0.4 s apart (slower than idle=0.3), pings every 0.05 s: the stream succeeds
    slow = Reply.text(["a", "b", "c"]).with_faults(tokens_per_second=2.5, ping_every=0.05)
    server.enqueue(slow)
    async with make_client(server, timeouts=Timeouts(idle=0.3)) as client:
        stream = client.messages.stream(**PARAMS)
        pings: list[Any] = []
        stream.events.subscribe(lambda e: pings.append(e) if e.type == "ping" else None)
        assert (await within(stream.final_message())).text == "abc"
        assert pings  # the pings are events too


async def test_without_pings_the_same_pace_stalls(server: MockServer) -> None:
    server.enqueue(Reply.text(["a", "b", "c"]).with_faults(tokens_per_second=2.5))
    async with make_client(server, timeouts=Timeouts(idle=0.3)) as client:
        assert isinstance(await fail(client.messages.stream(**PARAMS)), StreamStalledError)
        assert len(server.requests) == 1


async def test_total_timeout(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(tokens_per_second=20))
    async with make_client(server, timeouts=Timeouts(total=0.4)) as client:
        stream = client.messages.stream(**PARAMS)
        error = await fail(stream)
        assert isinstance(error, TotalTimeoutError)
        assert error.timeout == 0.4
        assert error.partial is not None and error.partial.incomplete
        assert len(server.requests) == 1
        await server.requests[0].wait_disconnected(5)
        await no_tasks(client)


async def test_total_timeout_covers_retries(server: MockServer) -> None:
    server.enqueue(*[LONG.with_faults(headers_delay=30)] * 10)
    async with make_client(server, max_retries=100, timeouts=Timeouts(first_byte=0.1, total=0.35)) as client:
        error = await fail(client.messages.stream(**PARAMS))
        assert isinstance(error, TotalTimeoutError)
        assert 1 <= len(server.requests) < 10


# -- retries before the first byte ------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitError), (500, InternalServerError), (529, OverloadedError)])
async def test_retryable_status_then_success(server: MockServer, status: int, cls: Any) -> None:
    server.enqueue(Reply.error(status, retry_after_ms=10), Reply.error(status, retry_after="0.01"), LONG)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS)
        assert (await within(stream.final_message())).text.startswith("tok0")
        assert len(server.requests) == 3
        assert stream.status == 200 and stream.response is not None and stream.response.retries == 2
    assert server.requests[0].body == server.requests[1].body == server.requests[2].body  # the same bytes


async def test_the_body_is_encoded_once_and_validation_measures_it(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.enqueue(Reply.error(529, retry_after_ms=10), LONG)
    async with make_client(server) as client:
        encoded: list[bytes] = []
        real = type(client.provider).encode
        monkeypatch.setattr(
            type(client.provider),
            "encode",
            lambda self, params, betas=(): encoded.append(real(self, params, betas)) or encoded[-1],
        )
        await within(client.messages.stream(**PARAMS).final_message())  # two attempts
        assert len(encoded) == 1 and server.requests[-1].body == encoded[0]
        client.provider.max_request_bytes = len(encoded[0]) - 1  # type: ignore[attr-defined]
        with pytest.raises(rxclaude.MediaTooLargeError, match=f"request body is {len(encoded[0])} bytes"):
            client.messages.stream(**PARAMS)  # the limit is checked against the body that would be sent


@pytest.mark.parametrize(
    ("status", "cls", "etype"),
    [
        (429, RateLimitError, "rate_limit_error"),
        (500, InternalServerError, "api_error"),
        (529, OverloadedError, "overloaded_error"),
    ],
)
async def test_retries_exhausted_gives_typed_error(server: MockServer, status: int, cls: Any, etype: str) -> None:
    server.enqueue(*[Reply.error(status, retry_after_ms=10, message="nope")] * 5)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS)
        error = await fail(stream)
        assert type(error) is cls
        assert len(server.requests) == 3  # max_retries=2
        assert error.status_code == status and error.type == etype and error.message == "nope"
        assert error.request_id == server.requests[-1].request_id
        assert not error.in_stream and error.partial is None
        # the failed response is exposed too
        assert stream.status == status and stream.request_id == error.request_id
        assert stream.retry_after == pytest.approx(0.01)


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_max_retries_is_respected(server: MockServer, max_retries: int) -> None:
    server.enqueue(*[Reply.error(529, retry_after_ms=10)] * 6)
    async with make_client(server, max_retries=max_retries) as client:
        assert isinstance(await fail(client.messages.stream(**PARAMS)), OverloadedError)
        assert len(server.requests) == max_retries + 1


async def test_bad_request_is_not_retried(server: MockServer) -> None:
    server.enqueue(Reply.error(400, message="max_tokens: too big"), LONG)
    async with make_client(server) as client:
        error = await fail(client.messages.stream(**PARAMS))
        assert isinstance(error, BadRequestError)
        assert error.status_code == 400 and error.type == "invalid_request_error"
        assert error.message == "max_tokens: too big"
        assert len(server.requests) == 1


async def test_x_should_retry_false_stops_retries(server: MockServer) -> None:
    server.enqueue(Reply.error(529, should_retry=False), LONG)
    async with make_client(server) as client:
        assert isinstance(await fail(client.messages.stream(**PARAMS)), OverloadedError)
        assert len(server.requests) == 1


async def test_x_should_retry_true_forces_a_retry(server: MockServer) -> None:
    server.enqueue(Reply.error(400, should_retry=True, retry_after_ms=10), LONG)
    async with make_client(server) as client:
        assert (await within(client.messages.stream(**PARAMS).final_message())).text.startswith("tok0")
        assert len(server.requests) == 2


async def test_non_json_error_body_is_typed_by_status(server: MockServer) -> None:
    server.enqueue(
        Reply.raw(
            b"<html>502 Bad Gateway</html>", status=502, content_type="text/html", headers={"x-should-retry": "false"}
        )
    )
    async with make_client(server) as client:
        error = await fail(client.messages.stream(**PARAMS))
        assert isinstance(error, rxclaude.ServerError) and error.status_code == 502
        assert "502 Bad Gateway" in str(error)


# -- failures after the first byte: typed, never retried, never duplicated ---------------------


async def test_mid_stream_error_event_is_typed_not_retried_not_duplicated(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(error_after=10), LONG)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS)
        texts: list[str] = []
        errors: list[Exception] = []
        stream.text.subscribe(texts.append, errors.append)
        error = await fail(stream)
        assert isinstance(error, OverloadedError)
        assert errors == [error]  # subscribers get it through on_error
        assert error.in_stream and error.status_code == 200 and error.type == "overloaded_error"
        assert error.request_id == server.requests[0].request_id
        assert len(server.requests) == 1
        joined = "".join(texts)
        assert joined and error.partial.text == joined
        assert len(texts) == len(set(texts))  # every "tokN " once: nothing replayed
        await no_tasks(client)


async def test_connection_reset_mid_stream(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(reset_after_bytes=900), LONG)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS)
        error = await fail(stream)
        assert isinstance(error, ConnectionLostError)
        assert len(server.requests) == 1
        assert server.requests[0].reset
        assert error.partial is None or error.partial.incomplete
        await no_tasks(client)


async def test_malformed_json_mid_stream(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(malformed_after=6), LONG)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS)
        error = await fail(stream)
        assert isinstance(error, MalformedEventError)
        assert error.partial is not None and error.partial.incomplete and error.partial.text
        assert len(server.requests) == 1
        await no_tasks(client)


async def test_ended_without_message_stop(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(close_after=8))
    async with make_client(server) as client:
        error = await fail(client.messages.stream(**PARAMS))
        assert type(error) is rxclaude.IncompleteStreamError
        assert error.partial is not None and error.partial.incomplete


# -- pooling, closing ---------------------------------------------------------------------------


def _peer_recorder(ports: list[int]) -> Any:
    @web.middleware
    async def record_peer(request: web.Request, handler: Any) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        ports.append(peer[1] if peer else -1)
        return await handler(request)

    def plugin(server: MockServer) -> None:
        server.app.middlewares.append(record_peer)

    return plugin


async def test_sequential_requests_reuse_one_pooled_connection() -> None:
    ports: list[int] = []
    async with MockServer(plugins=[_peer_recorder(ports)]) as server, make_client(server) as client:
        session = client.transport.session
        for _ in range(3):
            await within(client.messages.stream(**PARAMS).final_message())
            await no_tasks(client)
        assert client.transport.session is session
        assert len(ports) == 3 and len(set(ports)) == 1, ports


async def test_a_cancelled_stream_does_not_poison_the_pool(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(tokens_per_second=20), LONG)
    async with make_client(server) as client:
        stream = client.messages.stream(**PARAMS).connect()
        await server.wait_requests(1)
        await asyncio.sleep(0.1)
        stream.cancel()
        await server.requests[0].wait_disconnected(5)
        assert (await within(client.messages.stream(**PARAMS).final_message())).text.startswith("tok0")


async def test_dispose_cold_frames_closes_the_connection(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(tokens_per_second=20))
    async with make_client(server) as client:
        frames: list[Any] = []
        sub = client.messages.frames(**PARAMS).subscribe(frames.append, lambda e: None)
        while len(frames) < 4:
            await within(asyncio.sleep(0.01))
        sub.dispose()
        await server.requests[0].wait_disconnected(5)
        await no_tasks(client)
        count = len(frames)
        await asyncio.sleep(0.1)
        assert len(frames) == count  # silence after dispose


async def test_client_close_ends_waiting_streams(server: MockServer) -> None:
    server.enqueue(LONG.with_faults(tokens_per_second=20))
    client = make_client(server)
    stream = client.messages.stream(**PARAMS)
    waiter = asyncio.ensure_future(stream.final_message())
    await server.wait_requests(1)
    await asyncio.sleep(0.1)
    await client.close()
    with pytest.raises(StreamCancelledError) as info:
        await within(waiter)
    assert info.value.partial is None or info.value.partial.incomplete
    await server.requests[0].wait_disconnected(5)
    assert client.transport.open_requests == 0


async def test_client_close_is_idempotent_and_reopens(server: MockServer) -> None:
    client = make_client(server)
    await client.close()  # never used: nothing to close
    await within(client.messages.create(**PARAMS))
    first = client.transport.session
    await client.close()
    await client.close()
    assert first.closed
    await within(client.messages.create(**PARAMS))  # a new pool on next use
    assert client.transport.session is not first
    await client.close()


async def test_subscribing_without_a_loop_errors_cleanly() -> None:
    client = Client(api_key=KEY, base_url="http://127.0.0.1:9")
    errors: list[Exception] = []

    def run() -> None:
        client.messages.frames(**PARAMS).subscribe(on_error=errors.append)

    await asyncio.to_thread(run)
    assert len(errors) == 1 and "asyncio" in str(errors[0])
    await client.close()


# -- RetryPolicy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(6))
def test_backoff_bounds_with_jitter(n: int) -> None:
    policy = RetryPolicy()
    rng = random.Random(n)
    base = min(0.5 * 2**n, 8.0)
    delays = [policy.delay(n, rng=rng) for _ in range(200)]
    assert all(0.75 * base <= d <= base for d in delays)
    assert max(delays) - min(delays) > 0.1 * base  # jitter actually varies


def test_backoff_extremes_of_jitter() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    policy = RetryPolicy()
    assert policy.delay(0, rng=Fixed(0.0)) == 0.5
    assert policy.delay(1, rng=Fixed(0.0)) == 1.0
    assert policy.delay(10, rng=Fixed(0.0)) == 8.0
    assert policy.delay(0, rng=Fixed(0.999999)) == pytest.approx(0.375, rel=1e-4)


def test_retry_after_headers() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, {"retry-after-ms": "10"}) == pytest.approx(0.01)
    assert policy.delay(0, {"Retry-After-Ms": "1500.5"}) == pytest.approx(1.5005)
    assert policy.delay(0, {"retry-after": "3"}) == 3.0
    assert policy.delay(0, {"retry-after": "0.25"}) == 0.25
    # retry-after-ms wins over retry-after
    assert policy.delay(0, {"retry-after-ms": "20", "retry-after": "7"}) == pytest.approx(0.02)
    rng = random.Random(1)
    for bad in (
        {"retry-after": "0"},
        {"retry-after": "-2"},
        {"retry-after": "soon"},
        {"retry-after": "61"},
        {"retry-after-ms": "nan-ish"},
    ):
        d = policy.delay(1, bad, rng=rng)
        assert 0.75 <= d <= 1.0, bad  # falls back to backoff


def test_retry_after_http_date() -> None:
    policy = RetryPolicy()
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    d = policy.delay(0, {"retry-after": email.utils.format_datetime(when, usegmt=True)})
    assert 25 <= d <= 31
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    d = policy.delay(0, {"retry-after": email.utils.format_datetime(past, usegmt=True)}, rng=random.Random(0))
    assert 0.375 <= d <= 0.5  # past dates: backoff
    far = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert policy.delay(0, {"retry-after": far}, rng=random.Random(0)) <= 0.5  # over max_retry_after


def test_should_retry_rules() -> None:
    policy = RetryPolicy()
    for status in (408, 409, 429, 500, 502, 503, 504, 529):
        assert policy.should_retry(status, {})
    for status in (400, 401, 402, 403, 404, 413, 422):
        assert not policy.should_retry(status, {})
    assert policy.should_retry(400, {"X-Should-Retry": "true"})
    assert not policy.should_retry(529, {"x-should-retry": "false"})


def test_retry_after_http_date_without_zone_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    from rxclaude.core.ratelimit import retry_after_seconds

    now = email.utils.parsedate_to_datetime("Tue, 24 Nov 2026 00:00:00 GMT").timestamp()
    monkeypatch.setenv("TZ", "America/New_York")  # local time must not leak into "-0000" dates
    time.tzset()
    try:
        assert retry_after_seconds({"retry-after": "Tue, 24 Nov 2026 00:00:30 -0000"}, now=now) == 30.0
        assert retry_after_seconds({"retry-after": "Tue, 24 Nov 2026 00:00:30 GMT"}, now=now) == 30.0
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_a_session_you_pass_stays_yours(server: MockServer) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        client = Client(api_key=KEY, base_url=server.url, session=session)
        await within(client.messages.create(**PARAMS))
        await client.close()
        assert not session.closed  # not ours to close
        await within(client.messages.create(**PARAMS))  # and still the one used
        assert client.transport.session is session
        await client.close()


def test_one_client_across_two_event_loops() -> None:
    """A Client closed at the end of one asyncio.run() reopens its pool on the next loop."""
    import asyncio

    import rxclaude
    from rxclaude.testing import MockServer, Reply

    with MockServer(default_reply=Reply.text("again")).running_in_thread() as server:
        client = rxclaude.Client(api_key=server.api_key, base_url=server.url)
        params = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}

        async def once() -> str:
            try:
                return (await client.messages.create(**params)).text
            finally:
                await client.close()

        assert asyncio.run(once()) == "again"
        assert asyncio.run(once()) == "again"


async def test_total_timeout_names_the_last_failure() -> None:
    import rxclaude
    from rxclaude.testing import MockServer, Reply

    async with MockServer(default_reply=Reply.error(529, "overloaded_error", "Overloaded", retry_after=5)) as server:
        client = rxclaude.Client(
            api_key=server.api_key, base_url=server.url, max_retries=5, timeouts=rxclaude.Timeouts(total=0.5)
        )
        try:
            stream = client.messages.stream(
                model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
            try:
                await stream.final_message()
            except rxclaude.TotalTimeoutError as e:
                assert isinstance(e.__cause__, rxclaude.OverloadedError)
                assert "OverloadedError" in str(e)
            else:
                raise AssertionError("expected TotalTimeoutError")
        finally:
            await client.close()


async def test_params_may_hold_any_mapping_or_sequence(server: MockServer) -> None:
    from types import MappingProxyType

    server.enqueue(LONG)
    message = MappingProxyType({"role": "user", "content": ({"type": "text", "text": "Hi"},)})
    async with make_client(server) as client:
        await within(client.messages.stream(**{**PARAMS, "messages": (message,)}).final_message())
    assert server.requests[-1].json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
