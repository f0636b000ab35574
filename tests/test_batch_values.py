"""rxclaude.core.batch: the Batches values and the results JSONL decoder (pure)."""

from __future__ import annotations

import itertools

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxclaude.core.batch import BatchPage, BatchResult, JSONLinesDecoder, MessageBatch
from rxclaude.core.errors import BadRequestError, StreamFormatError
from rxclaude.core.message import Message

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hi \u2028 there\n"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 9, "output_tokens": 3, "service_tier": "batch"},
}
LINES = [
    {"custom_id": "a", "result": {"type": "succeeded", "message": MESSAGE}},
    {
        "custom_id": "b",
        "result": {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
                "request_id": None,
            },
        },
    },
    {"custom_id": "c", "result": {"type": "canceled"}},
    {"custom_id": "d", "result": {"type": "expired"}},
]
BODY = b"".join(orjson.dumps(line) + b"\n" for line in LINES)


def decode(chunks: list[bytes]) -> list[object]:
    decoder = JSONLinesDecoder()
    out: list[object] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.flush()


def test_whole_and_byte_by_byte() -> None:
    assert decode([BODY]) == LINES
    assert decode([BODY[i : i + 1] for i in range(len(BODY))]) == LINES


def test_every_two_way_split() -> None:
    for cut in range(len(BODY) + 1):
        assert decode([BODY[:cut], BODY[cut:]]) == LINES


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, len(BODY)), max_size=12))
def test_any_chunking(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(BODY)]
    assert decode([BODY[a:b] for a, b in itertools.pairwise(points)]) == LINES


def test_crlf_blank_lines_and_no_final_newline() -> None:
    body = BODY.replace(b"\n", b"\r\n\r\n").rstrip()
    assert decode([body]) == LINES


def test_the_partial_line_is_bounded() -> None:
    decoder = JSONLinesDecoder(max_line=100)
    decoder.feed(b"x" * 60)
    with pytest.raises(StreamFormatError, match="longer than 100"):
        decoder.feed(b"y" * 60)


def test_bad_json_names_the_line() -> None:
    with pytest.raises(StreamFormatError, match="line 2"):
        decode([b'{"a": 1}\n{"b": \n'])


def test_results_round_trip_and_typed_errors() -> None:
    results = [BatchResult.from_dict(line) for line in LINES]
    assert [r.type for r in results] == ["succeeded", "errored", "canceled", "expired"]
    assert [r.to_dict() for r in results] == LINES
    assert results[0].ok and isinstance(results[0].message, Message)
    assert results[0].message.usage is not None and results[0].message.usage.service_tier == "batch"
    assert isinstance(results[1].exception, BadRequestError)
    assert results[2].exception is None
    with pytest.raises(StreamFormatError):
        BatchResult.from_dict({"custom_id": 3})


def test_batch_and_page() -> None:
    data = {
        "id": "msgbatch_01",
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": "2026-12-05T08:00:00Z",
        "expires_at": "2026-12-06T08:00:00Z",
        "ended_at": None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": None,
        "new_field": 1,
    }
    batch = MessageBatch.from_dict(data)
    assert not batch.ended and batch.request_counts.total == 2 and batch.to_dict() == data
    page = BatchPage.from_dict({"data": [data], "has_more": True, "first_id": "msgbatch_01", "last_id": "msgbatch_01"})
    assert page.has_more and page.data == (batch,)
    with pytest.raises(StreamFormatError):
        MessageBatch.from_dict({"type": "message_batch"})
