"""Tests for rxclaude.core.sse.SSEDecoder: the WHATWG event-stream rules under every chunking.

Every case in CASES is decoded whole, byte by byte, at every 2-way split and at
hypothesis-drawn random splits (including empty chunks), and must give the same frames,
comments and error each time.  A literal, character-by-character transliteration of the
spec (``reference``) is the oracle for hypothesis-generated streams.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rxclaude.core.sse as sse_module
from rxclaude.core.errors import FrameTooLargeError, StreamFormatError
from rxclaude.core.frame import Frame
from rxclaude.core.sse import SSEDecoder

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.sse"))
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- helpers -----------------------------------------------------------------------------------


def feed_chunks(decoder: SSEDecoder, chunks: Sequence[bytes]) -> list[Frame]:
    """Feed every chunk, then close; return all frames in order."""
    frames: list[Frame] = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
    frames += decoder.close()
    return frames


def decode_all(data: bytes, chunks: Sequence[bytes] | None = None, **kwargs: Any) -> list[Frame]:
    """Decode ``data`` (cut as ``chunks`` when given; they must join back to ``data``)."""
    if chunks is None:
        chunks = [data]
    assert b"".join(chunks) == data
    return feed_chunks(SSEDecoder(**kwargs), chunks)


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (repeated offsets give empty chunks)."""
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Whole, byte by byte, every 2-way split, and an empty chunk first."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
    yield [b"", data, b""]


def random_chunks(data: bytes, seed: int, max_len: int = 64) -> list[bytes]:
    rnd = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(0, max_len)
        out.append(data[i : i + n])
        i += n
    return out


