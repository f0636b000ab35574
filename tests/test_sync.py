"""SyncClient: the blocking facade on a background loop thread; Ctrl-C and leaving ``with`` cancel;
no thread or socket is left behind."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import rxclaude
from rxclaude import operators as ops
from rxclaude.core.errors import BadRequestError, ContentError, OverloadedError
from rxclaude.testing import MockServer, Reply

MODEL = "claude-sonnet-4-5"
PARAMS: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
LONG = " ".join(f"word{i}" for i in range(400))


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer().running_in_thread() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(server: MockServer) -> Iterator[None]:
    server.reset()
    yield
    eventually(lambda: not _loop_threads(), "a loop thread was left running")
    eventually(lambda: server.open_connections == 0, "a connection was left open")


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rxclaude-sync-loop"]


def eventually(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Wait for a state another thread reaches (a hang guard, never a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def client_for(server: MockServer) -> rxclaude.SyncClient:
    return rxclaude.SyncClient(api_key=server.api_key, base_url=server.url)


def test_text_stream_and_final_message(server: MockServer) -> None:
    server.enqueue(Reply.text("Hello there, how are you today?"))
    with client_for(server) as client:
        assert len(_loop_threads()) == 1
        with client.messages.stream(**PARAMS) as stream:
            pieces = list(stream.text_stream)
            message = stream.final_message()
        assert len(pieces) > 1 and "".join(pieces) == message.text == "Hello there, how are you today?"
        assert stream.final_text() == message.text and stream.request_id == server.last_request.request_id
        assert stream.usage_so_far is not None and stream.usage_so_far.output_tokens > 0
    assert not _loop_threads()


def test_events_iterate_in_order(server: MockServer) -> None:
    server.enqueue(Reply.text("Hi!", thinking="Say hi."))
    with client_for(server) as client, client.messages.stream(**PARAMS) as stream:
        kinds = [type(e).__name__ for e in stream]
    assert kinds[0] == "MessageStartEvent" and kinds[-1] == "MessageStopEvent"
    assert "ContentBlockDeltaEvent" in kinds


def test_create_and_several_requests_on_one_client(server: MockServer) -> None:
    server.enqueue(Reply.text("one"), Reply.text("two"))
    with client_for(server) as client:
        assert client.messages.create(**PARAMS).text == "one"
        with client.messages.stream(**PARAMS) as stream:
            assert stream.final_text() == "two"
    assert len(server.requests) == 2


def test_rx_pipelines_through_iterate(server: MockServer) -> None:
    class Reply_(BaseModel):
        answer: int

    server.enqueue(Reply.structured({"answer": 42}))
    params = {**PARAMS, "output_config": {"format": rxclaude.output_format(Reply_)}}
    with client_for(server) as client:
        stream = client.messages.stream(**params)
        outputs = stream.iterate(lambda s: s.text.pipe(ops.partial_output(Reply_)))
        with stream:
            values = [o.value for o in outputs]
    assert values[-1] == Reply_(answer=42) and values[0] == {}


def test_errors_are_raised_typed(server: MockServer) -> None:
    server.enqueue(Reply.error(400, message="bad thing"), Reply.text(LONG).with_faults(error_after=6))
    with client_for(server) as client:
        with pytest.raises(BadRequestError, match="bad thing"), client.messages.stream(**PARAMS) as stream:
            stream.final_message()
        with pytest.raises(OverloadedError), client.messages.stream(**PARAMS) as stream:
            for _ in stream.text_stream:
                pass
        assert stream.current_message is not None  # the partial message is kept
        with pytest.raises(ContentError):  # refused before sending
            image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}
            client.messages.stream(**{**PARAMS, "messages": [{"role": "user", "content": [image]}]})


def test_leaving_the_with_cancels_the_request(server: MockServer) -> None:
    server.enqueue(Reply.text(LONG).with_faults(tokens_per_second=50))
    with client_for(server) as client:
        with client.messages.stream(**PARAMS) as stream:
            first = next(iter(stream.text_stream))
        assert first and stream.aio.cancelled
        eventually(lambda: len(server.disconnects) == 1, "the server never saw the client leave")
        assert not server.disconnects[0].completed


def test_closing_the_client_mid_stream_cancels_it(server: MockServer) -> None:
    server.enqueue(Reply.text(LONG).with_faults(tokens_per_second=50))
    client = client_for(server)
    stream = client.messages.stream(**PARAMS).start()
    next(iter(stream.text_stream))
    client.close()
    client.close()  # idempotent
    eventually(lambda: len(server.disconnects) == 1, "the server never saw the client leave")


def _interrupt_main_soon(delay: float) -> threading.Timer:
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("where", ["final_message", "text_stream", "until_done"])
def test_ctrl_c_cancels_the_request(server: MockServer, where: str) -> None:
    server.enqueue(Reply.text(LONG).with_faults(stall_after=6))  # streams a little, then goes silent
    with client_for(server) as client:
        with pytest.raises(KeyboardInterrupt), client.messages.stream(**PARAMS) as stream:
            timer = _interrupt_main_soon(0.3)
            try:
                if where == "final_message":
                    stream.final_message()
                elif where == "until_done":
                    stream.until_done()
                else:
                    for _ in stream.text_stream:
                        pass
            finally:
                timer.join()
        assert stream.aio.cancelled
        eventually(lambda: len(server.disconnects) == 1, "the server never saw the client leave")
        server.enqueue(Reply.text("still usable"))
        assert client.messages.create(**PARAMS).text == "still usable"


def test_a_failed_client_leaves_no_thread() -> None:
    def broken() -> rxclaude.Client:
        raise ValueError("no client today")

    with pytest.raises(ValueError, match="no client today"):
        rxclaude.SyncClient(factory=broken)
    assert not _loop_threads()


def test_run_and_repr(server: MockServer) -> None:
    with client_for(server) as client:
        assert client.run(_answer()) == 42
        assert "SyncClient" in repr(client) and server.api_key not in repr(client)
        stream = client.messages.stream(**PARAMS)
        assert "not started" in repr(stream)
        stream.close()


async def _answer() -> int:
    return 42


def test_files_blocking(server: MockServer) -> None:
    with client_for(server) as client:
        meta = client.files.upload(b"%PDF-1.4 hello", "a.pdf")
        second = client.files.upload(b"plain text", "b.txt")
        assert client.files.retrieve(meta.id).filename == "a.pdf"
        assert {f.id for f in client.files.list(limit=1)} >= {meta.id, second.id}  # walks the pages
        with pytest.raises(BadRequestError, match="not downloadable"):  # (as the API: uploads are not)
            client.files.content(second.id)
        assert client.files.delete(meta.id).id == meta.id
        walk = client.files.list()
        next(walk)
        walk.close()  # an iteration left early is closed on the loop


def test_final_message_alone_stops_queueing_events_but_not_the_request(server: MockServer) -> None:
    server.enqueue(Reply.text(LONG).with_faults(tokens_per_second=400))
    with client_for(server) as client, client.messages.stream(**PARAMS) as stream:
        message = stream.final_message()  # the events queue is dropped while streaming...
        assert message.text == LONG and not stream.aio.cancelled  # ...and the request went on
        assert stream.aio._events.observer_count == 0  # nothing queues events nobody reads
        assert list(stream.text_stream) == []  # consumed, as with the official SDK


def test_the_official_sdks_names_work_too(server: MockServer) -> None:
    server.enqueue(Reply.text("same names"), Reply.text("again"))
    with client_for(server) as client:
        with client.messages.stream(**PARAMS) as stream:
            assert stream.get_final_message().text == "same names"
            assert stream.current_message is not None and stream.current_message.text == "same names"
        with client.messages.stream(**PARAMS) as stream:
            assert stream.get_final_text() == "again"
    assert stream.current_message is not None  # readable after the client closed, too


def test_same_text_pieces_as_the_official_sync_client(server: MockServer) -> None:
    anthropic = pytest.importorskip("anthropic")
    reply = Reply.text("Parity with the official synchronous client, piece by piece.", seed=3)
    server.enqueue(reply, reply)
    with (
        anthropic.Anthropic(api_key=server.api_key, base_url=server.url) as sdk,
        sdk.messages.stream(**PARAMS) as theirs,
    ):
        their_pieces = list(theirs.text_stream)
        their_text = theirs.get_final_text()
    with client_for(server) as client, client.messages.stream(**PARAMS) as ours:
        assert list(ours.text_stream) == their_pieces
        assert ours.get_final_text() == their_text


def test_after_close_results_stay_and_new_calls_are_refused(server: MockServer) -> None:
    server.enqueue(Reply.text("kept"))
    client = client_for(server)
    with client.messages.stream(**PARAMS) as stream:
        stream.until_done()
    client.close()
    assert stream.final_message().text == "kept" and stream.final_text() == "kept"
    with pytest.raises(RuntimeError, match="closed"):
        client.messages.stream(**PARAMS)
    with pytest.raises(RuntimeError, match="closed"):
        client.messages.create(**PARAMS)
