"""Composable operators for Claude streams: ``from rxclaude import operators as ops``.

Each is a function returning ``Callable[[Observable[A]], Observable[B]]`` for ``.pipe()``::

    bytes$ --frames()--> Frame$ --parse()--> Event$ --+-- text() ---------> str$
                                                      +-- thinking() -----> str$
                                                      +-- tool_input() ---> ToolInput$
                                                      +-- citations() ----> Citation$
                                                      +-- blocks() -------> ContentBlock$
                                                      +-- snapshots() ----> MessageSnapshot$
                                                      +-- message() ------> Message (one)
                                                      +-- usage() --------> Usage$
                                                      +-- stop_reason() --> str

Building blocks for your own: :func:`lift`, :func:`transform`, :func:`deltas`, :func:`of_type`;
fan-out without locks: :func:`broadcast` (a lock-free ``publish()``).
"""

from ._content import citations, deltas, of_type, text, thinking, tool_input
from ._frames import frames, parse
from ._lift import lift, transform
from ._message import blocks, message, snapshots, stop_reason, usage
from ._share import Broadcast, broadcast

__all__ = [
    "Broadcast",
    "blocks",
    "broadcast",
    "citations",
    "deltas",
    "frames",
    "lift",
    "message",
    "of_type",
    "parse",
    "snapshots",
    "stop_reason",
    "text",
    "thinking",
    "tool_input",
    "transform",
    "usage",
]