def M(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> Frame:
    return Frame(event, data, id, retry)


# -- the cases ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    stream: bytes
    frames: list[Frame]
    comments: list[str] = dataclasses.field(default_factory=list)
    max_frame_size: int = 16 * 1024 * 1024
    error: bool = False  # FrameTooLargeError after ``frames``
    last_event_id: str | None = None
    reconnection_time: int | None = None


def _endings(name: str, lf_stream: bytes, frames: list[Frame], **kw: Any) -> list[Case]:
    """The same LF stream with CR, CRLF and mixed endings."""
    out = [Case(f"{name}-lf", lf_stream, frames, **kw)]
    out.append(Case(f"{name}-cr", lf_stream.replace(b"\n", b"\r"), frames, **kw))
    out.append(Case(f"{name}-crlf", lf_stream.replace(b"\n", b"\r\n"), frames, **kw))
    endings = [b"\n", b"\r", b"\r\n"]
    mixed, k = bytearray(), 0
    for byte in lf_stream:
        if byte == 0x0A:
            mixed += endings[k % 3]
            k += 1
        else:
            mixed.append(byte)
    out.append(Case(f"{name}-mixed", bytes(mixed), frames, **kw))
    return out


CASES: list[Case] = [
    # WHATWG spec examples
    *_endings("spec-yhoo", b"data: YHOO\ndata: +2\ndata: 10\n\n", [M("YHOO\n+2\n10")]),
    *_endings(
        "spec-ids",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        [M("first event", id="1"), M("second event", id=""), M(" third event", id="")],
        comments=["test stream"],
        last_event_id="",
    ),
    *_endings("spec-empty-data", b"data\n\ndata\ndata\n\ndata:", [M(""), M("\n")]),
    *_endings("spec-test-space", b"data:test\n\ndata: test\n\n", [M("test"), M("test")]),
    *_endings(
        "spec-event-types",
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [M("73857293", "add"), M("2153", "remove"), M("113411", "add")],
    ),
    # line endings
    Case("cr-then-crlf", b"data: a\r\r\ndata: b\r\n\r\n", [M("a"), M("b")]),
    Case("lf-then-cr", b"data: a\n\rdata: b\r\n\n", [M("a"), M("b")]),
    Case("cr-cr", b"data: a\r\rdata: b\r\r", [M("a"), M("b")]),
    Case("crlf-cr-lf", b"data: a\r\n\r\n\r\ndata: b\n\r", [M("a"), M("b")]),
    Case("cr-at-eof-dispatches", b"data: a\n\r", [M("a")]),
    Case("many-blank-lines", b"\n\n\r\n\rdata: a\n\n\n\n", [M("a")]),
    # close() / end of stream
    Case("eof-no-blank-line", b"data: a\n", []),
    Case("eof-crlf-no-blank-line", b"data: a\r\n", []),
    Case("eof-partial-line", b"data: a\n\ndata: b", [M("a")]),
    Case("eof-partial-event", b"data: a\n\nevent: x\ndata: b\n", [M("a")]),
    Case("empty", b"", []),
    # BOM
    Case("bom", b"\xef\xbb\xbfdata: a\n\n", [M("a")]),
    Case("bom-crlf", b"\xef\xbb\xbf\r\ndata: a\r\n\r\n", [M("a")]),
    Case("bom-only-first", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [M("b")]),
    Case("bom-not-at-start", b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [M("a")]),
    Case("bom-in-value", b"data: \xef\xbb\xbfx\n\n", [M("\ufeffx")]),
    Case("bom-prefix-only", b"\xef\xbbdata: a\n\ndata: b\n\n", [M("b")]),
    Case("bom-prefix-1", b"\xefdata: a\n\ndata: b\n\n", [M("b")]),
    Case("bom-truncated-at-eof", b"\xef\xbb", []),
    Case("bom-then-comment", b"\xef\xbb\xbf: hi\ndata: a\n\n", [M("a")], comments=["hi"]),
    # comments
    Case(
        "comments",
        b": hello\n:world\n:  two spaces\n:\n:a:b\ndata: a\n\n",
        [M("a")],
        comments=["hello", "world", " two spaces", "", "a:b"],
    ),
    Case("comment-inside-event", b"data: a\n: keep-alive\ndata: b\n\n", [M("a\nb")], comments=["keep-alive"]),
    Case("comment-only", b": ping\n\n: ping\n\n", [], comments=["ping", "ping"]),
    # fields
    Case("no-colon-data", b"data\n\n", [M("")]),
    Case("no-colon-event", b"event\ndata: x\n\n", [M("x")]),
    Case("no-colon-id", b"id: 1\nid\ndata: x\n\n", [M("x", id="")], last_event_id=""),
    Case("no-colon-retry", b"retry\ndata: x\n\n", [M("x")]),
    Case("no-colon-unknown", b"foo\ndata: x\n\n", [M("x")]),
    Case("value-two-spaces", b"data:  x\n\n", [M(" x")]),
    Case("value-trailing-space", b"data: x \n\n", [M("x ")]),
    Case("value-with-colons", b"data: a: b:c\n\n", [M("a: b:c")]),
    Case("value-tab-not-stripped", b"data:\tx\n\n", [M("\tx")]),
    Case("case-sensitive", b"Data: x\nDATA: y\n\n", []),
    Case("space-before-colon", b"data : x\n\n", []),
    Case("leading-space", b" data: x\n\n", []),
    Case("unknown-fields", b"foo: bar\ndata: a\nbaz\nretryx: 5\nidx: 3\n\n", [M("a")]),
    Case("event-reset-after-dispatch", b"event: add\ndata: 1\n\ndata: 2\n\n", [M("1", "add"), M("2")]),
    Case("event-reset-without-data", b"event: x\n\ndata: 1\n\n", [M("1")]),
    Case("event-empty-value", b"event:\ndata: 1\n\n", [M("1")]),
    Case("event-last-wins", b"event: a\nevent: b\ndata: 1\n\n", [M("1", "b")]),
    Case("event-unicode", b"event: \xc3\xa9v\ndata: 1\n\n", [M("1", "\xe9v")]),
    Case("no-data-no-dispatch", b"event: x\nid: 3\n\n", [], last_event_id="3"),
    # id
    Case(
        "id-persists",
        b"data: a\n\nid: 1\ndata: b\n\ndata: c\n\nid: 2\ndata: d\n\nid\ndata: e\n\n",
        [M("a"), M("b", id="1"), M("c", id="1"), M("d", id="2"), M("e", id="")],
        last_event_id="",
    ),
    Case(
        "id-nul-ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [M("a", id="1"), M("b", id="1")],
        last_event_id="1",
    ),
    Case("id-nul-first", b"id: \x00\ndata: a\n\n", [M("a")]),
    Case("id-without-dispatch", b"id: 5\n\ndata: a\n\n", [M("a", id="5")], last_event_id="5"),
    Case("id-after-data-in-block", b"data: a\nid: 9\n\n", [M("a", id="9")], last_event_id="9"),
    Case("id-unicode", b"id: \xe2\x82\xac\ndata: a\n\n", [M("a", id="\u20ac")], last_event_id="\u20ac"),
    # retry
    Case("retry", b"retry: 1000\ndata: a\n\ndata: b\n\n", [M("a", retry=1000), M("b")], reconnection_time=1000),
    Case("retry-not-digits", b"retry: 10a\ndata: a\n\n", [M("a")]),
    Case("retry-negative", b"retry: -1\ndata: a\n\n", [M("a")]),
    Case("retry-space", b"retry:  5\ndata: a\n\n", [M("a")]),
    Case("retry-empty", b"retry:\ndata: a\n\n", [M("a")]),
    Case("retry-leading-zeros", b"retry: 0005\ndata: a\n\n", [M("a", retry=5)], reconnection_time=5),
    Case("retry-zero", b"retry: 0\ndata: a\n\n", [M("a", retry=0)], reconnection_time=0),
    Case("retry-arabic-digit", b"retry: \xd9\xa3\ndata: a\n\n", [M("a")]),
    Case("retry-fullwidth-digit", b"retry: \xef\xbc\x93\ndata: a\n\n", [M("a")]),
    Case("retry-carried", b"retry: 3000\n\ndata: a\n\n", [M("a", retry=3000)], reconnection_time=3000),
    Case(
        "retry-last-wins",
        b"retry: 1\nretry: 2\nretry: x\ndata: a\n\n",
        [M("a", retry=2)],
        reconnection_time=2,
    ),
    Case("retry-huge-ignored", b"retry: " + b"9" * 5000 + b"\ndata: a\n\n", [M("a")]),
    Case(
        "retry-long-zeros",
        b"retry: " + b"0" * 5000 + b"7\ndata: a\n\n",
        [M("a", retry=7)],
        reconnection_time=7,
    ),
    # UTF-8
    Case(
        "utf8-multibyte",
        b"data: \xf0\x9f\x91\x8b caf\xc3\xa9 \xe2\x82\xac\n\n",
        [M("\U0001f44b caf\xe9 \u20ac")],
    ),
    Case("utf8-invalid", b"data: \xff\xc3\n\n", [M("\ufffd\ufffd")]),
    Case("utf8-truncated-before-lf", b"data: \xe2\x82\ndata: x\n\n", [M("\ufffd\nx")]),
    Case("utf8-surrogate", b"data: \xed\xa0\x80\n\n", [M("\ufffd\ufffd\ufffd")]),
    Case("utf8-in-field-name", b"d\xc3\xa1ta: x\ndata: y\n\n", [M("y")]),
    # Unicode separators are not line breaks
    Case("u2028-u2029", b"data: a\xe2\x80\xa8b\xe2\x80\xa9c\n\n", [M("a\u2028b\u2029c")]),
    Case(
        "nel-vt-ff-fs",
        b"data: a\xc2\x85b\x0bc\x0cd\x1ce\x1df\x1eg\n\n",
        [M("a\x85b\x0bc\x0cd\x1ce\x1df\x1eg")],
    ),
    Case("nul-in-data", b"data: a\x00b\n\n", [M("a\x00b")]),
    # max_frame_size
    Case("max-line-at-limit", b"data: 1234567890\n\n", [M("1234567890")], max_frame_size=16),
    Case("max-data-at-limit", b"data: 1234567\ndata: 12345678\n\n", [M("1234567\n12345678")], max_frame_size=16),
    Case(
        "max-line-over",
        b"data: ok\n\ndata: 12345678901\n\ndata: later\n\n",
        [M("ok")],
        max_frame_size=16,
        error=True,
    ),
    Case(
        "max-comment-over",
        b"data: ok\n\n: 123456789012345\ndata: later\n\n",
        [M("ok")],
        max_frame_size=16,
        error=True,
    ),
    Case(
        "max-multiline-data-over",
        b"data: ok\n\ndata: 12345678\ndata: 12345678\n\ndata: later\n\n",
        [M("ok")],
        max_frame_size=16,
        error=True,
    ),
    Case(
        "max-many-lines-over",
        b"data: ok\n\n" + b"data\n" * 18 + b"\ndata: later\n\n",
        [M("ok")],
        max_frame_size=16,
        error=True,
    ),
    Case("max-pending-line-over", b"data: ok\n\n" + b"x" * 40, [M("ok")], max_frame_size=16, error=True),
    Case("max-data-lines-at-limit", b"data\n" * 17 + b"\n", [M("\n" * 16)], max_frame_size=16),
    Case("max-pending-line-at-limit", b"data: ok\n\n" + b"x" * 16, [M("ok")], max_frame_size=16),
    Case("max-crlf-line-at-limit", b"data: 1234567890\r\n\r\n", [M("1234567890")], max_frame_size=16),
]


def _check(case: Case, chunks: Sequence[bytes]) -> None:
    comments: list[str] = []
    decoder = SSEDecoder(max_frame_size=case.max_frame_size, on_comment=comments.append)
    frames: list[Frame] = []
    error: FrameTooLargeError | None = None
    try:
        for chunk in chunks:
            frames += decoder.feed(chunk)
        frames += decoder.close()
    except FrameTooLargeError as exc:
        error = exc
    assert frames == case.frames, chunks
    assert comments == case.comments, chunks
    if case.error:
        assert error is not None, chunks
        assert error.limit == case.max_frame_size
        assert error.size > case.max_frame_size
        with pytest.raises(FrameTooLargeError):  # broken from now on
            decoder.feed(b"data: more\n\n")
        with pytest.raises(FrameTooLargeError):
            decoder.close()
    else:
        assert error is None, chunks
        assert decoder.last_event_id == case.last_event_id
        assert decoder.reconnection_time == case.reconnection_time


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_fixed_chunkings(case: Case) -> None:
    for chunks in chunkings(case.stream):
        _check(case, chunks)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@HYPOTHESIS
@given(data=st.data())
def test_case_random_splits(case: Case, data: st.DataObject) -> None:
    n = len(case.stream)
    cuts = data.draw(st.lists(st.integers(0, n), max_size=min(n + 2, 30)))
    _check(case, split_at(case.stream, cuts))


def test_case_names_unique() -> None:
    assert len({c.name for c in CASES}) == len(CASES)


# -- specific behaviour --------------------------------------------------------------------------


def test_bom_after_empty_chunks() -> None:
    chunks = [b"", b"\xef", b"", b"\xbb", b"\xbf", b"", b"data: a\n\n"]
    assert feed_chunks(SSEDecoder(), chunks) == [M("a")]


def test_crlf_split_across_feeds_is_one_line_ending() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"") == []  # an empty chunk keeps the pending CR
    assert d.feed(b"\n") == []  # the LF completes the CR: not a blank line
    assert d.feed(b"\r") == [M("a")]  # a CR ends its line at once
    assert d.feed(b"\ndata: b\n\n") == [M("b")]


