"""Composable operators for Claude streams: ``from rxclaude import operators as ops``.

Each is a function returning ``Callable[[Observable[A]], Observable[B]]`` for ``.pipe()``::

    bytes$ --frames()--> Frame$ --parse()--> Event$ --+-- text() ---------> str$
                                                      +-- thinking() -----> str$
                                                      +-- tool_input() ---> ToolInput$
                                                      +-- partial_output() -> PartialOutput$
                                                      +-- citations() ----> Citation$
                                                      +-- blocks() -------> ContentBlock$
                                                      +-- snapshots() ----> MessageSnapshot$
                                                      +-- message() ------> Message (one)
                                                      +-- usage() --------> Usage$
                                                      +-- stop_reason() --> str

Building blocks for your own: :func:`lift`, :func:`transform`, :func:`deltas`, :func:`of_type`;
fan-out without locks: :func:`broadcast` (a lock-free ``publish()``); slow consumers:
:func:`buffered` (and :func:`rxclaude.sinks.to_async_sink`); time as data: :func:`time_to_first_token`,
:func:`inter_token_gaps`, :func:`tokens_per_second`, :func:`throughput`, :func:`timestamped`;
an even flow for UIs and speech: :func:`smooth`; structured output as it grows: :func:`partial_output`.
"""

from rxclaude.core.values import Timestamped
from rxclaude.operators.assembling import blocks, message, snapshots, stop_reason, usage
from rxclaude.operators.buffering import buffered
from rxclaude.operators.decoding import frames, parse
from rxclaude.operators.extracting import citations, deltas, of_type, text, thinking, tool_input
from rxclaude.operators.lifting import lift, transform
from rxclaude.operators.smoothing import smooth
from rxclaude.operators.structuring import partial_output
from rxclaude.operators.timing import (
    CONTENT_DELTAS,
    inter_token_gaps,
    throughput,
    time_to_first_token,
    timestamped,
    tokens_per_second,
)
from rxclaude.plumbing import Broadcast, broadcast

__all__ = [
    "Broadcast",
    "CONTENT_DELTAS",
    "Timestamped",
    "blocks",
    "broadcast",
    "buffered",
    "citations",
    "deltas",
    "frames",
    "inter_token_gaps",
    "lift",
    "message",
    "of_type",
    "parse",
    "partial_output",
    "smooth",
    "snapshots",
    "stop_reason",
    "text",
    "thinking",
    "throughput",
    "time_to_first_token",
    "timestamped",
    "tokens_per_second",
    "tool_input",
    "transform",
    "usage",
]
