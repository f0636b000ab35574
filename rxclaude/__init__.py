"""rxclaude: Claude's streaming Messages API as reactive streams.

Example::

    from rxclaude import operators as ops
    bytes_.pipe(ops.frames(), ops.parse(), ops.text()).subscribe(print)
"""

from . import operators
from ._accumulate import MessageAccumulator, MessageSnapshot
from ._parse import parse_frame
from ._sse import SSEDecoder
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .events import (
    Citation,
    ContentBlock,
    Delta,
    Event,
    Frame,
    Message,
    ToolInput,
    Usage,
)

__all__ = sorted(
    [
        *_errors_all,
        "Citation",
        "ContentBlock",
        "Delta",
        "Event",
        "Frame",
        "Message",
        "MessageAccumulator",
        "MessageSnapshot",
        "SSEDecoder",
        "ToolInput",
        "Usage",
        "operators",
        "parse_frame",
    ]
)