def test_comments_without_callback() -> None:
    assert decode_all(b": hi\ndata: a\n: there\n\n") == [M("a")]


def test_comment_callback_runs_before_frames_are_returned() -> None:
    seen: list[str] = []
    d = SSEDecoder(on_comment=seen.append)
    frames = d.feed(b"data: a\n\n: c1\ndata: b\n\n")
    assert frames == [M("a"), M("b")]
    assert seen == ["c1"]


def test_on_comment_error_propagates_and_breaks_decoder() -> None:
    def boom(_: str) -> None:
        raise KeyError("boom")

    d = SSEDecoder(on_comment=boom)
    with pytest.raises(KeyError):
        d.feed(b"data: a\n\n: x\n\n")
    with pytest.raises(StreamFormatError):
        d.feed(b"data: b\n\n")
    with pytest.raises(StreamFormatError):
        d.close()


def test_close_discards_and_is_idempotent() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\n\ndata: b\n") == [M("a")]
    assert d.close() == []
    assert d.close() == []
    with pytest.raises(RuntimeError):
        d.feed(b"\n")


def test_error_deferred_when_frames_completed_in_same_chunk() -> None:
    d = SSEDecoder(max_frame_size=8)
    assert d.feed(b"data: a\n\n" + b"x" * 20) == [M("a")]
    with pytest.raises(FrameTooLargeError) as info:
        d.feed(b"\n\n")
    assert info.value.limit == 8
    assert isinstance(info.value, StreamFormatError)


