"""rxclaude: Claude's streaming Messages API as reactive streams.

Example::

    async with rxclaude.Client() as client:
        stream = client.messages.stream(model="claude-sonnet-4-5", max_tokens=256,
                                        messages=[{"role": "user", "content": "Hi"}])
        stream.text.subscribe(lambda s: print(s, end=""))
        message = await stream.final_message()
"""

__version__ = "0.1.0"

from . import operators, sinks
from ._accumulate import MessageAccumulator, MessageSnapshot
from ._buffer import BufferStats, SinkHandle, aiter
from ._parse import parse_frame
from ._replay import replay
from ._sse import SSEDecoder
from .client import Client, Messages
from .cloud import BedrockClient, VertexClient, client_for
from .errors import (
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
    RequestTimeoutError,
    RequestTooLargeError,
    RxClaudeError,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamFormatError,
    StreamStalledError,
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
from .events import Citation, ContentBlock, Delta, Event, Frame, Message, ToolInput, Usage
from .files import FileDeleted, FileMetadata, FilePage, Files
from .relay import Relay
from .stream import MessageStream
from .transport import Response, Timeouts

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
    "Message",
    "MessageAccumulator",
    "MessageSnapshot",
    "MessageStream",
    "Messages",
    "ModelStreamError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "Relay",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Response",
    "RxClaudeError",
    "SSEDecoder",
    "ServerError",
    "ServiceUnavailableError",
    "SinkHandle",
    "StreamCancelledError",
    "StreamFormatError",
    "StreamStalledError",
    "Timeouts",
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
    "operators",
    "parse_frame",
    "replay",
    "sinks",
]
