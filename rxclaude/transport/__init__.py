"""The only client I/O: HTTP over aiohttp, the providers (Anthropic, Bedrock, Vertex), and replay.

Modules: :mod:`~rxclaude.transport.base` (timeouts, the response head), :mod:`~rxclaude.transport.http`
(one request as a cold ``Observable[Frame]``), :mod:`~rxclaude.transport.replay` (a recording as a cold
``Observable[Frame]``), and :mod:`~rxclaude.transport.providers`.
"""

from rxclaude.transport.base import Response, Timeouts
from rxclaude.transport.http import Transport
from rxclaude.transport.replay import replay

__all__ = ["Response", "Timeouts", "Transport", "replay"]
