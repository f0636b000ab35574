"""Every exception rxclaude raises, in one tree.

::

    RxClaudeError
    ├── StreamFormatError (ValueError)       the bytes are not a valid stream
    │   ├── FrameTooLargeError               an SSE line/frame over ``max_frame_size``
    │   ├── EventStreamError                 a corrupt Bedrock eventstream frame (length, CRC)
    │   ├── MalformedEventError              a frame whose data is not the JSON its event needs
    │   └── EventOrderError                  events out of order (e.g. no ``message_start`` first)
    ├── ToolInputError (ValueError)          a tool block's ``partial_json`` is not valid JSON
    ├── OutputValidationError (ValueError)   a structured output is not JSON, or not of its schema
    ├── BufferOverflowError                  a consumer fell ``maxsize`` values behind (overflow="error")
    ├── UnsupportedFeatureError (NotImplementedError)  not on this provider (the Files API on Bedrock)
    ├── ConfigurationError (ValueError)      a client option with no meaning (``auth="basic"``)
    ├── IncompleteStreamError                ended before ``message_stop``; carries ``.partial``
    │   └── StreamCancelledError             ... because it was cancelled on purpose
    ├── RoutesExhaustedError                 every route of a fallback failed before content
    ├── APIError                             the API said no (``type``, ``message``, ``request_id``)
    │   ├── BadRequestError                  400 invalid_request_error
    │   ├── AuthenticationError              401 authentication_error
    │   ├── BillingError                     402 billing_error
    │   ├── PermissionDeniedError            403 permission_error
    │   ├── NotFoundError                    404 not_found_error
    │   ├── RequestTimeoutError              408
    │   ├── ConflictError                    409
    │   ├── RequestTooLargeError             413 request_too_large
    │   ├── UnprocessableEntityError         422
    │   ├── ModelStreamError                 424 (Bedrock modelStreamErrorException)
    │   ├── RateLimitError                   429 rate_limit_error
    │   ├── UnexpectedResponseError          no stream: a 200 HTML page or JSON body, a redirect
    │   └── ServerError                      5xx
    │       ├── InternalServerError          500 api_error
    │       ├── ServiceUnavailableError      503
    │       ├── GatewayTimeoutError          504 timeout_error
    │       └── OverloadedError              529 overloaded_error
    ├── TransportError (ConnectionError)     the connection failed
    │   ├── ConnectError                     could not connect
    │   ├── ConnectionLostError              the connection dropped mid-response
    │   └── TransportTimeoutError (TimeoutError)
    │       ├── ConnectTimeoutError          no connection within ``connect``
    │       ├── FirstByteTimeoutError        no response byte within ``first_byte``
    │       ├── StreamStalledError           no byte (pings count) for ``idle`` seconds
    │       │   └── ContentStalledError      only pings (no content) for ``content`` seconds
    │       └── TotalTimeoutError            the whole request took over ``total``
    ├── ContentError (ValueError)            a request the API would reject, caught before sending
    │   ├── UnsupportedMediaError            not JPEG/PNG/GIF/WebP (or PDF/text for documents)
    │   ├── CorruptMediaError                the bytes do not decode as the format they claim
    │   ├── MediaTooLargeError               an image over 5 MB, a request over 32 MB, ...
    │   ├── ImageDimensionsError             a side over 8000 px (2000 px past 20 images)
    │   ├── TooManyImagesError               more images than one request may carry
    │   ├── EncryptedPDFError                encrypted or password-protected PDF
    │   └── RequestShapeError                a message role or thinking the API version refuses
    └── RelayError                           a relay, relay node or producer could not do its job
        ├── EventLogError (ConnectionError)  the event log (Redis) is unreachable or failed a command
        ├── StreamConflictError              a stream id's next event id is taken (another writer)
        ├── StreamIdError (ValueError)       a stream id that is not 1-128 of A-Z a-z 0-9 . _ : -
        └── TokenError (ValueError)          a viewer token missing, malformed, expired, for another stream

An ``error`` event that arrives *inside* a 200 stream is typed exactly like an HTTP error
(``overloaded_error`` -> :class:`OverloadedError`), with ``status_code`` the stream's status
(200) and ``in_stream=True``.

Example::

    try:
        message = await stream.final_message()
    except rxclaude.OverloadedError as e:
        print(e.type, e.request_id, e.retryable)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BillingError",
    "BufferOverflowError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ContentStalledError",
    "ContentError",
    "CorruptMediaError",
    "EncryptedPDFError",
    "EventLogError",
    "EventOrderError",
    "EventStreamError",
    "FirstByteTimeoutError",
    "FrameTooLargeError",
    "GatewayTimeoutError",
    "ImageDimensionsError",
    "IncompleteStreamError",
    "InternalServerError",
    "MalformedEventError",
    "MediaTooLargeError",
    "ModelIdError",
    "ModelStreamError",
    "NotFoundError",
    "OutputValidationError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestShapeError",
    "RelayError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "RoutesExhaustedError",
    "RxClaudeError",
    "ServerError",
    "ServiceUnavailableError",
    "StreamCancelledError",
    "StreamConflictError",
    "StreamFormatError",
    "StreamIdError",
    "StreamStalledError",
    "TokenError",
    "TooManyImagesError",
    "ToolInputError",
    "TotalTimeoutError",
    "TransportError",
    "TransportTimeoutError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "UnsupportedMediaError",
    "error_class_for",
    "error_from_body",
]


class RxClaudeError(Exception):
    """Base class of every error rxclaude raises.

    ``partial`` is the message accumulated before the error (``Message`` with
    ``incomplete=True``) when the error ended a stream that had started, else ``None``.
    """

    partial: Any = None


# -- the byte stream ---------------------------------------------------------------------------


class StreamFormatError(RxClaudeError, ValueError):
    """The response bytes are not a valid event stream."""


class FrameTooLargeError(StreamFormatError):
    """An SSE line or frame grew past the decoder's ``max_frame_size`` (memory stays bounded)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"SSE frame of at least {size} bytes exceeds max_frame_size={limit}")
        self.size = size
        self.limit = limit


