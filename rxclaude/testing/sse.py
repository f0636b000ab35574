"""Pure helpers: encode, synthesize, split, parse and accumulate Anthropic SSE streams.

Nothing here does I/O, so tests and benchmarks can build long streams without a server::

    body = synthesize(text=[" tok"] * 100_000)        # 100k text_delta events, as bytes
    events = events_from_sse(body)                    # back to dicts
    assert accumulate(events)["content"][0]["text"] == " tok" * 100_000

The bytes mirror what ``api.anthropic.com`` sends: ``event: X\\ndata: {json}\\n\\n`` with LF
line ends, compact JSON in the real key order, UTF-8 (no ``\\u`` escapes), the real trailing
space padding *before the last closing brace* (``{"type":"message_stop"      }``) and
``{"type": "ping"}`` with spaces.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

__all__ = [
    "PING_FRAME",
    "frame_event",
    "accumulate",
    "events_from_sse",
    "make_id",
    "parse_sse",
    "split_frames",
    "split_text",
    "sse_bytes",
    "sse_frame",
    "synthesize",
    "synthesize_events",
    "synthesize_frames",
]

PING_FRAME = b'event: ping\ndata: {"type": "ping"}\n\n'
"""The ping frame exactly as the API sends it (note the spaces)."""

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SYSRNG = random.SystemRandom()

# Padding lengths before the final ``}``: real streams pad 0..16 spaces, with no visible pattern.
_PADS: tuple[bytes, ...] = tuple(b" " * random.Random(0x5EED + i).randint(0, 16) for i in range(61))
_NPADS = len(_PADS)


def frame_event(frame: bytes) -> str | None:
    """The ``event:`` name of one raw SSE frame (``None`` if it has none).

    Frames are plain ``bytes`` (one event including its blank line) so that million-event
    streams stay cheap.

    Example::

        frame_event(PING_FRAME)    # 'ping'
    """
    if frame.startswith(b"event:"):
        end = frame.find(b"\n")
        return frame[6 : end if end >= 0 else None].strip().decode()
    m = _EVENT_LINE.search(frame)
    return m.group(1).decode() if m else None


def make_id(prefix: str = "msg_01", length: int = 22, rng: random.Random | None = None) -> str:
    """A realistic-looking id: ``prefix`` + base58 characters.

    Example::

        make_id("toolu_01")    # 'toolu_01Js4AMfx5qpTLhwTusnvT68'-like
    """
    r = rng or _SYSRNG
    return prefix + "".join(r.choice(_BASE58) for _ in range(length))


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data if type(data) is dict or not isinstance(data, Mapping) else dict(data))


def _pad_json(body: bytes, pad: int) -> bytes:
    if pad > 0 and body.endswith(b"}"):
        return body[:-1] + b" " * pad + b"}"
    return body


def sse_frame(event: str, data: Mapping[str, Any] | str | bytes, *, pad: int = 0) -> bytes:
    """Encode one SSE event. Mappings become compact JSON; ``pad`` spaces go before the last ``}``.

    ``str``/``bytes`` data is sent as is (one ``data:`` line per line), so invalid JSON is possible.

    Example::

        sse_frame("message_stop", {"type": "message_stop"}, pad=7)
        # b'event: message_stop\\ndata: {"type":"message_stop"       }\\n\\n'
    """
    if isinstance(data, Mapping):
        if event == "ping" and dict(data) == {"type": "ping"}:
            return PING_FRAME
        payload = _pad_json(_dumps(data), pad)
    else:
        raw = data.encode() if isinstance(data, str) else data
        lines = raw.split(b"\n") if raw else [b""]
        return b"event: " + event.encode() + b"\n" + b"".join(b"data: " + ln + b"\n" for ln in lines) + b"\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


def sse_bytes(
    events: Iterable[Mapping[str, Any] | tuple[str, Mapping[str, Any] | str | bytes]],
    *,
    padding: bool = False,
) -> bytes:
    """Encode a sequence of events into one SSE body.

    Each item is an event dict (its ``type`` is the event name) or an ``(event_name, data)``
    pair. With ``padding=True`` the real API's trailing-space padding is added (never to pings).

    Example::

        body = sse_bytes([{"type": "message_stop"}])
        assert body == b'event: message_stop\\ndata: {"type":"message_stop"}\\n\\n'
    """
    out: list[bytes] = []
    for i, item in enumerate(events):
        name: str
        data: Mapping[str, Any] | str | bytes
        if isinstance(item, Mapping):
            name, data = str(item["type"]), item
        else:
            name, data = item
        out.append(sse_frame(name, data, pad=len(_PADS[i % len(_PADS)]) if padding else 0))
    return b"".join(out)


_BLANK = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_EVENT_LINE = re.compile(rb"^event: ?([^\r\n]*)", re.MULTILINE)


def split_frames(body: bytes) -> list[bytes]:
    """Split a raw SSE body into frames without changing a byte (``b"".join`` restores it).

    A trailing incomplete frame (no blank line) is kept as the last frame.

    Example::

        frames = split_frames(Path("tests/fixtures/text-basic-sonnet4.sse").read_bytes())
        frame_event(frames[0])    # 'message_start'
    """
    frames: list[bytes] = []
    start = 0
    for m in _BLANK.finditer(body):
        frames.append(body[start : m.end()])
        start = m.end()
    if start < len(body):
        frames.append(body[start:])
    return frames


def parse_sse(body: bytes) -> list[tuple[str | None, str]]:
    """Decode an SSE body into ``(event_name, data)`` pairs, per the WHATWG rules.

    Comments and unknown fields are ignored; an event without its closing blank line is dropped.

    Example::

        parse_sse(b"event: ping\\ndata: {}\\n\\n")    # [('ping', '{}')]
    """
    out: list[tuple[str | None, str]] = []
    event: str | None = None
    data: list[str] = []
    for line in body.decode("utf-8", "replace").splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if stripped == "":
            if not line.endswith(("\n", "\r")):
                break
            if data:
                out.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if stripped.startswith(":"):
            continue
        name, _, value = stripped.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    # an unterminated last line or frame is not dispatched
    return out


def events_from_sse(body: bytes) -> list[dict[str, Any]]:
    """Decode an SSE body into its JSON event dicts (``data`` parsed with orjson).

    Example::

        [e["type"] for e in events_from_sse(synthesize(text="Hi"))][0]    # 'message_start'
    """
    return [orjson.loads(data) for _, data in parse_sse(body)]


_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s]+)|\s+")
_GROUPS = (1, 2, 1, 1, 3, 2, 1, 2)


def split_text(text: str) -> list[str]:
    """Split text into token-ish pieces of one to three words, like the API's ``text_delta``s.

    Leading whitespace stays with the following word and ``"".join(pieces) == text``.

    Example::

        split_text("Hello there, how are you?")    # ['Hello', ' there,', ' how', ' are', ' you?']
    """
    tokens = _TOKEN.findall(text)
    pieces: list[str] = []
    i = g = 0
    while i < len(tokens):
        n = _GROUPS[g % len(_GROUPS)]
        pieces.append("".join(tokens[i : i + n]))
        i += n
        g += 1
    return pieces


_JSON_CUTS = (5, 9, 3, 12, 7, 4, 10)


def _split_json(s: str) -> list[str]:
    out = [""]
    i = g = 0
    while i < len(s):
        n = _JSON_CUTS[g % len(_JSON_CUTS)]
        out.append(s[i : i + n])
        i += n
        g += 1
    return out


class _Builder:
    """Accumulates frames, cycling the real-looking padding."""

    def __init__(self, padding: bool) -> None:
        self.frames: list[bytes] = []
        self.padding = padding
        self._n = 0

    def pad(self) -> bytes:
        if not self.padding:
            return b""
        self._n += 1
        return _PADS[self._n % len(_PADS)]

    def add(self, data: dict[str, Any]) -> None:
        name = data["type"]
        body = orjson.dumps(data)
        if self.padding:
            body = body[:-1] + self.pad() + b"}"
        self.frames.append(b"event: " + name.encode() + b"\ndata: " + body + b"\n\n")

    def ping(self) -> None:
        self.frames.append(PING_FRAME)

    def deltas(self, index: int, kind: str, field: str, pieces: Iterable[str]) -> int:
        """Append ``content_block_delta`` frames fast (a byte template + orjson per piece)."""
        head = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
            b'"delta":{"type":"%s","%s":' % (index, kind.encode(), field.encode())
        )
        append = self.frames.append
        dumps = orjson.dumps
        n = 0
        if self.padding:
            pads, k = _PADS, self._n
            for piece in pieces:
                k += 1
                append(head + dumps(piece) + b"}" + pads[k % _NPADS] + b"}\n\n")
                n += 1
            self._n = k
        else:
            for piece in pieces:
                append(head + dumps(piece) + b"}}\n\n")
                n += 1
        return n


def _usage(input_tokens: int, output_tokens: int, extra: Mapping[str, Any] | None, *, start: bool) -> dict[str, Any]:
    extra = dict(extra or {})
    cache_create = int(extra.pop("cache_creation_input_tokens", 0))
    cache_read = int(extra.pop("cache_read_input_tokens", 0))
    u: dict[str, Any] = {
        "input_tokens": int(extra.pop("input_tokens", input_tokens)),
        "cache_creation_input_tokens": cache_create,
        "cache_read_input_tokens": cache_read,
    }
    if start:
        u["cache_creation"] = extra.pop(
            "cache_creation", {"ephemeral_5m_input_tokens": cache_create, "ephemeral_1h_input_tokens": 0}
        )
        u["output_tokens"] = output_tokens
        u["service_tier"] = extra.pop("service_tier", "standard")
        u["inference_geo"] = extra.pop("inference_geo", "global")
        extra.pop("output_tokens", None)
    else:
        extra.pop("cache_creation", None)
        extra.pop("service_tier", None)
        extra.pop("inference_geo", None)
        u["output_tokens"] = int(extra.pop("output_tokens", output_tokens))
    u.update(extra)
    return u


def synthesize_frames(
    text: str | Sequence[str] = "Hello! How can I help you today?",
    *,
    thinking: str | Sequence[str] | None = None,
    tool_uses: Sequence[Mapping[str, Any]] = (),
    model: str = "claude-sonnet-5-5",
    id: str | None = None,
    input_tokens: int = 12,
    output_tokens: int | None = None,
    usage: Mapping[str, Any] | None = None,
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    signature: str | None = None,
    ping: bool = True,
    padding: bool = True,
    seed: int | None = None,
) -> list[bytes]:
    """Synthesize a realistic Messages stream as a list of frames. See :func:`synthesize`."""
    rng = random.Random(seed) if seed is not None else None
    b = _Builder(padding)
    msg_id = id or make_id("msg_01", rng=rng)
    usage_extra = dict(usage or {})
    b.add(
        {
            "type": "message_start",
            "message": {
                "model": model,
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "stop_details": None,
                "usage": _usage(input_tokens, 1, usage_extra, start=True),
            },
        }
    )
    index = 0
    count = 0

    def block_start(block: dict[str, Any]) -> None:
        b.add({"type": "content_block_start", "index": index, "content_block": block})
        if index == 0 and ping:
            b.ping()

    if thinking is not None:
        block_start({"type": "thinking", "thinking": "", "signature": ""})
        pieces = split_text(thinking) if isinstance(thinking, str) else list(thinking)
        count += b.deltas(index, "thinking_delta", "thinking", pieces)
        b.deltas(index, "thinking_delta", "thinking", [""])
        sig = signature or "Eq" + base64.b64encode((rng or _SYSRNG).randbytes(240)).decode()
        b.deltas(index, "signature_delta", "signature", [sig])
        b.add({"type": "content_block_stop", "index": index})
        index += 1

    text_pieces = split_text(text) if isinstance(text, str) else list(text)
    if text_pieces or not tool_uses:
        block_start({"type": "text", "text": ""})
        count += b.deltas(index, "text_delta", "text", text_pieces)
        b.add({"type": "content_block_stop", "index": index})
        index += 1

    for tool in tool_uses:
        tool_id = str(tool.get("id") or make_id("toolu_01", rng=rng))
        block_start(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": str(tool["name"]),
                "input": {},
                "caller": {"type": "direct"},
            }
        )
        payload = json.dumps(tool.get("input", {}), ensure_ascii=False)
        count += b.deltas(index, "input_json_delta", "partial_json", _split_json(payload)) - 1
        b.add({"type": "content_block_stop", "index": index})
        index += 1

    if stop_reason is None:
        stop_reason = "stop_sequence" if stop_sequence else ("tool_use" if tool_uses else "end_turn")
    out_tokens = output_tokens if output_tokens is not None else max(1, count)
    b.add(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence, "stop_details": None},
            "usage": _usage(input_tokens, out_tokens, usage_extra, start=False),
        }
    )
    b.add({"type": "message_stop"})
    return b.frames


def synthesize(
    text: str | Sequence[str] = "Hello! How can I help you today?",
    *,
    thinking: str | Sequence[str] | None = None,
    tool_uses: Sequence[Mapping[str, Any]] = (),
    model: str = "claude-sonnet-5-5",
    id: str | None = None,
    input_tokens: int = 12,
    output_tokens: int | None = None,
    usage: Mapping[str, Any] | None = None,
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    signature: str | None = None,
    ping: bool = True,
    padding: bool = True,
    seed: int | None = None,
) -> bytes:
    """Synthesize a realistic Messages SSE body.

    ``message_start`` (real usage shape) -> optional thinking block (``thinking_delta``s, an
    empty one, then ``signature_delta``) -> text block (``text_delta``s) -> one ``tool_use``
    block per ``tool_uses`` item (``input_json_delta``s, the first ``""``) -> ``message_delta``
    (``stop_reason``, cumulative usage; ``output_tokens`` defaults to the delta count) ->
    ``message_stop``. A ping follows the first ``content_block_start``.

    ``text``/``thinking`` given as a sequence are used as the exact delta pieces (fast path for
    huge streams); a string is split with :func:`split_text`. The text block is left out when
    ``text`` is empty and there are tool uses. ``usage`` overrides usage fields (e.g.
    ``{"cache_read_input_tokens": 100}``). ``seed`` makes generated ids reproducible.

    Example::

        body = synthesize("It is sunny.", tool_uses=[{"name": "weather", "input": {"city": "Rome"}}])
        big = synthesize(text=[" tok"] * 1_000_000, padding=False)
    """
    return b"".join(
        synthesize_frames(
            text,
            thinking=thinking,
            tool_uses=tool_uses,
            model=model,
            id=id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            usage=usage,
            stop_reason=stop_reason,
            stop_sequence=stop_sequence,
            signature=signature,
            ping=ping,
            padding=padding,
            seed=seed,
        )
    )


def synthesize_events(
    text: str | Sequence[str] = "Hello! How can I help you today?", **options: Any
) -> list[dict[str, Any]]:
    """Like :func:`synthesize` but returns the event dicts (pings included).

    Example::

        types = [e["type"] for e in synthesize_events("Hi")]
    """
    return events_from_sse(synthesize(text, **options))


def _partial_tool_input(buf: str) -> Any:
    if not buf:
        return {}
    try:
        return orjson.loads(buf)
    except orjson.JSONDecodeError:
        return {}


def accumulate(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Fold stream events into the final Message dict, as the official SDK's accumulator does.

    Pings and unknown events are skipped. Tool input JSON that never completes stays ``{}``.
    Raises ``ValueError`` if the first event is not ``message_start``.

    Example::

        message = accumulate(events_from_sse(synthesize("Hi there")))
        message["content"]    # [{'type': 'text', 'text': 'Hi there'}]
    """
    snapshot: dict[str, Any] | None = None
    buffers: dict[int, list[str]] = {}
    for ev in events:
        kind = ev.get("type")
        if kind == "ping":
            continue
        if snapshot is None:
            if kind != "message_start":
                raise ValueError(f"Unexpected event order, got {kind} before message_start")
            snapshot = orjson.loads(orjson.dumps(ev["message"]))
            continue
        content: list[dict[str, Any]] = snapshot["content"]
        if kind == "content_block_start":
            content.append(orjson.loads(orjson.dumps(ev["content_block"])))
        elif kind == "content_block_delta":
            idx = int(ev["index"])
            block = content[idx]
            delta = ev["delta"]
            dt = delta.get("type")
            if dt == "text_delta" and block.get("type") == "text":
                block["text"] = block.get("text", "") + delta["text"]
            elif dt == "input_json_delta":
                buffers.setdefault(idx, []).append(delta["partial_json"])
            elif dt == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta["thinking"]
            elif dt == "signature_delta":
                block["signature"] = delta["signature"]
            elif dt == "citations_delta":
                if block.get("citations") is None:
                    block["citations"] = [delta["citation"]]
                else:
                    block["citations"].append(delta["citation"])
            elif dt == "compaction_delta":
                block["content"] = delta.get("content")
                if "encrypted_content" in delta:
                    block["encrypted_content"] = delta["encrypted_content"]
        elif kind == "message_delta":
            delta = ev.get("delta", {})
            snapshot["stop_reason"] = delta.get("stop_reason")
            snapshot["stop_sequence"] = delta.get("stop_sequence")
            if "stop_details" in delta or "stop_details" in snapshot:
                snapshot["stop_details"] = delta.get("stop_details")
            if delta.get("container") is not None:
                snapshot["container"] = delta["container"]
            usage = snapshot.setdefault("usage", {})
            for key, value in (ev.get("usage") or {}).items():
                if key == "output_tokens" or value is not None:
                    usage[key] = value
    if snapshot is None:
        raise ValueError("no message_start event")
    for idx, parts in buffers.items():
        snapshot["content"][idx]["input"] = _partial_tool_input("".join(parts))
    return snapshot
