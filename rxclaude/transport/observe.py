"""The hook an instrumentation (OpenTelemetry: :mod:`rxclaude.otel`) plugs into a request.

Strategy: a request carries an :class:`Instrumentation`, or ``None``. When a subscription
starts a request, the instrumentation may answer a :class:`RequestObserver` for it, or ``None``
(tracing off, nobody listening); only then does the transport call it -- per attempt, and per
frame through a tap on the decoder's output. A request without an observer runs exactly the
code it ran before: no call, no check per frame.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

from rxclaude.transport.base import Response

__all__ = ["Instrumentation", "RequestObserver"]


class RequestObserver(Protocol):
    """What one request tells its instrumentation as it runs. No method may raise.

    Example::

        observer = instrumentation.request("anthropic", params)
        if observer is not None:
            observer.attempt(0, "POST", url, headers)   # may add trace-context headers
    """

    def attempt(self, number: int, method: str, url: str, headers: MutableMapping[str, str]) -> None:
        """Attempt ``number`` (0 first, then each retry) is about to be sent; may add headers."""
        ...

    def attempt_failed(self, error: Exception, response: Response | None) -> None:
        """The current attempt failed before its body (it may be retried)."""
        ...

    def response(self, response: Response) -> None:
        """The current attempt got a 2xx response; its body follows."""
        ...

    def frame(self, event: str, data: bytes | str) -> bool:
        """One frame of the body: its event name and raw data. Returns whether it wants the
        following ``content_block_delta`` frames too (``False``: only the other events)."""
        ...

    def end(self, error: BaseException | None) -> None:
        """The request is over: ``None`` when the body was read to its end, else what ended it
        (an ``asyncio.CancelledError`` when the subscriber disposed)."""
        ...


class Instrumentation(Protocol):
    """Decides, per request, whether (and how) it is observed.

    Example::

        client = rxclaude.Client(open_telemetry=rxclaude.otel.OpenTelemetry(content=True))
    """

    def request(self, provider: str, params: Mapping[str, Any], betas: tuple[str, ...] = ()) -> RequestObserver | None:
        """A new observer for a request that starts now, or ``None`` to leave it alone."""
        ...