def test_error_immediate_without_frames() -> None:
    d = SSEDecoder(max_frame_size=12)
    assert d.feed(b"data: 1234") == []
    with pytest.raises(FrameTooLargeError) as info:
        d.feed(b"567")
    assert (info.value.size, info.value.limit) == (13, 12)


def test_oversized_stream_is_not_buffered() -> None:
    """Bytes past the limit are dropped: a 10 MB line never sits in the decoder."""
    d = SSEDecoder(max_frame_size=1024)
    with pytest.raises(FrameTooLargeError):
        for _ in range(10_000):
            d.feed(b"x" * 1000)
    assert len(d._buf) == 0
    assert d._data == []


def test_max_frame_size_validation() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_frame_size=0)


def test_properties_before_anything() -> None:
    d = SSEDecoder()
    assert d.last_event_id is None
    assert d.reconnection_time is None


def test_frames_are_real_immutable_frames() -> None:
    (frame,) = decode_all(b"event: e\nid: 1\nretry: 2\ndata: d\n\n")
    assert type(frame) is Frame
    assert frame == Frame("e", "d", "1", 2)
    assert hash(frame) == hash(Frame("e", "d", "1", 2))
    assert repr(frame) == "Frame(event='e', data='d', id='1', retry=2)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.data = "x"  # type: ignore[misc]