class EventStreamError(StreamFormatError):
    """A Bedrock ``application/vnd.amazon.eventstream`` frame is corrupt."""


class MalformedEventError(StreamFormatError):
    """A frame's ``data`` is not the JSON object its event needs.

    ``retryable`` is ``True`` when the data is not JSON at all (a proxy cut the event off): the
    official SDK 2.17 counts such an event as transient. rxclaude never retries a stream that
    has begun (no text twice); the flag tells a caller that sending the request again is sound.
    """

    def __init__(
        self, message: str, *, event: str | None = None, data: str | None = None, not_json: bool = False
    ) -> None:
        super().__init__(message)
        self.event = event
        self.data = data
        self.not_json = not_json

    @property
    def retryable(self) -> bool:
        """Whether the event was not JSON (transient), rather than JSON of the wrong shape."""
        return self.not_json


class EventOrderError(StreamFormatError):
    """Events arrived in an order the protocol forbids (e.g. a delta before ``message_start``)."""


class ToolInputError(RxClaudeError, ValueError):
    """A tool block's streamed ``partial_json`` is not valid JSON.

    Carries the block ``index`` and the ``json`` received so far.
    """

    def __init__(self, message: str, *, index: int, json: str) -> None:
        super().__init__(message)
        self.index = index
        self.json = json


