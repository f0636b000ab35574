"""Message Batches values and the results JSONL decoder (pure: JSON in, values out).

Strategy: the batch object, its request counts, a page of batches and one result line are
frozen values built from the API's JSON (unknown fields kept in ``extra``, written back by
``to_dict()``). :class:`JSONLinesDecoder` is a feed/flush decoder: bytes in, one parsed object
per complete line out; it holds at most one partial line (bounded by ``max_line``), so a
results file of 100,000 lines is read in constant memory.

Example:
    >>> decoder = JSONLinesDecoder()
    >>> decoder.feed(b'{"custom_id": "a", "result": {"type": "canceled"}}\\n{"custom')
    [{'custom_id': 'a', 'result': {'type': 'canceled'}}]
    >>> [BatchResult.from_dict(d).type for d in decoder.feed(b'_id": "b", "result": {"type": "expired"}}')
    ...  + decoder.flush()]
    ['expired']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from rxclaude.core.errors import APIError, StreamFormatError, error_from_body
from rxclaude.core.message import Message
from rxclaude.core.values import FrozenDict

__all__ = [
    "BATCH_RESULT_TYPES",
    "BatchDeleted",
    "BatchPage",
    "BatchRequestCounts",
    "BatchResult",
    "JSONLinesDecoder",
    "MessageBatch",
]

#: The ``result.type`` values of a batch results line.
BATCH_RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")

_BATCH_FIELDS = (
    "id",
    "type",
    "processing_status",
    "request_counts",
    "created_at",
    "expires_at",
    "ended_at",
    "archived_at",
    "cancel_initiated_at",
    "results_url",
)
_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> FrozenDict:
    return FrozenDict({k: v for k, v in data.items() if k not in known})


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class BatchRequestCounts:
    """How many requests of a batch are in each state (all but ``processing`` stay 0 until it ends).

    Example:
        >>> BatchRequestCounts.from_dict({"processing": 3}).total
        3
    """

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchRequestCounts:
        """Build from the API's ``request_counts`` object."""
        return cls(*(int(data.get(k) or 0) for k in _COUNTS))

    def to_dict(self) -> dict[str, int]:
        """The API's ``request_counts`` object."""
        return {k: getattr(self, k) for k in _COUNTS}

    @property
    def total(self) -> int:
        """Every request of the batch."""
        return sum(getattr(self, k) for k in _COUNTS)


