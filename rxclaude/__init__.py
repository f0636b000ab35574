"""rxclaude: Claude's streaming Messages API as reactive streams.

Example::

    async with rxclaude.Client() as client:
        stream = client.messages.stream(model="claude-sonnet-4-5", max_tokens=256,
                                        messages=[{"role": "user", "content": "Hi"}])
        stream.text.subscribe(lambda s: print(s, end=""))
        message = await stream.final_message()
"""

from rxclaude import operators, sinks
from rxclaude.client import Client, Messages
from rxclaude.cloud import BedrockClient, VertexClient, client_for
from rxclaude.core.accumulate import MessageAccumulator, MessageSnapshot
from rxclaude.core.blocks import ContentBlock
from rxclaude.core.citations import Citation
from rxclaude.core.deltas import Delta
from rxclaude.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BillingError,
    BufferOverflowError,
    ConflictError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    ContentError,
    CorruptMediaError,
    EncryptedPDFError,
    EventLogError,
    EventOrderError,
    EventStreamError,
    FirstByteTimeoutError,
    FrameTooLargeError,
    GatewayTimeoutError,
    ImageDimensionsError,
    IncompleteStreamError,
    InternalServerError,
    MalformedEventError,
    MediaTooLargeError,
    ModelStreamError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RelayError,
    RequestTimeoutError,
    RequestTooLargeError,
    RxClaudeError,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamConflictError,
    StreamFormatError,
    StreamIdError,
    StreamStalledError,
    TokenError,
    ToolInputError,
    TooManyImagesError,
    TotalTimeoutError,
    TransportError,
    TransportTimeoutError,
    UnprocessableEntityError,
    UnsupportedFeatureError,
    UnsupportedMediaError,
    error_class_for,
    error_from_body,
)
from rxclaude.core.events import Event
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, ToolInput, Usage
from rxclaude.core.parse import parse_frame
from rxclaude.core.sse import SSEDecoder
from rxclaude.files import FileDeleted, FileMetadata, FilePage, Files
from rxclaude.operators.buffered import BufferStats
from rxclaude.relay import EventLog, MemoryLog, Publication, Relay, RelayNode, make_token, publish
from rxclaude.sinks import SinkHandle, aiter
from rxclaude.stream import MessageStream
from rxclaude.transport.base import Response, Timeouts
from rxclaude.transport.replay import replay
from rxclaude.version import __version__

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BedrockClient",
    "BillingError",
    "BufferOverflowError",
    "BufferStats",
    "Citation",
    "Client",
    "ConflictError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ContentBlock",
    "ContentError",
    "CorruptMediaError",
    "Delta",
    "EncryptedPDFError",
    "Event",
    "EventLog",
    "EventLogError",
    "EventOrderError",
    "EventStreamError",
    "FileDeleted",
    "FileMetadata",
    "FilePage",
    "Files",
    "FirstByteTimeoutError",
    "Frame",
    "FrameTooLargeError",
    "GatewayTimeoutError",
    "ImageDimensionsError",
    "IncompleteStreamError",
    "InternalServerError",
    "MalformedEventError",
    "MediaTooLargeError",
    "MemoryLog",
    "Message",
    "MessageAccumulator",
    "MessageSnapshot",
    "MessageStream",
    "Messages",
    "ModelStreamError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "Publication",
    "RateLimitError",
    "Relay",
    "RelayError",
    "RelayNode",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Response",
    "RxClaudeError",
    "SSEDecoder",
    "ServerError",
    "ServiceUnavailableError",
    "SinkHandle",
    "StreamCancelledError",
    "StreamConflictError",
    "StreamFormatError",
    "StreamIdError",
    "StreamStalledError",
    "Timeouts",
    "TokenError",
    "TooManyImagesError",
    "ToolInput",
    "ToolInputError",
    "TotalTimeoutError",
    "TransportError",
    "TransportTimeoutError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "UnsupportedMediaError",
    "Usage",
    "VertexClient",
    "__version__",
    "aiter",
    "client_for",
    "error_class_for",
    "error_from_body",
    "make_token",
    "operators",
    "parse_frame",
    "publish",
    "replay",
    "sinks",
]
