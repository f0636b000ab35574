"""rxclaude: Claude's streaming Messages API as reactive streams.

Example::

    from rxclaude import operators as ops
    bytes_.pipe(ops.frames(), ops.parse(), ops.text()).subscribe(print)
"""

__version__ = "0.1.0"

from . import operators  # noqa: E402
from ._accumulate import MessageAccumulator, MessageSnapshot
from ._parse import parse_frame
from ._sse import SSEDecoder
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .client import Client, Messages
from .stream import MessageStream
from .transport import Response, Timeouts
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
        "Client",
        "MessageStream",
        "Messages",
        "Response",
        "Timeouts",
        "__version__",
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