class OutputValidationError(RxClaudeError, ValueError):
    """A structured output (a JSON reply, or a strict tool's input) is not valid JSON, ended
    before its value did, or does not match its schema.

    ``raw`` is the whole text received; ``value`` the parsed JSON (``None`` if it did not
    parse); ``errors`` one line per problem the validator found.
    """

    def __init__(self, message: str, *, raw: str, value: Any = None, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.raw = raw
        self.value = value
        self.errors = errors


class BufferOverflowError(RxClaudeError):
    """A consumer fell ``maxsize`` values behind its source with ``overflow="error"``."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(f"a slow consumer fell {maxsize} values behind (overflow='error')")
        self.maxsize = maxsize


class UnsupportedFeatureError(RxClaudeError, NotImplementedError):
    """A feature this provider does not offer, e.g. the Files API on Bedrock or Vertex AI."""


class ModelIdError(RxClaudeError, ValueError):
    """A model id named the wrong way for the provider (e.g. a Bedrock id sent to Foundry); the
    message says what the platform expects."""


class IncompleteStreamError(RxClaudeError):
    """The stream ended before ``message_stop``.

    ``partial`` is the message accumulated so far (``Message`` with ``incomplete=True``), or
    ``None`` when not even ``message_start`` arrived.
    """

    def __init__(self, message: str, *, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class StreamCancelledError(IncompleteStreamError):
    """The stream was cancelled on purpose (``cancel()``, dispose, leaving ``async with``)."""


class RoutesExhaustedError(RxClaudeError):
    """Every route of :func:`rxclaude.fallback` failed before its first content.

    ``errors`` holds each route's error, in the order the routes were tried; the last one is
    also the ``__cause__``.
    """

    def __init__(self, errors: tuple[Exception, ...]) -> None:
        tried = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
        super().__init__(f"all {len(errors)} routes failed before content ({tried})")
        self.errors = errors


# -- the API said no ---------------------------------------------------------------------------


class APIError(RxClaudeError):
    """An error reported by the API, over HTTP or as an ``error`` event inside a stream.

    Attributes:
        message: the human-readable ``error.message``.
        type: the ``error.type`` (``"overloaded_error"``...), or ``None`` if the body had none.
        status_code: the HTTP status of the response that carried it (200 for in-stream errors).
        request_id: the ``request-id`` header or the body's ``request_id``.
        body: the parsed JSON body (or ``None``).
        headers: the response headers (case-insensitive mapping), or ``None``.
        in_stream: ``True`` when the error arrived as an ``error`` event after the 200 status.
    """

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        in_stream: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.headers = headers
        self.in_stream = in_stream

    @property
    def retryable(self) -> bool:
        """Whether the official SDK's policy would retry this error before the first byte."""
        if self.headers is not None:
            should = self.headers.get("x-should-retry")
            if should == "true":
                return True
            if should == "false":
                return False
        status = self.status_code
        if self.in_stream or status is None or status == 200:
            return isinstance(self, (RateLimitError, ServerError, RequestTimeoutError, ConflictError))
        return status in (408, 409, 429) or status >= 500

    def __str__(self) -> str:
        parts = [self.message]
        if self.type:
            parts.append(f"type={self.type}")
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.in_stream:
            parts.append("in-stream")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return parts[0] + (" (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else "")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, type={self.type!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIError):
    """400 ``invalid_request_error``."""


class AuthenticationError(APIError):
    """401 ``authentication_error``."""


class BillingError(APIError):
    """402 ``billing_error``."""


class PermissionDeniedError(APIError):
    """403 ``permission_error``."""


class NotFoundError(APIError):
    """404 ``not_found_error``."""


class RequestTimeoutError(APIError):
    """408: the server timed out waiting for the request (retried)."""


class ConflictError(APIError):
    """409 (retried)."""


class RequestTooLargeError(APIError):
    """413 ``request_too_large`` (requests are capped at 32 MB)."""


class UnprocessableEntityError(APIError):
    """422."""


class ModelStreamError(APIError):
    """424: Bedrock's ``modelStreamErrorException``."""


class RateLimitError(APIError):
    """429 ``rate_limit_error`` (Bedrock: ``throttlingException``)."""


class UnexpectedResponseError(APIError):
    """A response that is not the stream, nor an error in the API's shape: a 200 whose body is an
    HTML page (a proxy's) or JSON that is not an error, or a redirect (never followed: a
    redirected POST would lose its body). ``content_type`` and ``location`` say what came;
    ``body`` holds (the start of) it. A non-JSON body counts as transient, as in the official
    SDK 2.17 (``retryable``, unless ``x-should-retry: false``); a redirect does not.
    """

    def __init__(
        self,
        message: str,
        *,
        content_type: str | None = None,
        location: str | None = None,
        transient: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.content_type = content_type
        self.location = location
        self.transient = transient

    @property
    def retryable(self) -> bool:
        """``x-should-retry`` wins; else whether the body was not JSON (a proxy's page)."""
        should = self.headers.get("x-should-retry") if self.headers is not None else None
        if should in ("true", "false"):
            return should == "true"
        return self.transient


class ServerError(APIError):
    """Any 5xx answer, or an in-stream server-side error."""


class InternalServerError(ServerError):
    """500 ``api_error``."""


class ServiceUnavailableError(ServerError):
    """503."""


class GatewayTimeoutError(ServerError):
    """504 ``timeout_error``: the request timed out while processing."""


class OverloadedError(ServerError):
    """529 ``overloaded_error`` -- also when it arrives mid-stream after a 200."""


_BY_TYPE: dict[str, type[APIError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": BillingError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": InternalServerError,
    "timeout_error": GatewayTimeoutError,
    "overloaded_error": OverloadedError,
    # Not Anthropic types: names for Bedrock/Vertex exceptions that arrive inside a stream.
    "service_unavailable_error": ServiceUnavailableError,
    "request_timeout_error": RequestTimeoutError,
    "model_stream_error": ModelStreamError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BillingError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    424: ModelStreamError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
    529: OverloadedError,
}


def error_class_for(error_type: str | None, status_code: int | None) -> type[APIError]:
    """The exception class for an ``error.type`` (preferred) or an HTTP status.

    Example:
        >>> error_class_for("overloaded_error", 200).__name__
        'OverloadedError'
    """
    if error_type and error_type in _BY_TYPE:
        return _BY_TYPE[error_type]
    if status_code is not None:
        if status_code in _BY_STATUS:
            return _BY_STATUS[status_code]
        if status_code >= 500:
            return ServerError
    return APIError


def error_from_body(
    body: Any,
    *,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    in_stream: bool = False,
) -> APIError:
    """Build the typed error for an API error body (``{"type":"error","error":{...}}``).

    Example:
        >>> e = error_from_body({"type": "error", "error": {"type": "overloaded_error",
        ...     "message": "Overloaded"}}, status_code=200, in_stream=True)
        >>> type(e).__name__, e.message
        ('OverloadedError', 'Overloaded')
    """
    error = body.get("error") if isinstance(body, dict) else None
    error_type: str | None = None
    message: str | None = None
    if isinstance(error, dict):
        t = error.get("type")
        error_type = t if isinstance(t, str) else None
        m = error.get("message")
        message = m if isinstance(m, str) else None
    request_id = body.get("request_id") if isinstance(body, dict) else None
    if not isinstance(request_id, str):
        request_id = None
    if request_id is None and headers is not None:
        request_id = headers.get("request-id")
    if message is None:
        if status_code is not None and status_code != 200:
            message = f"HTTP {status_code}"
        else:
            message = error_type or "unknown error"
    cls = error_class_for(error_type, None if in_stream else status_code)
    return cls(
        message,
        type=error_type,
        status_code=status_code,
        request_id=request_id,
        body=body,
        headers=headers,
        in_stream=in_stream,
    )


# -- the connection ----------------------------------------------------------------------------


class TransportError(RxClaudeError, ConnectionError):
    """The HTTP connection failed (no API answer to type)."""


class ConnectError(TransportError):
    """Could not connect to the server."""


class ConnectionLostError(TransportError):
    """The connection dropped before the response was complete."""


class TransportTimeoutError(TransportError, TimeoutError):
    """A timeout of the transport. ``timeout`` is the budget in seconds that ran out."""

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout


class ConnectTimeoutError(TransportTimeoutError):
    """No connection within the ``connect`` timeout."""


class FirstByteTimeoutError(TransportTimeoutError):
    """The response's first byte did not arrive within the ``first_byte`` timeout."""


class StreamStalledError(TransportTimeoutError):
    """No byte arrived for ``idle`` seconds mid-stream (pings count as liveness)."""


class ContentStalledError(StreamStalledError):
    """Bytes (pings) kept arriving, but no content event for ``Timeouts.content`` seconds."""


class TotalTimeoutError(TransportTimeoutError):
    """The whole request took longer than the ``total`` timeout."""


# -- request content ---------------------------------------------------------------------------


class ContentError(RxClaudeError, ValueError):
    """A request the API would reject, caught before sending.

    ``limit`` is the limit that was broken (bytes, pixels, count), when there is one.
    """

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class UnsupportedMediaError(ContentError):
    """The bytes are not a supported format (images: JPEG, PNG, GIF, WebP; documents: PDF)."""


class CorruptMediaError(ContentError):
    """The bytes claim a format but do not decode as it."""


class MediaTooLargeError(ContentError):
    """An image over 5 MB, or a request over 32 MB."""


class ImageDimensionsError(ContentError):
    """An image side over 8000 px (2000 px when the request has more than 20 images)."""


class TooManyImagesError(ContentError):
    """More images than one request may carry."""


class EncryptedPDFError(ContentError):
    """An encrypted or password-protected PDF (the API rejects them)."""


class RequestShapeError(ContentError):
    """The request's shape is one the API (under its ``anthropic-version``) answers 400 to:
    a ``system``-role message before ``2026-10-21``, a malformed ``thinking``. The message names
    the place and the fix."""


class ConfigurationError(RxClaudeError, ValueError):
    """A client option (argument, CLI flag or environment variable) with no meaning, e.g.
    ``auth="basic"``; the message names the option and what it accepts."""


# -- relays ------------------------------------------------------------------------------------


class RelayError(RxClaudeError):
    """A relay, a relay node or a producer could not do its job."""


class EventLogError(RelayError, ConnectionError):
    """The event log (Redis) cannot be reached or failed a command."""


class StreamConflictError(RelayError):
    """A stream's next id is already taken: another producer, or a node ended it after missed heartbeats."""


class StreamIdError(RelayError, ValueError):
    """A stream id that is not 1-128 of ``A-Z a-z 0-9 . _ : -``."""


class TokenError(RelayError, ValueError):
    """A viewer token that is missing, malformed, expired or for another stream, or a secret that is too short."""