def test_event_type_cache_is_bounded() -> None:
    stream = b"".join(b"event: t%d\ndata: x\n\n" % i for i in range(200))
    frames = decode_all(stream, random_chunks(stream, 1))
    assert [f.event for f in frames] == [f"t{i}" for i in range(200)]


def test_large_frame_fed_byte_by_byte() -> None:
    payload = b"y" * 200_000
    d = SSEDecoder()
    out: list[Frame] = []
    for i in range(len(payload)):
        out += d.feed(payload[i : i + 1])
    out += d.feed(b"\n\n")
    assert out == []  # a field named "yyyy..." is unknown
    stream = b"data: " + payload + b"\r\n\r\n"
    frames = decode_all(stream, [stream[i : i + 1] for i in range(len(stream))])
    assert frames == [M(payload.decode())]


# -- the spec, transliterated, as an oracle ------------------------------------------------------


def reference(stream: bytes) -> tuple[list[Frame], list[str]]:
    """WHATWG "event stream interpretation", character by character, no optimisation."""
    text = stream.decode("utf-8", "replace")  # the UTF-8 decode algorithm ...
    if text.startswith("\ufeff"):  # ... strips one leading BOM
        text = text[1:]
    lines: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\r":
            lines.append("".join(current))
            current = []
            if i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        elif ch == "\n":
            lines.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    # at EOF the unterminated line in ``current`` is discarded
    frames: list[Frame] = []
    comments: list[str] = []
    data, event, last_id = "", "", None
    retry: int | None = None
    for line in lines:
        if line == "":
            if data == "":
                data = event = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            frames.append(Frame(event or "message", data, last_id, retry))
            retry = None
            data = event = ""
            continue
        if line.startswith(":"):
            comments.append(line[2:] if line.startswith(": ") else line[1:])
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\x00" not in value:
                last_id = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            digits = value.lstrip("0") or "0"
            if len(digits) <= 4000:  # the decoder's documented limit
                retry = int(digits)
    return frames, comments


TOKENS = [
    b"data",
    b"data",
    b"data: ",
    b"event",
    b"event: ",
    b"id",
    b"id: ",
    b"retry",
    b"retry: ",
    b"foo",
    b":",
    b":",
    b" ",
    b"  ",
    b"\n",
    b"\n",
    b"\n",
    b"\r",
    b"\r\n",
    b"\r\n",
    b"\n\n",
    b"x",
    b"hello",
    b"12",
    b"0",
    b"\x00",
    b"\t",
    b"\xef\xbb\xbf",
    b"\xef",
    b"\xbb\xbf",
    b"\xc3\xa9",
    b"\xc3",
    b"\xa9",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\x0b",
    b"\x0c",
    b"\xff",
    b"\xf0\x9f\x91\x8b",
]