@dataclass(frozen=True, slots=True)
class MessageBatch:
    """A Message Batch: ``processing_status`` is ``in_progress``, ``canceling`` or ``ended``.

    Example:
        >>> b = MessageBatch.from_dict({"id": "msgbatch_01", "type": "message_batch",
        ...     "processing_status": "ended", "request_counts": {"succeeded": 2},
        ...     "created_at": "2026-12-05T08:00:00Z", "expires_at": "2026-12-06T08:00:00Z",
        ...     "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_01/results"})
        >>> b.ended, b.request_counts.succeeded
        (True, 2)
    """

    id: str
    processing_status: str
    request_counts: BatchRequestCounts
    created_at: str
    expires_at: str
    ended_at: str | None = None
    archived_at: str | None = None
    cancel_initiated_at: str | None = None
    results_url: str | None = None
    type: str = "message_batch"
    extra: FrozenDict = field(default_factory=FrozenDict, hash=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageBatch:
        """Build from the API's JSON object (unknown fields go to ``extra``)."""
        batch_id = data.get("id")
        if not isinstance(batch_id, str):
            raise StreamFormatError(f"a message batch has no string 'id': {dict(data)!r}"[:300])
        counts = data.get("request_counts")
        return cls(
            id=batch_id,
            processing_status=str(data.get("processing_status", "")),
            request_counts=BatchRequestCounts.from_dict(counts if isinstance(counts, Mapping) else {}),
            created_at=str(data.get("created_at", "")),
            expires_at=str(data.get("expires_at", "")),
            ended_at=_opt_str(data.get("ended_at")),
            archived_at=_opt_str(data.get("archived_at")),
            cancel_initiated_at=_opt_str(data.get("cancel_initiated_at")),
            results_url=_opt_str(data.get("results_url")),
            type=str(data.get("type", "message_batch")),
            extra=_extra(data, _BATCH_FIELDS),
        )

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON object."""
        return {
            "id": self.id,
            "type": self.type,
            "processing_status": self.processing_status,
            "request_counts": self.request_counts.to_dict(),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "ended_at": self.ended_at,
            "archived_at": self.archived_at,
            "cancel_initiated_at": self.cancel_initiated_at,
            "results_url": self.results_url,
            **self.extra,
        }

    @property
    def ended(self) -> bool:
        """Whether processing ended (results can be read)."""
        return self.processing_status == "ended"


@dataclass(frozen=True, slots=True)
class BatchDeleted:
    """What ``DELETE /v1/messages/batches/{id}`` answers.

    Example:
        >>> BatchDeleted.from_dict({"id": "msgbatch_01", "type": "message_batch_deleted"}).id
        'msgbatch_01'
    """

    id: str
    type: str = "message_batch_deleted"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchDeleted:
        """Build from the API's JSON object."""
        return cls(str(data.get("id", "")), str(data.get("type", "message_batch_deleted")))


@dataclass(frozen=True, slots=True)
class BatchPage:
    """One page of ``GET /v1/messages/batches`` (newest first; ``after_id=last_id`` for the next).

    Example:
        >>> BatchPage.from_dict({"data": [], "has_more": False, "first_id": None, "last_id": None}).has_more
        False
    """

    data: tuple[MessageBatch, ...]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> BatchPage:
        """Build from the API's JSON object."""
        items = body.get("data")
        data = (
            tuple(MessageBatch.from_dict(d) for d in items if isinstance(d, Mapping)) if isinstance(items, list) else ()
        )
        return cls(
            data, bool(body.get("has_more", False)), _opt_str(body.get("first_id")), _opt_str(body.get("last_id"))
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One line of a batch's results: ``{"custom_id": ..., "result": {"type": ..., ...}}``.

    ``type`` is ``succeeded`` (with ``message``), ``errored`` (with ``error``, the API's error
    object ``{"type": "error", "error": {...}}``), ``canceled`` or ``expired``.

    Example:
        >>> r = BatchResult.from_dict({"custom_id": "q1", "result": {"type": "errored", "error": {
        ...     "type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}}})
        >>> r.ok, type(r.exception).__name__
        (False, 'BadRequestError')
    """

    custom_id: str
    type: str
    message: Message | None = None
    error: FrozenDict | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchResult:
        """Build from one parsed results line."""
        custom_id = data.get("custom_id")
        result = data.get("result")
        if not isinstance(custom_id, str) or not isinstance(result, Mapping):
            raise StreamFormatError(f"not a batch result line: {dict(data)!r}"[:300])
        kind = str(result.get("type", ""))
        message = result.get("message")
        error = result.get("error")
        return cls(
            custom_id,
            kind,
            Message.from_dict(dict(message)) if isinstance(message, Mapping) else None,
            FrozenDict(error) if isinstance(error, Mapping) else None,
        )

    @classmethod
    def succeeded(cls, custom_id: str, message: Message) -> BatchResult:
        """A succeeded result.

        Example:
            >>> BatchResult.succeeded("q1", Message.from_dict({"id": "msg_1", "content": []})).ok
            True
        """
        return cls(custom_id, "succeeded", message)

    @classmethod
    def errored(cls, custom_id: str, error: BaseException) -> BatchResult:
        """An errored result from an exception (an API error keeps its type and request id).

        Example:
            >>> BatchResult.errored("q1", TimeoutError("slow")).error["error"]["type"]
            'api_error'
        """
        if isinstance(error, APIError):
            inner = {"type": error.type or "api_error", "message": error.message}
            body: dict[str, Any] = {"type": "error", "error": inner, "request_id": error.request_id}
        else:
            body = {
                "type": "error",
                "error": {"type": "api_error", "message": f"{type(error).__name__}: {error}"},
                "request_id": None,
            }
        return cls(custom_id, "errored", None, FrozenDict(body))

    def to_dict(self) -> dict[str, Any]:
        """The results line as the API writes it."""
        result: dict[str, Any] = {"type": self.type}
        if self.message is not None:
            result["message"] = self.message.to_dict()
        if self.error is not None:
            result["error"] = dict(self.error)
        return {"custom_id": self.custom_id, "result": result}

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.type == "succeeded"

    @property
    def exception(self) -> APIError | None:
        """The typed error of an ``errored`` result (``None`` otherwise)."""
        if self.error is None:
            return None
        return error_from_body(dict(self.error))


class JSONLinesDecoder:
    """Feed bytes, get one parsed JSON value per complete line (blank lines skipped).

    A line longer than ``max_line`` bytes is a :class:`~rxclaude.core.errors.StreamFormatError`
    (a results line holds one Message: tens of kilobytes, rarely megabytes).

    Example:
        >>> JSONLinesDecoder().feed(b'{"a": 1}\\r\\n\\n{"b": 2}\\n')
        [{'a': 1}, {'b': 2}]
    """

    def __init__(self, *, max_line: int = 64 * 1024 * 1024) -> None:
        self.max_line = max_line
        self._parts: list[bytes] = []
        self._size = 0
        self.lines = 0

    def feed(self, data: bytes) -> list[Any]:
        """Decode what ``data`` completes."""
        out: list[Any] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            piece = data[start:end]
            if self._parts:
                self._parts.append(piece)
                piece = b"".join(self._parts)
                self._parts, self._size = [], 0
            self._parse(piece, out)
            start = end + 1
        rest = data[start:]
        if rest:
            self._size += len(rest)
            if self._size > self.max_line:
                raise StreamFormatError(f"a JSON line is longer than {self.max_line} bytes")
            self._parts.append(rest)
        return out

    def flush(self) -> list[Any]:
        """The last line, if the data did not end with a newline."""
        out: list[Any] = []
        if self._parts:
            piece = b"".join(self._parts)
            self._parts, self._size = [], 0
            self._parse(piece, out)
        return out

    def _parse(self, line: bytes, out: list[Any]) -> None:
        line = line.strip()
        if not line:
            return
        self.lines += 1
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            raise StreamFormatError(f"line {self.lines} is not JSON ({e}): {line[:120]!r}") from None
