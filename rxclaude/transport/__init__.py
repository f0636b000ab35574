"""The client's I/O: requests as cold frame Observables, the providers, and replay.

Modules: :mod:`~rxclaude.transport.base` (timeouts, the response head, the one-exchange interface),
:mod:`~rxclaude.transport.http` (the transport: retries, timeouts, decoding; over aiohttp by default),
:mod:`~rxclaude.transport.mock` (the same transport in memory, no socket),
:mod:`~rxclaude.transport.replay` (a recording as a cold ``Observable[Frame]``), and
:mod:`~rxclaude.transport.providers`. The Files API's REST calls share the transport's aiohttp pool.
"""

from rxclaude.transport.base import Response, Timeouts
from rxclaude.transport.http import AiohttpExchange, Transport
from rxclaude.transport.mock import MockRequest, MockResponse, MockTransport
from rxclaude.transport.replay import replay

__all__ = [
    "AiohttpExchange",
    "MockRequest",
    "MockResponse",
    "MockTransport",
    "Response",
    "Timeouts",
    "Transport",
    "replay",
]
