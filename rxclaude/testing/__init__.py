"""Offline test kit: an embedded mock Anthropic Messages server speaking the real SSE wire format.

Used by the test suite, the offline demo, notebooks and benchmarks.

Example::

    from rxclaude.testing import MockServer, Reply

    async with MockServer() as server:
        server.enqueue(Reply.text("Hello!", thinking="Be brief."), Reply.error(529, retry_after=1))
        client = anthropic.AsyncAnthropic(api_key=server.api_key, base_url=server.url)
        ...
        assert server.requests[0].json["stream"] is True

Streams without a server (benchmarks)::

    body = synthesize(text=[" tok"] * 1_000_000, padding=False)
"""

from rxclaude.testing.aws import MockAWSServer
from rxclaude.testing.bedrock import BedrockMockState, MockBedrockServer, add_bedrock_routes, text_events
from rxclaude.testing.files import MockFiles, StoredFile, UploadRecord
from rxclaude.testing.foundry import MockFoundryServer
from rxclaude.testing.google_cloud import MockGoogleCloudServer
from rxclaude.testing.mantle import MockMantleServer
from rxclaude.testing.platform import PlatformMockServer
from rxclaude.testing.replies import DEFAULT_ERROR_MESSAGES, ERROR_STATUS, ERROR_TYPES, Faults, Reply, request_text
from rxclaude.testing.server import DEFAULT_API_KEY, SERVER_KEY, FrameEncoder, MockServer, Plugin, RecordedRequest
from rxclaude.testing.sse import (
    PING_FRAME,
    accumulate,
    events_from_sse,
    frame_event,
    make_id,
    parse_sse,
    split_frames,
    split_text,
    sse_bytes,
    sse_frame,
    synthesize,
    synthesize_events,
    synthesize_frames,
)
from rxclaude.testing.structured import check_structured, json_pieces
from rxclaude.testing.vertex import VERTEX_EVENT, MockVertexServer, VertexMockState, add_vertex_routes, sse_from_events

__all__ = [
    "BedrockMockState",
    "DEFAULT_API_KEY",
    "DEFAULT_ERROR_MESSAGES",
    "ERROR_STATUS",
    "ERROR_TYPES",
    "PING_FRAME",
    "SERVER_KEY",
    "FrameEncoder",
    "Faults",
    "MockAWSServer",
    "MockBedrockServer",
    "MockFiles",
    "MockFoundryServer",
    "MockGoogleCloudServer",
    "MockMantleServer",
    "MockServer",
    "MockVertexServer",
    "PlatformMockServer",
    "Plugin",
    "RecordedRequest",
    "Reply",
    "StoredFile",
    "UploadRecord",
    "VERTEX_EVENT",
    "VertexMockState",
    "accumulate",
    "add_bedrock_routes",
    "add_vertex_routes",
    "check_structured",
    "events_from_sse",
    "frame_event",
    "json_pieces",
    "make_id",
    "parse_sse",
    "request_text",
    "split_frames",
    "split_text",
    "sse_bytes",
    "sse_frame",
    "sse_from_events",
    "synthesize",
    "synthesize_events",
    "synthesize_frames",
    "text_events",
]
