"""Many requests, results as they complete: ``client.messages.map(requests)``.

Example::

    requests = [{"custom_id": f"q{i}", "params": {"model": m, "max_tokens": 256,
                 "messages": [{"role": "user", "content": q}]}} for i, q in enumerate(questions)]
    async for result in client.messages.map(requests, on_start=lambda cid, s: s.text.subscribe(...)):
        print(result.custom_id, result.ok, result.message.text if result.ok else result.error)

Strategy: the requests are pulled lazily (an iterable of 100,000 is never held as 100,000
tasks): at most ``window`` are started ahead of the results. Each runs as one
:class:`~rxclaude.stream.MessageStream`; with the client's :class:`~rxclaude.admission.Admission`
they queue for the rate-limit budget (else a semaphore of ``concurrency`` bounds them). A
failure is a result, never an exception out of the loop: :class:`RunResult` carries the
request's ``custom_id``, its message or its typed error, and its stream (``on_start`` sees the
stream before it starts, to subscribe to its live Observables). Leaving the loop early
cancels what is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rxclaude.core.batch import BatchResult
from rxclaude.core.message import Message
from rxclaude.stream import MessageStream

__all__ = ["RunResult", "run_requests"]

OnStart = Callable[[str, MessageStream], None]
StartStream = Callable[[Mapping[str, Any]], MessageStream]


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one request of a run: its ``message`` or its ``error``, never both.

    ``stream`` is the request's :class:`~rxclaude.stream.MessageStream` (``None`` if it could
    not be made, e.g. invalid params); ``to_dict()`` is the Message Batches results line.

    Example:
        >>> RunResult("q1", error=ValueError("no params")).to_dict()["result"]["type"]
        'errored'
    """

    custom_id: str
    message: Message | None = None
    error: Exception | None = None
    stream: MessageStream | None = None

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None and self.message is not None

    def to_batch_result(self) -> BatchResult:
        """As a :class:`~rxclaude.core.batch.BatchResult` (``succeeded`` or ``errored``)."""
        if self.message is not None and self.error is None:
            return BatchResult.succeeded(self.custom_id, self.message)
        return BatchResult.errored(self.custom_id, self.error or RuntimeError("no message"))

    def to_dict(self) -> dict[str, Any]:
        """The results line: ``{"custom_id": ..., "result": {"type": "succeeded", "message": ...}}``."""
        return self.to_batch_result().to_dict()


def _request_id(request: Any, index: int) -> tuple[str, Mapping[str, Any] | None, Exception | None]:
    if not isinstance(request, Mapping):
        return f"#{index}", None, ValueError(f"request #{index} is not an object: {request!r}"[:200])
    custom_id = request.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return f"#{index}", None, ValueError(f"request #{index} has no str custom_id")
    params = request.get("params")
    if not isinstance(params, Mapping):
        return custom_id, None, ValueError(f"request {custom_id!r} has no 'params' object")
    return custom_id, params, None


async def run_requests(
    start: StartStream,
    requests: Iterable[Mapping[str, Any]],
    *,
    concurrency: int | None = 16,
    window: int | None = None,
    on_start: OnStart | None = None,
) -> AsyncIterator[RunResult]:
    """Stream every request of ``requests`` (Batches format) and yield results as they complete.

    ``start(params)`` makes each request's (not yet started) stream. ``concurrency`` bounds
    requests in flight (``None``: no bound of its own, e.g. under admission control, whose
    ``max_concurrency`` and buckets do). ``window`` (default ``4 * concurrency``, at least 64)
    bounds requests started ahead of the results.

    Example::

        async for result in run_requests(lambda p: client.messages.stream(**p), requests):
            print(result.custom_id, result.ok)
    """
    if concurrency is not None and concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    gate = asyncio.Semaphore(concurrency) if concurrency is not None else None
    ahead = window or max(64, 4 * (concurrency or 64))
    seen: set[str] = set()
    source: Iterator[Mapping[str, Any]] = iter(requests)
    running: set[asyncio.Task[RunResult]] = set()
    index = 0

    async def one(custom_id: str, params: Mapping[str, Any]) -> RunResult:
        stream: MessageStream | None = None
        try:
            if gate is not None:
                await gate.acquire()
            try:
                stream = start(params)
                if on_start is not None:
                    on_start(custom_id, stream)
                message = await stream.final_message()
            finally:
                if gate is not None:
                    gate.release()
            return RunResult(custom_id, message, None, stream)
        except Exception as e:
            return RunResult(custom_id, None, e, stream)

    def refill() -> list[RunResult]:
        nonlocal index
        immediate: list[RunResult] = []
        while len(running) < ahead:
            try:
                request = next(source)
            except StopIteration:
                break
            custom_id, params, problem = _request_id(request, index)
            index += 1
            if problem is None and custom_id in seen:
                problem = ValueError(f"custom_id {custom_id!r} appears twice")
            seen.add(custom_id)
            if problem is not None or params is None:
                immediate.append(RunResult(custom_id, None, problem))
                continue
            running.add(asyncio.get_running_loop().create_task(one(custom_id, params)))
        return immediate

    try:
        while True:
            for result in refill():
                yield result
            if not running:
                return
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                running.discard(task)
                yield task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            with contextlib.suppress(Exception):
                await asyncio.gather(*running, return_exceptions=True)
