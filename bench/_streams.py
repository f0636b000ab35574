"""Realistic long Messages streams for the benchmarks (bytes exactly as the API frames them)."""

from __future__ import annotations

import random

import orjson

WORDS = [
    "the",
    "stream",
    "of",
    "tokens",
    "arrives",
    "as",
    "small",
    "pieces,",
    "often",
    "a",
    "word",
    "or",
    "two,",
    "sometimes",
    "a",
    "comma,",
    "and",
    "now",
    "and",
    "then",
    "an",
    "emoji",
    "👋",
    "or",
    "an",
    "accented",
    "letter",
    "like",
    "é",
    "or",
    "a",
    "newline\n",
]


def text_stream(n_deltas: int, *, seed: int = 1) -> bytes:
    """A message_start, one text block of ``n_deltas`` text_deltas, the usual tail; real padding."""
    rnd = random.Random(seed)
    out = [
        b"event: message_start\ndata: "
        + orjson.dumps(
            {
                "type": "message_start",
                "message": {
                    "model": "claude-sonnet-4-6",
                    "id": "msg_01BenchBenchBenchBench",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 16,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                        "output_tokens": 5,
                        "service_tier": "standard",
                    },
                },
            }
        )[:-1]
        + b"   }\n\n",
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}          }\n\n',
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    for _ in range(n_deltas):
        piece = " " + rnd.choice(WORDS) if rnd.random() < 0.8 else rnd.choice(WORDS)
        out.append(
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
            + orjson.dumps({"type": "text_delta", "text": piece})
            + b"}              \n\n"
        )
    out.append(b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0     }\n\n')
    out.append(
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"input_tokens":16,"cache_creation_input_tokens":0,'
        b'"cache_read_input_tokens":0,"output_tokens":' + str(n_deltas).encode() + b"}   }\n\n"
    )
    out.append(b'event: message_stop\ndata: {"type":"message_stop"        }\n\n')
    return b"".join(out)


def chunks(data: bytes, size: int = 4096) -> list[bytes]:
    """Cut like a socket would: fixed-size reads that ignore frame boundaries."""
    return [data[i : i + size] for i in range(0, len(data), size)]
