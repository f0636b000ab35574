"""Bedrock: the eventstream decoder/encoder, the SigV4 provider and the mock server, end to end."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from rxclaude.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    EventStreamError,
    InternalServerError,
    MalformedEventError,
    ModelStreamError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RxClaudeError,
    ServiceUnavailableError,
    error_class_for,
    error_from_body,
)
from rxclaude.core.frame import Frame
from rxclaude.testing.bedrock import BedrockMockState, MockBedrockServer, text_events
from rxclaude.transport.providers.base import FrameDecoder, HTTPRequest
from rxclaude.transport.providers.bedrock import BedrockProvider
from rxclaude.transport.providers.eventstream import (
    EventStreamDecoder,
    bedrock_error_type,
    chunk_frame,
    encode_event_frame,
    exception_frame,
    split_frames,
)

FIXTURES = Path(__file__).parent / "fixtures"
HAIKU = FIXTURES / "bedrock-haiku45-text.eventstream"
SONNET = FIXTURES / "bedrock-sonnet45-tool-use.eventstream"

ACCESS_KEY = "AKIDTESTEXAMPLE0001"
SECRET_KEY = "wJalrTESTsecretKEY/K7MDENG+bPxRfiCYEXAMPLE"
SESSION_TOKEN = "FwoGZXIvYXdzTESTsessionTOKENexample////+"
API_KEY = "ABSKtestBedrockApiKeyExample=="
HAIKU_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
PARAMS: dict[str, Any] = {
    "model": HAIKU_MODEL,
    "max_tokens": 64,
    "stream": True,
    "messages": [{"role": "user", "content": "Say hi in Portuguese"}],
}

EXPECTED: dict[str, dict[str, Any]] = {
    HAIKU.name: {
        "frames": 9,
        "id": "msg_bdrk_01QTwwkoXQVhw3GTizpNP7Fk",
        "model": "claude-haiku-4-5-20251001",
        "stop_reason": "end_turn",
        "input_tokens": 16,
        "output_tokens": 18,
        "text": "Olá! 👋\n\nHow can I help you today?",
        "tools": [],
        "metrics": {
            "inputTokenCount": 16,
            "outputTokenCount": 18,
            "invocationLatency": 1743,
            "firstByteLatency": 1608,
        },
    },
    SONNET.name: {
        "frames": 11,
        "id": "msg_bdrk_01Ux65kdHoC23qJYeB98HG5N",
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": "tool_use",
        "input_tokens": 577,
        "output_tokens": 53,
        "text": "",
        "tools": [("toolu_bdrk_018dfpvS9zVjdozFjuwZf5cx", "weather", {"location": "Florence,Italy"})],
        "metrics": {
            "inputTokenCount": 577,
            "outputTokenCount": 53,
            "invocationLatency": 1967,
            "firstByteLatency": 1603,
        },
    },
}


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real AWS config, credentials or instance metadata can leak into a test."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_BEARER_TOKEN_BEDROCK",
        "ANTHROPIC_BEDROCK_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- helpers -----------------------------------------------------------------------------------


def decode(data: bytes, cuts: Sequence[int] = ()) -> list[Frame]:
    """Decode ``data`` fed in pieces cut at the sorted offsets ``cuts``."""
    decoder = EventStreamDecoder()
    frames: list[Frame] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += decoder.feed(data[start:cut])
        start = cut
    return frames + decoder.close()


def summarize(frames: Sequence[Frame]) -> dict[str, Any]:
    """What an accumulator would build: ids, text, tool inputs, final usage, metrics."""
    out: dict[str, Any] = {"frames": len(frames), "text": "", "tools": []}
    usage: dict[str, Any] = {}
    tools: dict[int, list[Any]] = {}
    for frame in frames:
        event = json.loads(frame.data)
        assert frame.event == event["type"]
        kind = event["type"]
        if kind == "message_start":
            out["id"], out["model"] = event["message"]["id"], event["message"]["model"]
            usage.update(event["message"]["usage"])
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            block = event["content_block"]
            tools[event["index"]] = [block["id"], block["name"], ""]
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                out["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                tools[event["index"]][2] += delta["partial_json"]
        elif kind == "message_delta":
            out["stop_reason"] = event["delta"]["stop_reason"]
            usage.update(event["usage"])
        elif kind == "message_stop":
            out["metrics"] = event.get("amazon-bedrock-invocationMetrics")
    out["tools"] = [(i, n, json.loads(j)) for i, n, j in (tools[k] for k in sorted(tools))]
    out["input_tokens"] = usage.get("input_tokens")
    out["output_tokens"] = usage.get("output_tokens")
    return out


def chunkings(size: int) -> Iterator[tuple[str, list[int]]]:
    yield "whole", []
    yield "bytewise", list(range(1, size))
    for seed in range(8):
        rng = random.Random(seed)
        yield f"random{seed}", sorted(rng.sample(range(1, size), rng.randint(1, min(40, size - 1))))


def boto_frames(data: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


# -- decoding the recordings -------------------------------------------------------------------


@pytest.mark.parametrize("path", [HAIKU, SONNET], ids=lambda p: p.stem)
def test_recordings_decode_to_documented_results_under_every_chunking(path: Path) -> None:
    data = path.read_bytes()
    whole = decode(data)
    assert summarize(whole) == EXPECTED[path.name]
    for name, cuts in chunkings(len(data)):
        assert decode(data, cuts) == whole, name


@pytest.mark.parametrize("path", [HAIKU, SONNET], ids=lambda p: p.stem)
def test_recordings_every_two_way_split(path: Path) -> None:
    data = path.read_bytes()
    whole = decode(data)
    for cut in range(1, len(data)):
        assert decode(data, [cut]) == whole


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_recordings_hypothesis_splits(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from([HAIKU, SONNET]))
    body = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=30))
    assert summarize(decode(body, cuts)) == EXPECTED[path.name]


def test_frame_data_is_the_exact_base64_payload_and_padding_is_ignored() -> None:
    data = HAIKU.read_bytes()
    frames = decode(data)
    for frame, (_, payload) in zip(frames, boto_frames(data), strict=True):
        assert frame.data == base64.b64decode(json.loads(payload)["bytes"]).decode("utf-8")
        assert frame.id is None and frame.retry is None
    assert [f.event for f in frames][:3] == ["message_start", "content_block_start", "content_block_delta"]


def test_decoder_satisfies_the_frame_decoder_protocol() -> None:
    assert isinstance(EventStreamDecoder(), FrameDecoder)
    assert isinstance(BedrockProvider("us-east-1", api_key=API_KEY).new_decoder(), EventStreamDecoder)


# -- corrupt and odd input ---------------------------------------------------------------------


def test_corrupt_message_crc_raises_event_stream_error() -> None:
    data = bytearray(HAIKU.read_bytes())
    data[100] ^= 0x01  # inside the first frame's payload
    with pytest.raises(EventStreamError, match=r"(?i)checksum"):
        decode(bytes(data))


def test_corrupt_prelude_crc_raises_before_waiting_for_the_frame() -> None:
    data = bytearray(HAIKU.read_bytes())
    data[9] ^= 0xFF  # the prelude CRC of the first frame
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError):
        decoder.feed(bytes(data[:12]))  # only the prelude: already rejected


def test_frames_before_a_corrupt_frame_are_returned_then_the_decoder_stays_broken() -> None:
    data = HAIKU.read_bytes()
    first, second, *_ = split_frames(data)
    corrupt = bytearray(second)
    corrupt[-1] ^= 0x55
    decoder = EventStreamDecoder()
    frames = decoder.feed(first + bytes(corrupt))
    assert [f.event for f in frames] == ["message_start"]
    with pytest.raises(EventStreamError):
        decoder.feed(b"")
    with pytest.raises(EventStreamError):
        decoder.close()


def raw_frame(raw_headers: bytes, payload: bytes, *, total: int | None = None) -> bytes:
    """A frame with hand-made header bytes and correct CRCs."""
    length = 16 + len(raw_headers) + len(payload) if total is None else total
    lengths = struct.pack(">II", length, len(raw_headers))
    body = lengths + struct.pack(">I", zlib.crc32(lengths)) + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def test_impossible_lengths_are_rejected() -> None:
    with pytest.raises(EventStreamError, match="total length"):
        EventStreamDecoder().feed(raw_frame(b"", b"", total=12))


def test_truncated_body_raises_on_close() -> None:
    data = HAIKU.read_bytes()
    decoder = EventStreamDecoder()
    frames = decoder.feed(data[:-5])
    assert len(frames) == 8
    with pytest.raises(EventStreamError, match="ended inside"):
        decoder.close()


def test_trailing_garbage_is_an_error() -> None:
    with pytest.raises(EventStreamError):
        decode(HAIKU.read_bytes() + b"garbage-garbage!")


@pytest.mark.parametrize(
    "raw_headers",
    [
        b"\x01x\x2a",  # unknown header value type 42
        b"\x01x\x07\x00\x02\xff\xfe",  # value is not UTF-8
        b"\x01x\x07\x00\x00\x01x\x07\x00\x00",  # duplicate header
    ],
)
def test_bad_headers_are_event_stream_errors(raw_headers: bytes) -> None:
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(raw_frame(raw_headers, b"{}"))


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"p":"abc"}',
        b'{"bytes":"!!!not base64!!!"}',
        b'{"bytes":"' + base64.b64encode(b"[1,2]") + b'"}',
        b'{"bytes":"' + base64.b64encode(b'{"no":"type"}') + b'"}',
        b'{"bytes":"' + base64.b64encode(b"\xff\xfe") + b'"}',
    ],
)
def test_malformed_chunk_payloads(payload: bytes) -> None:
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    with pytest.raises(MalformedEventError) as info:
        EventStreamDecoder().feed(encode_event_frame(headers, payload))
    assert info.value.event == "chunk"


def test_unknown_event_types_are_skipped() -> None:
    other = encode_event_frame({":event-type": "future", ":message-type": "event"}, b"{}")
    assert decode(other + chunk_frame(b'{"type":"ping"}')) == [Frame("ping", '{"type":"ping"}')]


def test_generic_error_message_type_becomes_an_error_frame() -> None:
    frame = encode_event_frame(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "oops"}, b""
    )
    (out,) = decode(frame)
    body = json.loads(out.data)
    assert body["error"]["type"] == "api_error" and body["error"]["message"] == "oops"


# -- exception frames --------------------------------------------------------------------------

EXCEPTIONS = [
    ("throttlingException", "rate_limit_error", RateLimitError),
    ("internalServerException", "api_error", InternalServerError),
    ("serviceUnavailableException", "service_unavailable_error", ServiceUnavailableError),
    ("modelTimeoutException", "request_timeout_error", RequestTimeoutError),
    ("validationException", "invalid_request_error", BadRequestError),
    ("modelStreamErrorException", "model_stream_error", ModelStreamError),
]


@pytest.mark.parametrize(("name", "error_type", "cls"), EXCEPTIONS)
def test_exception_frames_become_typed_error_frames(name: str, error_type: str, cls: type[APIError]) -> None:
    (frame,) = decode(exception_frame(name, f"{name} happened"))
    assert frame.event == "error"
    body = json.loads(frame.data)
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"] == f"{name} happened"
    assert body["error"]["bedrock_exception"] == name
    error = error_from_body(body, status_code=200, in_stream=True)
    assert error.type == error_type and error.message == f"{name} happened" and error.in_stream
    assert error_class_for(error_type, None) is cls
    assert type(error) is cls


def test_model_stream_error_keeps_the_original_status_and_message() -> None:
    frame = exception_frame(
        "modelStreamErrorException", "Model failed", originalStatusCode=500, originalMessage="upstream"
    )
    (out,) = decode(frame)
    error = json.loads(out.data)["error"]
    assert error["originalStatusCode"] == 500 and error["originalMessage"] == "upstream"


def test_exception_frame_with_capitalized_message_or_odd_payload() -> None:
    headers = {":exception-type": "throttlingException", ":message-type": "exception"}
    (a,) = decode(encode_event_frame(headers, b'{"Message":"Capital"}'))
    assert json.loads(a.data)["error"]["message"] == "Capital"
    (b,) = decode(encode_event_frame(headers, b"plain text"))
    assert json.loads(b.data)["error"]["message"] == "plain text"
    (c,) = decode(encode_event_frame({":exception-type": "brandNewException", ":message-type": "exception"}, b"{}"))
    assert json.loads(c.data)["error"]["type"] == "brandNewException"


def test_bedrock_error_type_spellings() -> None:
    assert bedrock_error_type("throttlingException") == "rate_limit_error"
    assert bedrock_error_type("ThrottlingException:http://internal.amazon.com/coral/") == "rate_limit_error"
    assert bedrock_error_type("AccessDeniedException") == "permission_error"
    assert bedrock_error_type("Nope") is None and bedrock_error_type(None) is None


# -- encoding ----------------------------------------------------------------------------------


def test_encoded_frames_decode_with_botocore() -> None:
    headers = {":event-type": "chunk", ":content-type": "application/json", "x-ünïcode": "välue ✓"}
    payload = b'{"hello":"world"}' * 50
    frame = encode_event_frame(headers, payload)
    assert boto_frames(frame) == [(headers, payload)]
    assert boto_frames(encode_event_frame({}, b"")) == [({}, b"")]


def test_encoder_rejects_oversized_headers() -> None:
    with pytest.raises(ValueError):
        encode_event_frame({"x" * 256: "v"}, b"")
    with pytest.raises(ValueError):
        encode_event_frame({"": "v"}, b"")
    with pytest.raises(ValueError):
        encode_event_frame({"x": "v" * 70_000}, b"")


@pytest.mark.parametrize("path", [HAIKU, SONNET], ids=lambda p: p.stem)
def test_re_encoding_the_recordings_reproduces_them_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    decoded = boto_frames(data)
    assert b"".join(encode_event_frame(h, p) for h, p in decoded) == data
    rebuilt = []
    for _, payload in decoded:
        outer = json.loads(payload)
        rebuilt.append(chunk_frame(base64.b64decode(outer["bytes"]), pad=len(outer["p"])))
    assert b"".join(rebuilt) == data
    assert split_frames(data) == rebuilt


def test_chunk_frame_padding_options() -> None:
    event = b'{"type":"message_stop"}'
    for pad in (True, False, 0, 3, 200):
        (payload,) = [p for _, p in boto_frames(chunk_frame(event, pad=pad))]
        outer = json.loads(payload)
        if pad is False or pad == 0:
            assert "p" not in outer
        elif pad is not True:
            assert len(outer["p"]) == pad
        assert decode(chunk_frame(event, pad=pad)) == [Frame("message_stop", event.decode())]
    assert chunk_frame(event) == chunk_frame(event)  # deterministic


def test_split_frames_rejects_truncation() -> None:
    with pytest.raises(EventStreamError):
        split_frames(HAIKU.read_bytes()[:-1])


# -- the provider: URL, body, region -----------------------------------------------------------


def test_url_quotes_the_model_id() -> None:
    p = BedrockProvider("us-east-1", api_key=API_KEY)
    assert p.url_for(HAIKU_MODEL) == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"
    )
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert p.url_for(arn).endswith(
        "/model/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile%2Fabc/invoke-with-response-stream"
    )
    assert "/model/a%20b%3Fc%23d%25e:0/" in p.url_for("a b?c#d%e:0")
    for model in (HAIKU_MODEL, arn, "a b?c#d%e:0"):  # stable under yarl's default normalization
        assert str(yarl.URL(p.url_for(model))) == p.url_for(model)


def test_base_url_from_argument_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BedrockProvider("eu-west-1", api_key=API_KEY, base_url="http://x/").url_for("m") == (
        "http://x/model/m/invoke-with-response-stream"
    )
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", "https://proxy.example/bedrock")
    assert BedrockProvider("eu-west-1", api_key=API_KEY).base_url == "https://proxy.example/bedrock"


def test_region_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert BedrockProvider(api_key=API_KEY).region == "us-east-1"
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-south-1\n[profile work]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert BedrockProvider(api_key=API_KEY).region == "ap-south-1"
    assert BedrockProvider(profile="work", access_key=ACCESS_KEY, secret_key=SECRET_KEY).region == "eu-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-1")
    assert BedrockProvider(api_key=API_KEY).region == "us-west-1"
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    assert BedrockProvider(api_key=API_KEY).region == "us-east-2"
    assert BedrockProvider("ca-central-1", api_key=API_KEY).region == "ca-central-1"


def test_body_transform() -> None:
    p = BedrockProvider("us-east-1", api_key=API_KEY)
    params = {**PARAMS, "anthropic_beta": ["a"]}
    body = p.body_for(params, ["b", "a"])
    assert "model" not in body and "stream" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["a", "b"]
    assert body["messages"] == PARAMS["messages"] and body["max_tokens"] == 64
    assert params["model"] == HAIKU_MODEL and params["stream"] is True  # not mutated
    assert "anthropic_beta" not in p.body_for(PARAMS)
    assert (
        BedrockProvider("us-east-1", api_key=API_KEY, anthropic_version="v2").body_for(PARAMS)["anthropic_version"]
        == "v2"
    )


async def test_build_request_rejects_other_paths_and_missing_model() -> None:
    p = BedrockProvider("us-east-1", api_key=API_KEY)
    with pytest.raises(ValueError):
        await p.build_request(PARAMS, path="/v1/messages/count_tokens")
    with pytest.raises(ValueError):
        await p.build_request({"max_tokens": 1, "messages": []})
    request = await p.build_request(PARAMS, path="/v1/messages?beta=true")
    assert request.method == "POST"


def test_constructor_argument_checks() -> None:
    with pytest.raises(ValueError):
        BedrockProvider("us-east-1", access_key=ACCESS_KEY)
    with pytest.raises(ValueError):
        BedrockProvider("us-east-1", session_token=SESSION_TOKEN)
    with pytest.raises(ValueError):
        BedrockProvider("us-east-1", api_key=API_KEY, access_key=ACCESS_KEY, secret_key=SECRET_KEY)


# -- the provider: auth ------------------------------------------------------------------------

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/us-east-1/bedrock/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}"
)


def lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def test_sigv4_signed_request_with_session_token() -> None:
    p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=SESSION_TOKEN)
    request = await p.build_request(PARAMS, betas=["interleaved-thinking-2025-05-14"])
    headers = lower(request.headers)
    match = _AUTH.fullmatch(headers["authorization"])
    assert match is not None and match["key"] == ACCESS_KEY
    assert "/us-east-1/bedrock/aws4_request" in headers["authorization"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", headers["x-amz-date"])
    assert headers["x-amz-date"][:8] == match["date"]
    stamp = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    assert set(match["signed"].split(";")) >= {"host", "x-amz-date", "x-amz-security-token", "content-type"}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/vnd.amazon.eventstream"
    body = json.loads(request.body)
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"] and "model" not in body
    assert request.url.endswith("/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream")


async def test_sigv4_without_session_token_has_no_token_header() -> None:
    p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    headers = lower((await p.build_request(PARAMS)).headers)
    assert "x-amz-security-token" not in headers
    assert "x-amz-security-token" not in headers["authorization"]


async def test_credentials_never_appear_in_reprs_or_errors() -> None:
    p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=SESSION_TOKEN)
    request = await p.build_request(PARAMS)
    bearer = BedrockProvider("us-east-1", api_key=API_KEY)
    bearer_request = await bearer.build_request(PARAMS)
    texts = [repr(p), str(p), repr(request), str(request), repr(bearer), repr(bearer_request)]
    for secret in (SECRET_KEY, SESSION_TOKEN, API_KEY, ACCESS_KEY):
        for text in texts:
            assert secret not in text
    assert repr(p) == (
        "BedrockProvider(region='us-east-1', auth='sigv4', base_url='https://bedrock-runtime.us-east-1.amazonaws.com')"
    )


async def test_signing_runs_off_the_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    threads: list[threading.Thread] = []
    original = p._frozen_credentials

    def spy() -> Any:
        threads.append(threading.current_thread())
        return original()

    monkeypatch.setattr(p, "_frozen_credentials", spy)
    await p.build_request(PARAMS)
    assert threads and threads[0] is not threading.current_thread()


async def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-from-env")
    headers = lower((await BedrockProvider("us-east-1").build_request(PARAMS)).headers)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFROMENV/")
    assert headers["x-amz-security-token"] == "token-from-env"


async def test_credentials_from_a_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)  # an explicit profile wins over the env key
    p = BedrockProvider("us-east-1", profile="dev")
    assert p.auth == "sigv4"
    headers = lower((await p.build_request(PARAMS)).headers)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDPROFILE/")


async def test_refreshable_credentials_are_frozen_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.credentials import RefreshableCredentials
    from botocore.session import Session

    calls: list[int] = []

    def refresh() -> dict[str, str]:
        calls.append(1)
        expiry = datetime.now(UTC) + timedelta(seconds=30)  # inside botocore's refresh window
        return {
            "access_key": f"AKIDROTATED{len(calls)}",
            "secret_key": "rotating-secret",
            "token": "rotating-token",
            "expiry_time": expiry.isoformat(),
        }

    creds = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    monkeypatch.setattr(Session, "get_credentials", lambda self: creds)
    p = BedrockProvider("us-east-1")
    first = lower((await p.build_request(PARAMS)).headers)["authorization"]
    second = lower((await p.build_request(PARAMS)).headers)["authorization"]
    assert len(calls) >= 3  # the initial load plus a refresh per request
    assert first != second and "Credential=AKIDROTATED" in second


async def test_missing_credentials_is_a_clear_error() -> None:
    p = BedrockProvider("us-east-1")
    with pytest.raises(RxClaudeError, match="no AWS credentials found"):
        await p.build_request(PARAMS)


async def test_bearer_api_key_from_argument_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    request = await BedrockProvider("us-east-1", api_key=API_KEY).build_request(PARAMS)
    headers = lower(request.headers)
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-amz-date" not in headers
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "env-key")
    p = BedrockProvider("us-east-1")
    assert p.auth == "bearer"
    assert lower((await p.build_request(PARAMS)).headers)["authorization"] == "Bearer env-key"
    explicit = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    assert explicit.auth == "sigv4"


# -- HTTP errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "cls", "error_type"),
    [
        (400, "ValidationException", BadRequestError, "invalid_request_error"),
        (403, "AccessDeniedException", PermissionDeniedError, "permission_error"),
        (403, "InvalidSignatureException", AuthenticationError, "authentication_error"),
        (403, "UnrecognizedClientException", AuthenticationError, "authentication_error"),
        (404, "ResourceNotFoundException", NotFoundError, "not_found_error"),
        (408, "ModelTimeoutException", RequestTimeoutError, "request_timeout_error"),
        (424, "ModelErrorException", ModelStreamError, "ModelErrorException"),
        (429, "ThrottlingException", RateLimitError, "rate_limit_error"),
        (500, "InternalServerException", InternalServerError, "api_error"),
        (503, "ServiceUnavailableException", ServiceUnavailableError, "service_unavailable_error"),
    ],
)
def test_http_errors_are_typed(status: int, name: str, cls: type[APIError], error_type: str) -> None:
    p = BedrockProvider("us-east-1", api_key=API_KEY)
    headers = {
        "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": "rid-1",
    }
    error = p.error_from_response(status, headers, b'{"message":"it failed"}')
    assert type(error) is cls
    assert error.type == error_type and error.message == "it failed"
    assert error.status_code == status and error.request_id == "rid-1"
    assert error.retryable == (status in (408, 429) or status >= 500)


def test_http_error_body_variants() -> None:
    p = BedrockProvider("us-east-1", api_key=API_KEY)
    e = p.error_from_response(400, {}, b'{"Message":"capital M","__type":"com.amazon#ValidationException"}')
    assert type(e) is BadRequestError and e.message == "capital M"
    e = p.error_from_response(502, {}, b"<html>bad gateway</html>")
    assert isinstance(e, APIError) and e.status_code == 502 and "bad gateway" in e.message and e.retryable
    e = p.error_from_response(500, {}, b"")
    assert type(e) is InternalServerError and e.message == "HTTP 500"
    anthropic = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    e = p.error_from_response(529, {"x-amzn-RequestId": "r"}, anthropic)
    assert type(e) is OverloadedError and e.request_id == "r"


# -- without botocore --------------------------------------------------------------------------


def test_import_does_not_need_botocore() -> None:
    code = (
        "import sys; sys.modules['botocore'] = None\n"
        "import rxclaude.transport.providers.bedrock as b, rxclaude.transport.providers.eventstream\n"
        "import rxclaude.testing.bedrock\n"
        "p = b.BedrockProvider('us-east-1', api_key='k')\n"
        "try:\n    b.BedrockProvider('us-east-1', access_key='a', secret_key='s')\n"
        "except ImportError as e:\n    print('sigv4:', e)\n"
        "try:\n    p.new_decoder()\n"
        "except ImportError as e:\n    print('decoder:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "sigv4: Bedrock SigV4 signing needs botocore: pip install 'rxclaude[bedrock]'" in out.stdout
    assert "decoder: Bedrock event streams need botocore: pip install 'rxclaude[bedrock]'" in out.stdout


def test_missing_botocore_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)
    with pytest.raises(ImportError, match=r"rxclaude\[bedrock\]"):
        EventStreamDecoder()
    with pytest.raises(ImportError, match=r"rxclaude\[bedrock\]"):
        BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY)


# -- end to end against the mock server --------------------------------------------------------


async def post(request: HTTPRequest, *, encoded: bool = True, chunk: int = 7) -> tuple[int, Any, bytes, list[Frame]]:
    """Send with a plain aiohttp session; decode 200 bodies in ``chunk``-byte reads."""
    async with aiohttp.ClientSession() as session:
        url = yarl.URL(request.url, encoded=encoded)
        async with session.post(url, headers=dict(request.headers), data=request.body) as response:
            if response.status != 200:
                return response.status, response.headers, await response.read(), []
            assert response.headers["Content-Type"] == "application/vnd.amazon.eventstream"
            decoder = EventStreamDecoder()
            frames: list[Frame] = []
            async for piece in response.content.iter_chunked(chunk):
                frames += decoder.feed(piece)
            frames += decoder.close()
            return 200, response.headers, b"", frames


async def test_e2e_sigv4_verified_signature_replays_a_recording() -> None:
    state = BedrockMockState(
        eventstream=HAIKU.read_bytes(), credentials=(ACCESS_KEY, SECRET_KEY), region="us-east-1", chunk_size=5
    )
    async with MockBedrockServer(state) as server:
        p = BedrockProvider(
            "us-east-1",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            session_token=SESSION_TOKEN,
            base_url=server.url,
        )
        status, _, _, frames = await post(await p.build_request(PARAMS))
    assert status == 200
    assert summarize(frames) == EXPECTED[HAIKU.name]
    (seen,) = state.requests
    assert seen.model == HAIKU_MODEL
    assert seen.raw_path == "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"
    assert seen.body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in seen.body


async def test_e2e_signature_covers_the_path_and_survives_default_url_handling() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    state = BedrockMockState(credentials=(ACCESS_KEY, SECRET_KEY))
    async with MockBedrockServer(state) as server:
        p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url)
        for model in (HAIKU_MODEL, arn):
            status, _, _, frames = await post(await p.build_request({**PARAMS, "model": model}), encoded=False)
            assert status == 200 and frames[-1].event == "message_stop"
        assert state.requests[-1].model == arn
        signed = await p.build_request(PARAMS)
        moved = HTTPRequest("POST", signed.url.replace("-v1:0/", "-v1%3A0/"), signed.headers, signed.body)
        status, headers, body, _ = await post(moved)
    assert status == 403
    assert type(p.error_from_response(status, headers, body)) is AuthenticationError


async def test_e2e_wrong_secret_is_an_authentication_error() -> None:
    async with MockBedrockServer(credentials=(ACCESS_KEY, SECRET_KEY)) as server:
        p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key="wrong", base_url=server.url)
        status, headers, body, _ = await post(await p.build_request(PARAMS))
    error = p.error_from_response(status, headers, body)
    assert type(error) is AuthenticationError and "signature" in error.message and not error.retryable
    assert error.request_id


async def test_e2e_bearer_with_synthesized_text_and_tool_fixture() -> None:
    async with MockBedrockServer(api_key=API_KEY, text="Olá mundo, tudo bem?") as server:
        p = BedrockProvider("us-east-1", api_key=API_KEY, base_url=server.url)
        status, _, _, frames = await post(await p.build_request(PARAMS), chunk=1)
        assert status == 200
        summary = summarize(frames)
        assert summary["text"] == "Olá mundo, tudo bem?" and summary["stop_reason"] == "end_turn"
        assert summary["metrics"]["outputTokenCount"] == summary["output_tokens"]
        server.state.text, server.state.eventstream = None, SONNET.read_bytes()
        _, _, _, frames = await post(await p.build_request(PARAMS), chunk=64)
        assert summarize(frames) == EXPECTED[SONNET.name]
        bad = BedrockProvider("us-east-1", api_key="not-the-key", base_url=server.url)
        status, headers, body, _ = await post(await bad.build_request(PARAMS))
        assert type(bad.error_from_response(status, headers, body)) is AuthenticationError


async def test_e2e_throttling_exception_mid_stream() -> None:
    state = BedrockMockState(
        events=text_events("one two three four"),
        exception=("throttlingException", "Too many tokens"),
        exception_after=3,
    )
    async with MockBedrockServer(state) as server:
        p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url)
        _, _, _, frames = await post(await p.build_request(PARAMS))
    assert [f.event for f in frames] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    error = error_from_body(json.loads(frames[-1].data), status_code=200, in_stream=True)
    assert type(error) is RateLimitError and error.message == "Too many tokens" and error.retryable


async def test_e2e_model_stream_error_exception_fields() -> None:
    state = BedrockMockState(
        exception=("modelStreamErrorException", "Model stream failed"),
        exception_after=1,
        exception_fields={"originalStatusCode": 529, "originalMessage": "Overloaded"},
    )
    async with MockBedrockServer(state) as server:
        p = BedrockProvider("us-east-1", api_key=API_KEY, base_url=server.url)
        _, _, _, frames = await post(await p.build_request(PARAMS))
    error = json.loads(frames[-1].data)["error"]
    assert error["type"] == "model_stream_error"
    assert error["originalStatusCode"] == 529 and error["originalMessage"] == "Overloaded"


async def test_e2e_http_error_queue_then_success() -> None:
    state = BedrockMockState(http_errors=[(429, "ThrottlingException", "Too many requests, please wait")])
    async with MockBedrockServer(state) as server:
        p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url)
        status, headers, body, _ = await post(await p.build_request(PARAMS))
        error = p.error_from_response(status, headers, body)
        assert type(error) is RateLimitError and error.retryable and error.request_id
        assert error.message == "Too many requests, please wait"
        status, _, _, frames = await post(await p.build_request(PARAMS))
        assert status == 200 and frames[-1].event == "message_stop"


@pytest.mark.parametrize(
    "body",
    [
        {**PARAMS, "anthropic_version": "bedrock-2023-05-31"},  # model and stream still there
        {"max_tokens": 5, "messages": []},  # no anthropic_version
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5},  # no messages
    ],
)
async def test_e2e_mock_validates_the_body(body: dict[str, Any]) -> None:
    async with MockBedrockServer() as server:
        p = BedrockProvider("us-east-1", api_key=API_KEY, base_url=server.url)
        good = await p.build_request(PARAMS)
        forged = HTTPRequest("POST", good.url, good.headers, json.dumps(body).encode())
        status, headers, raw, _ = await post(forged)
    error = p.error_from_response(status, headers, raw)
    assert type(error) is BadRequestError and "Malformed input request" in error.message


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=",
        "Basic dXNlcjpwYXNz",
    ],
)
async def test_e2e_mock_rejects_missing_or_malformed_auth(authorization: str | None) -> None:
    async with MockBedrockServer() as server:
        p = BedrockProvider("us-east-1", api_key=API_KEY, base_url=server.url)
        good = await p.build_request(PARAMS)
        headers = {k: v for k, v in good.headers.items() if k.lower() != "authorization"}
        if authorization is not None:
            headers["Authorization"] = authorization
        status, resp_headers, raw, _ = await post(HTTPRequest("POST", good.url, headers, good.body))
    assert status == 403
    assert type(p.error_from_response(status, resp_headers, raw)) is AuthenticationError


async def test_e2e_concurrent_streams() -> None:
    async with MockBedrockServer(eventstream=SONNET.read_bytes(), chunk_size=3) as server:
        p = BedrockProvider("us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, base_url=server.url)
        requests = await asyncio.gather(*(p.build_request(PARAMS) for _ in range(5)))
        results = await asyncio.gather(*(post(r) for r in requests))
    for _, _, _, frames in results:
        assert summarize(frames) == EXPECTED[SONNET.name]