token_streams = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)
line_streams = st.lists(
    st.tuples(
        st.sampled_from([b"data", b"event", b"id", b"retry", b"", b"x", b"\xef\xbb\xbfdata"]),
        st.sampled_from([b": ", b":", b"", b":  "]),
        st.sampled_from([b"", b"a", b"1", b"42", b"\xc3\xa9", b"a\x00b", b" b", b"\xe2\x80\xa8"]),
        st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n", b"\r\n\r\n", b"\r\r"]),
    ).map(b"".join),
    max_size=30,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(stream=st.one_of(token_streams, line_streams), data=st.data())
def test_matches_reference(stream: bytes, data: st.DataObject) -> None:
    expected_frames, expected_comments = reference(stream)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    for chunks in ([stream], split_at(stream, cuts), [stream[i : i + 1] for i in range(len(stream))]):
        comments: list[str] = []
        frames = feed_chunks(SSEDecoder(on_comment=comments.append), chunks)
        assert frames == expected_frames
        assert comments == expected_comments


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(max_size=80), data=st.data())
def test_arbitrary_bytes_match_reference(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert decode_all(stream, split_at(stream, cuts)) == reference(stream)[0]


def test_reference_agrees_on_cases() -> None:
    for case in CASES:
        if not case.error:
            assert reference(case.stream) == (case.frames, case.comments), case.name


# -- recorded real streams -----------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture(path: Path) -> None:
    raw = path.read_bytes()
    frames = decode_all(raw)
    assert frames, path.name
    assert len(frames) == raw.count(b"\n\n")  # every event ends with exactly one blank line
    for frame in frames:
        assert frame.event == orjson.loads(frame.data)["type"]
        assert frame.id is None and frame.retry is None
    assert decode_all(raw, [raw[i : i + 1] for i in range(len(raw))]) == frames
    for seed in range(3):
        assert decode_all(raw, random_chunks(raw, seed, max_len=700)) == frames
    chunks_4k = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]
    assert decode_all(raw, chunks_4k) == frames
    crlf = raw.replace(b"\n", b"\r\n")
    assert decode_all(crlf, random_chunks(crlf, 7, max_len=300)) == frames
    assert reference(raw) == (frames, [])


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fixture_random_splits(path: Path, data: st.DataObject) -> None:
    raw = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=50))
    assert decode_all(raw, split_at(raw, cuts)) == decode_all(raw)


def test_fixture_text_basic_sonnet4() -> None:
    raw = (Path(__file__).parent / "fixtures" / "text-basic-sonnet4.sse").read_bytes()
    frames = decode_all(raw)
    # 18 blank-line-terminated events: message_start, content_block_start, ping,
    # 12 content_block_delta, content_block_stop, message_delta, message_stop.
    assert len(frames) == 18
    events = [f.event for f in frames]
    assert events[:3] == ["message_start", "content_block_start", "ping"]
    assert events.count("content_block_delta") == 12
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(orjson.loads(f.data)["delta"]["text"] for f in frames if f.event == "content_block_delta")
    assert text == (
        'Olá! (That\'s "hi" in Portuguese)\n\n'
        'You could also say "Oi!" which is a more casual way to say hi in Portuguese.'
    )
    assert len(text) == 110
    assert frames[2].data == '{"type": "ping"}'
    assert frames[1].data.endswith('""}            }')  # the API's padding is kept as sent


# -- push: frames handed out as they are decoded -------------------------------------------------


def test_push_emits_each_frame_before_decoding_the_next() -> None:
    """The first frame of a big chunk goes out before the rest is decoded (time to first token)."""
    d = SSEDecoder()
    seen: list[tuple[str, str | None]] = []
    d.push(b"id: 1\ndata: a\n\nid: 2\ndata: b\n\n", lambda f: seen.append((f.data, d.last_event_id)))
    # the decoder writes its state back only when the chunk is done, so each frame was emitted
    # while the chunk was still being decoded: last_event_id still showed the value from before
    assert seen == [("a", None), ("b", None)] and d.last_event_id == "2"


def test_push_equals_feed_on_every_fixture() -> None:
    for path in FIXTURES:
        data = path.read_bytes()
        pushed: list[Frame] = []
        d = SSEDecoder()
        for i in range(0, len(data), 333):
            d.push(data[i : i + 333], pushed.append)
        assert pushed == SSEDecoder().feed(data), path.name


