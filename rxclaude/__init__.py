"""rxclaude: Claude's streaming Messages API as reactive streams.

Example::

    async with rxclaude.Client() as client:
        stream = client.messages.stream(model="claude-sonnet-5-5", max_tokens=256,
                                        messages=[{"role": "user", "content": "Hi"}])
        stream.text.subscribe(lambda s: print(s, end=""))
        message = await stream.final_message()
"""

from rxclaude import operators, sinks
from rxclaude.admission import Admission
from rxclaude.batches import Batches, BatchNotEndedError
from rxclaude.client import Client, Messages
from rxclaude.cloud import (
    AnthropicAWSClient,
    BedrockClient,
    BedrockMantleClient,
    FoundryClient,
    GoogleCloudClient,
    VertexClient,
    client_for,
)
from rxclaude.core.accumulate import MessageAccumulator, MessageSnapshot
from rxclaude.core.batch import BatchDeleted, BatchPage, BatchRequestCounts, BatchResult, MessageBatch
from rxclaude.core.blocks import ContentBlock
from rxclaude.core.budget import Budget, BudgetSnapshot, Cost, Limits
from rxclaude.core.citations import Citation
from rxclaude.core.deltas import Delta
from rxclaude.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BillingError,
    BufferOverflowError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    ContentError,
    ContentStalledError,
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
    ModelIdError,
    ModelStreamError,
    NotFoundError,
    OutputValidationError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestShapeError,
    RequestTimeoutError,
    RequestTooLargeError,
    RoutesExhaustedError,
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
    UnexpectedResponseError,
    UnprocessableEntityError,
    UnsupportedFeatureError,
    UnsupportedMediaError,
    error_class_for,
    error_from_body,
)
from rxclaude.core.events import Event, RecoveryEvent
from rxclaude.core.frame import Frame
from rxclaude.core.message import Message, ToolInput, Usage
from rxclaude.core.models import DEFAULT_MODEL, ModelInfo, UnknownModelError, find_model, lookup_model
from rxclaude.core.output import PartialOutput, output_format
from rxclaude.core.parse import parse_frame
from rxclaude.core.recovery import RecoveryAttempt, RecoveryPolicy
from rxclaude.core.sse import SSEDecoder
from rxclaude.core.toolmode import ToolInputModes
from rxclaude.fallback import Attempt, FallbackStream, Route, fallback, switch_on_any
from rxclaude.files import FileDeleted, FileMetadata, FilePage, Files
from rxclaude.operators.buffering import BufferStats
from rxclaude.relay import Relay
from rxclaude.runner import RunResult
from rxclaude.sinks import SinkHandle, aiter
from rxclaude.stream import MessageStream
from rxclaude.sync import SyncClient, SyncMessageStream
from rxclaude.transport.base import Response, Timeouts
from rxclaude.transport.replay import replay
from rxclaude.version import __version__

__all__ = [
    "APIError",
    "Admission",
    "AnthropicAWSClient",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BatchDeleted",
    "BatchNotEndedError",
    "BatchPage",
    "BatchRequestCounts",
    "BatchResult",
    "Batches",
    "BedrockClient",
    "BedrockMantleClient",
    "BillingError",
    "Budget",
    "BudgetSnapshot",
    "BufferOverflowError",
    "BufferStats",
    "Citation",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ContentBlock",
    "ContentError",
    "ContentStalledError",
    "CorruptMediaError",
    "Cost",
    "DEFAULT_MODEL",
    "Delta",
    "EncryptedPDFError",
    "Event",
    "EventOrderError",
    "EventStreamError",
    "FallbackStream",
    "FileDeleted",
    "FileMetadata",
    "FilePage",
    "Files",
    "FirstByteTimeoutError",
    "FoundryClient",
    "Frame",
    "FrameTooLargeError",
    "GatewayTimeoutError",
    "GoogleCloudClient",
    "ImageDimensionsError",
    "IncompleteStreamError",
    "InternalServerError",
    "Limits",
    "MalformedEventError",
    "MediaTooLargeError",
    "Message",
    "MessageAccumulator",
    "MessageBatch",
    "MessageSnapshot",
    "MessageStream",
    "Messages",
    "ModelIdError",
    "ModelInfo",
    "ModelStreamError",
    "NotFoundError",
    "OutputValidationError",
    "OverloadedError",
    "PartialOutput",
    "PermissionDeniedError",
    "RateLimitError",
    "RecoveryAttempt",
    "RecoveryEvent",
    "RecoveryPolicy",
    "Relay",
    "RequestShapeError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Response",
    "Route",
    "RoutesExhaustedError",
    "RunResult",
    "RxClaudeError",
    "SSEDecoder",
    "ServerError",
    "ServiceUnavailableError",
    "SinkHandle",
    "StreamCancelledError",
    "StreamFormatError",
    "StreamStalledError",
    "SyncClient",
    "SyncMessageStream",
    "Timeouts",
    "TooManyImagesError",
    "ToolInput",
    "ToolInputError",
    "ToolInputModes",
    "TotalTimeoutError",
    "TransportError",
    "TransportTimeoutError",
    "UnexpectedResponseError",
    "UnknownModelError",
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
    "fallback",
    "find_model",
    "lookup_model",
    "operators",
    "output_format",
    "parse_frame",
    "replay",
    "sinks",
    "switch_on_any",
]
