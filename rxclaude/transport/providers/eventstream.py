"""Amazon ``application/vnd.amazon.eventstream`` bodies: a sans-I/O decoder and a frame encoder.

Strategy: the decoder keeps one ``bytearray`` of undecoded bytes and cuts it into whole frames
itself (the prelude's first word is the frame length), handing botocore's
``EventStreamBuffer`` first the 12-byte prelude (so the prelude CRC and the size limits are
checked before we wait for a length we cannot trust) and then the rest of that one frame (so
it checks the message CRC and parses the headers).  botocore never holds more than one frame,
which keeps decoding linear however the body is chunked.  Each Bedrock ``chunk`` event
carries ``{"bytes": "<base64 Anthropic event JSON>", "p": "<padding>"}``: it becomes one
:class:`~rxclaude.Frame` named after the event's ``type``, exactly like the SSE
decoder's frames.  Exception frames become ``error`` frames in the Anthropic shape, so the
shared parser raises the typed error.

botocore is an optional extra: it is imported when a decoder is created, not on import.

Example::

    >>> d = EventStreamDecoder()
    >>> d.feed(chunk_frame(b'{"type":"message_stop"}'))
    [Frame(event='message_stop', data='{"type":"message_stop"}', id=None, retry=None)]
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from rxclaude.core.errors import EventStreamError, MalformedEventError
from rxclaude.core.frame import Frame

__all__ = [
    "EventStreamDecoder",
    "bedrock_error_type",
    "chunk_frame",
    "encode_event_frame",
    "exception_frame",
    "split_frames",
]

_PRELUDE = 12  # total_length u32 | headers_length u32 | prelude_crc u32
_OVERHEAD = _PRELUDE + 4  # + message_crc u32
_PADDING_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_INSTALL_HINT = "pip install 'rxclaude[bedrock]'"

# Bedrock exception names (lower-cased, with or without the "Exception" suffix) -> Anthropic
# ``error.type``.  The last three are not Anthropic types; they name rxclaude's classes
# ServiceUnavailableError, RequestTimeoutError and ModelStreamError.
_ERROR_TYPES: dict[str, str] = {
    "throttling": "rate_limit_error",
    "servicequotaexceeded": "rate_limit_error",
    "validation": "invalid_request_error",
    "internalserver": "api_error",
    "internalfailure": "api_error",
    "serviceunavailable": "service_unavailable_error",
    "modelnotready": "service_unavailable_error",
    "modeltimeout": "request_timeout_error",
    "modelstreamerror": "model_stream_error",
    "accessdenied": "permission_error",
    "resourcenotfound": "not_found_error",
    "unrecognizedclient": "authentication_error",
    "invalidsignature": "authentication_error",
    "incompletesignature": "authentication_error",
    "missingauthenticationtoken": "authentication_error",
    "expiredtoken": "authentication_error",
}


def bedrock_error_type(name: str | None) -> str | None:
    """The Anthropic ``error.type`` for a Bedrock exception name, or ``None`` if unknown.

    Accepts the stream spelling (``throttlingException``), the HTTP spelling
    (``ThrottlingException``) and the ``x-amzn-ErrorType`` form (``Name:http://...``).

    Example:
        >>> bedrock_error_type("throttlingException"), bedrock_error_type("ValidationException:x")
        ('rate_limit_error', 'invalid_request_error')
    """
    if not name:
        return None
    key = name.split(":", 1)[0].strip().lower()
    key = key.removesuffix("exception")
    return _ERROR_TYPES.get(key)


def _import_botocore_eventstream() -> Any:
    try:
        from botocore import eventstream
    except ImportError as exc:
        raise ImportError(f"Bedrock event streams need botocore: {_INSTALL_HINT}") from exc
    return eventstream


class EventStreamDecoder:
    """Decode an ``application/vnd.amazon.eventstream`` body into Anthropic event frames.

    Implements the :class:`~rxclaude.transport.providers.base.FrameDecoder` protocol.  A corrupt frame
    (CRC mismatch, impossible lengths, bad headers) raises
    :class:`~rxclaude.core.errors.EventStreamError`; a ``chunk`` whose payload is not a base64
    Anthropic event raises :class:`~rxclaude.core.errors.MalformedEventError`.  After an error the
    decoder is broken and every later call raises again.  Event types other than ``chunk`` and
    unknown message types are skipped.  Frames completed before the error in the same chunk
    are still returned, and the error is raised by the next call instead (as the SSE decoder
    does).

    Example:
        >>> frames = EventStreamDecoder().feed(exception_frame("throttlingException", "Slow down"))
        >>> frames[0].event, '"rate_limit_error"' in frames[0].data
        ('error', True)
    """

    def __init__(self) -> None:
        es = _import_botocore_eventstream()
        self._parser_errors: tuple[type[BaseException], ...] = (
            es.ParserError,
            struct.error,
            KeyError,
            IndexError,
            UnicodeDecodeError,
        )
        self._frame_buffer = es.EventStreamBuffer()
        self._buf = bytearray()
        self._total: int | None = None  # length of the frame whose prelude was checked
        self._failed: EventStreamError | MalformedEventError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the body; return the frames it completed."""
        self._raise_if_failed()
        frames: list[Frame] = []
        try:
            self._feed(data, frames)
        except (EventStreamError, MalformedEventError) as exc:
            self._failed = exc
            if not frames:
                raise
        return frames

    def push(self, data: bytes, emit: Callable[[Frame], None]) -> None:
        """Like :meth:`feed`, handing each frame to ``emit``; an error after some frames is
        raised at once, after they were emitted."""
        frames = self.feed(data)
        for frame in frames:
            emit(frame)
        self._raise_if_failed()

    def close(self) -> list[Frame]:
        """The body ended; raise :class:`EventStreamError` if it stopped inside a frame."""
        self._raise_if_failed()
        if self._buf:
            expected = "?" if self._total is None else str(self._total)
            self._failed = EventStreamError(
                f"body ended inside an eventstream frame ({len(self._buf)} of {expected} bytes)"
            )
            raise self._failed
        return []

    def _raise_if_failed(self) -> None:
        failed = self._failed
        if failed is not None:
            raise failed

    def _feed(self, data: bytes, frames: list[Frame]) -> None:
        buf = self._buf
        buf += data
        pos = 0
        try:
            while True:
                if self._total is None:
                    if len(buf) - pos < _PRELUDE:
                        break
                    self._total = self._check_prelude(bytes(buf[pos : pos + _PRELUDE]))
                total = self._total
                if len(buf) - pos < total:
                    break
                message = self._parse_rest(bytes(buf[pos + _PRELUDE : pos + total]))
                pos += total
                self._total = None
                frame = _to_frame(message.headers, message.payload)
                if frame is not None:
                    frames.append(frame)
        finally:
            if pos:
                del buf[:pos]

    def _check_prelude(self, prelude: bytes) -> int:
        total, headers_len = struct.unpack(">II", prelude[:8])
        if total < _OVERHEAD + headers_len:
            raise EventStreamError(
                f"invalid eventstream prelude: total length {total} < {_OVERHEAD} + headers {headers_len}"
            )
        self._frame_buffer.add_data(prelude)
        try:
            next(self._frame_buffer)  # validates the prelude CRC and limits, then waits
        except StopIteration:
            pass
        except self._parser_errors as exc:
            raise EventStreamError(f"corrupt eventstream prelude: {exc}") from exc
        return int(total)

    def _parse_rest(self, rest: bytes) -> Any:
        self._frame_buffer.add_data(rest)
        try:
            return next(self._frame_buffer)
        except StopIteration as exc:  # pragma: no cover - lengths were checked above
            raise EventStreamError("eventstream frame incomplete after its full length") from exc
        except self._parser_errors as exc:
            raise EventStreamError(f"corrupt eventstream frame: {exc}") from exc


def _to_frame(headers: Mapping[str, Any], payload: bytes) -> Frame | None:
    message_type = headers.get(":message-type", "event")
    if message_type == "event":
        if headers.get(":event-type") != "chunk":
            return None
        return _chunk_to_frame(payload)
    if message_type == "exception":
        name = str(headers.get(":exception-type") or "unknownException")
        return _error_frame(name, payload)
    if message_type == "error":
        code = str(headers.get(":error-code") or "unknownError")
        message = str(headers.get(":error-message") or code)
        return _error_frame(code, orjson.dumps({"message": message}))
    return None


def _chunk_to_frame(payload: bytes) -> Frame:
    text_payload = payload.decode("utf-8", "replace")
    try:
        outer = orjson.loads(payload)
        raw = base64.b64decode(outer["bytes"], validate=True)
        event = orjson.loads(raw)
        event_type = event["type"]
        if not isinstance(event_type, str):
            raise TypeError("type is not a string")
    except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError, ValueError) as exc:
        raise MalformedEventError(
            f"Bedrock chunk is not a base64 Anthropic event: {exc}", event="chunk", data=text_payload
        ) from exc
    return Frame(event_type, raw.decode("utf-8"))