def test_push_raises_an_oversized_frame_at_once_after_the_earlier_ones() -> None:
    d = SSEDecoder(max_frame_size=8)
    seen: list[Frame] = []
    with pytest.raises(FrameTooLargeError):
        d.push(b"data: a\n\n" + b"x" * 20, seen.append)
    assert seen == [M("a")]
    with pytest.raises(FrameTooLargeError):  # broken from now on
        d.push(b"\n\n", seen.append)


def test_an_exception_from_emit_propagates_and_breaks_the_decoder() -> None:
    d = SSEDecoder()
    seen: list[str] = []

    def emit(frame: Frame) -> None:
        seen.append(frame.data)
        raise KeyError("subscriber bug")

    with pytest.raises(KeyError):
        d.push(b"data: a\n\ndata: b\n\n", emit)
    assert seen == ["a"]  # nothing after the failing frame was decoded or emitted
    with pytest.raises(StreamFormatError):
        d.push(b"data: c\n\n", seen.append)


def test_last_event_id_counts_only_ids_whose_block_ended() -> None:
    """What to send as ``Last-Event-ID``: an ``id`` whose event a dropped connection cut off was
    not received (the spec's last event ID string is set at the blank line)."""
    d = SSEDecoder()
    d.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b")
    assert d.last_event_id == "1"
    d.feed(b"\n\n")
    assert d.last_event_id == "2"
    d.feed(b"id: 3\n\n")  # a block without data still sets it (no event is dispatched)
    assert d.last_event_id == "3"


# -- push_fields: the same frames as their fields, no Frame built --------------------------------


def fields_as_frames(chunks: Sequence[bytes], **kwargs: Any) -> list[Frame]:
    """Decode with push_fields; build the Frame push would have emitted from each call's fields."""
    d = SSEDecoder(**kwargs)
    out: list[Frame] = []

    def emit(event: str, data: bytes, id: str | None, retry: int | None) -> None:
        assert type(event) is str and type(data) is bytes
        out.append(Frame(event, data.decode("utf-8", "replace"), id, retry))

    for chunk in chunks:
        d.push_fields(chunk, emit)
    d.close()
    return out


def test_push_fields_equals_push_on_every_fixture() -> None:
    for path in FIXTURES:
        data = path.read_bytes()
        assert fields_as_frames([data[i : i + 333] for i in range(0, len(data), 333)]) == decode_all(data), path.name


@settings(max_examples=300, deadline=None)
@given(stream=st.one_of(token_streams, line_streams), data=st.data())
def test_push_fields_matches_reference(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert fields_as_frames(split_at(stream, cuts)) == reference(stream)[0]


# -- a big read is interpreted a slice of lines at a time ------------------------------------------


@settings(max_examples=300, deadline=None)
@given(stream=st.one_of(token_streams, line_streams), size=st.integers(1, 24), first=st.integers(1, 24), data=st.data())
def test_any_slice_size_matches_reference(stream: bytes, size: int, first: int, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    with mock.patch.object(sse_module, "_SLICE", size), mock.patch.object(sse_module, "_FIRST_SLICE", first):
        comments: list[str] = []
        assert feed_chunks(SSEDecoder(on_comment=comments.append), split_at(stream, cuts)) == reference(stream)[0]
        assert fields_as_frames(split_at(stream, cuts)) == reference(stream)[0]
    assert comments == reference(stream)[1]


def test_a_big_read_with_lines_longer_than_a_slice() -> None:
    long_line = "é" * 30_000  # 60 KB: longer than a slice, split nowhere but at its LF
    body = b"".join(b"data: %d\n\n" % i for i in range(3000))
    stream = body + f"event: long\ndata: {long_line}\ndata: tail\n\n".encode() + body
    expected = [M(str(i)) for i in range(3000)] + [M(long_line + "\ntail", "long")] + [M(str(i)) for i in range(3000)]
    assert decode_all(stream) == expected
    assert fields_as_frames([stream]) == expected
    seen: list[Frame] = []
    with pytest.raises(FrameTooLargeError):  # the frames before the oversized line still go out
        SSEDecoder(max_frame_size=50_000).push(stream, seen.append)
    assert seen == expected[:3000]