def _error_frame(name: str, payload: bytes) -> Frame:
    try:
        body = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        body = {"message": payload.decode("utf-8", "replace")}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    message = body.get("message", body.get("Message"))
    error: dict[str, Any] = {
        "type": bedrock_error_type(name) or name,
        "message": message if isinstance(message, str) else name,
    }
    for key, value in body.items():
        if key not in ("message", "Message", "type"):
            error[key] = value
    error["bedrock_exception"] = name
    return Frame("error", orjson.dumps({"type": "error", "error": error}).decode("utf-8"))


# -- encoding (for mock servers and tests) ----------------------------------------------------


def encode_event_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Encode one eventstream frame: prelude, string headers (type 7), payload and both CRCs.

    Example:
        >>> frame = encode_event_frame({":message-type": "event"}, b"{}")
        >>> len(frame) == int.from_bytes(frame[:4], "big")
        True
    """
    parts = []
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if not 0 < len(raw_name) <= 255:
            raise ValueError(f"eventstream header name must be 1-255 bytes: {name!r}")
        if len(raw_value) > 0xFFFF:
            raise ValueError(f"eventstream header {name!r} value is over 65535 bytes")
        parts.append(struct.pack(">B", len(raw_name)) + raw_name)
        parts.append(b"\x07" + struct.pack(">H", len(raw_value)) + raw_value)
    raw_headers = b"".join(parts)
    total = _OVERHEAD + len(raw_headers) + len(payload)
    lengths = struct.pack(">II", total, len(raw_headers))
    prelude = lengths + struct.pack(">I", zlib.crc32(lengths))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def chunk_frame(event_json: bytes, pad: bool | int = True) -> bytes:
    """A Bedrock ``chunk`` frame carrying one Anthropic event JSON (base64 in ``bytes``).

    ``pad`` adds the ``p`` padding field Bedrock sends: ``True`` picks a length from the
    event (deterministic), an ``int`` gives the exact length, ``False``/``0`` omits it.

    Example:
        >>> EventStreamDecoder().feed(chunk_frame(b'{"type":"ping"}', pad=5))[0].event
        'ping'
    """
    body: dict[str, str] = {"bytes": base64.b64encode(event_json).decode("ascii")}
    length = zlib.crc32(event_json) % 60 + 1 if pad is True else int(pad)
    if length > 0:
        alphabet = _PADDING_ALPHABET * (length // len(_PADDING_ALPHABET) + 1)
        body["p"] = alphabet[:length]
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return encode_event_frame(headers, orjson.dumps(body))


def exception_frame(exception_type: str, message: str, **fields: Any) -> bytes:
    """A Bedrock exception frame, e.g. ``throttlingException`` (extra JSON ``fields`` allowed).

    Example:
        >>> f = exception_frame("modelStreamErrorException", "boom", originalStatusCode=500)
        >>> EventStreamDecoder().feed(f)[0].event
        'error'
    """
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_event_frame(headers, orjson.dumps({"message": message, **fields}))


def split_frames(data: bytes) -> list[bytes]:
    """Cut a well-formed eventstream body into its frames (no CRC check; for replaying).

    Example:
        >>> split_frames(chunk_frame(b"{}", pad=0) * 2)[0] == chunk_frame(b"{}", pad=0)
        True
    """
    frames: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _PRELUDE:
            raise EventStreamError("eventstream body ends inside a prelude")
        (total,) = struct.unpack_from(">I", data, pos)
        if total < _OVERHEAD or pos + total > len(data):
            raise EventStreamError(f"invalid eventstream frame length {total} at offset {pos}")
        frames.append(data[pos : pos + total])
        pos += total
    return frames
