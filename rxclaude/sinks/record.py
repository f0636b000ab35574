"""Recording frames with their arrival times (the format is in :mod:`rxclaude.core.recording`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson
from reactivex import Observable, abc

from rxclaude.core.frame import Frame
from rxclaude.core.recording import RECORDING_KEY, RECORDING_VERSION
from rxclaude.plumbing import clock
from rxclaude.sinks.handle import OwnedHandle, SinkHandle, run_sink

if TYPE_CHECKING:
    pass

__all__ = [
    "Outcome",
    "Recorder",
    "record",
]


class Outcome(Protocol):
    """What a recorder may ask the stream it records: was it cancelled? (:class:`~rxclaude.MessageStream` is one.)"""

    @property
    def cancelled(self) -> bool:
        """Whether the stream was cancelled on purpose (its frames then simply complete)."""
        ...


class Recorder(abc.ObserverBase[Frame]):
    """Write frames and their arrival times to a recording (the format is in the module docstring).

    ``path`` is a file name (created or truncated) or a binary file object, which is left open.
    Times come from ``scheduler`` (virtual time in tests) or ``time.monotonic``. Every line is
    flushed as it is written. The end line is written by ``on_completed``, by ``on_error``, or
    by :meth:`close` (``"stopped"``). Completion is recorded as it really happened:
    ``"completed"`` after ``message_stop``, ``"cancelled"`` when ``outcome`` (the stream being
    recorded) says it was cancelled, ``"incomplete"`` when a message started but never stopped.

    Example:
        >>> with Recorder("run.jsonl") as rec:  # doctest: +SKIP
        ...     stream.frames.subscribe(rec); await stream.wait()
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | IO[bytes],
        *,
        meta: Mapping[str, Any] | None = None,
        scheduler: abc.SchedulerBase | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        self._outcome = outcome
        self._started = False
        self._stopped = False
        self._owned = isinstance(path, (str, os.PathLike))
        self._file: IO[bytes] = open(path, "wb") if isinstance(path, (str, os.PathLike)) else path  # noqa: SIM115
        self._lock = threading.Lock()
        self._now = clock(scheduler)
        self._start = self._now()
        self.frames = 0
        """How many frames were written."""
        self.closed = False
        header: dict[str, Any] = {
            RECORDING_KEY: RECORDING_VERSION,
            "started": datetime.now(UTC).isoformat(),
            "clock": "monotonic" if scheduler is None else "scheduler",
        }
        if meta is not None:
            header["meta"] = dict(meta)
        self._write(header)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    def _t(self) -> float:
        return round(self._now() - self._start, 6)

    def on_next(self, value: Frame) -> None:
        """Write one frame line."""
        record: dict[str, Any] = {"t": self._t(), "event": value.event, "data": value.data}
        if value.id is not None:
            record["id"] = value.id
        if value.retry is not None:
            record["retry"] = value.retry
        with self._lock:
            if self.closed:
                return
            self._write(record)
            self.frames += 1
            if value.event == "message_start":
                self._started = True
            elif value.event == "message_stop":
                self._stopped = True

    def on_error(self, error: Exception) -> None:
        """Write the end line (``"error"``) and close."""
        self._end("error", {"type": type(error).__name__, "message": str(error)})

    def on_completed(self) -> None:
        """Write the end line (``"completed"``, ``"cancelled"`` or ``"incomplete"``) and close."""
        if self._outcome is not None and self._outcome.cancelled:
            self._end("cancelled")
        elif self._started and not self._stopped:
            self._end("incomplete")
        else:
            self._end("completed")

    def close(self) -> None:
        """Stop recording: write the end line (``"stopped"``) unless the source already ended."""
        self._end("stopped")

    def _end(self, how: str, error: dict[str, str] | None = None) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            record: dict[str, Any] = {"t": self._t(), "end": how}
            if error is not None:
                record["error"] = error
            try:
                self._write(record)
            finally:
                if self._owned:
                    self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def record(
    observable: Observable[Frame],
    path: str | os.PathLike[str] | IO[bytes],
    *,
    meta: Mapping[str, Any] | None = None,
    scheduler: abc.SchedulerBase | None = None,
    outcome: Outcome | None = None,
) -> SinkHandle[int]:
    """Record frames with their arrival times to ``path``; ``await`` gives the frame count.

    Times count from this call. Disposing the handle writes the ``"stopped"`` end line. The
    source's error is recorded and raised by ``await handle``. Pass the stream as ``outcome``
    (``record(stream.frames, path, outcome=stream)``) so that a cancelled stream is recorded as
    ``"cancelled"``. The file can be replayed with :func:`rxclaude.replay`.

    Example:
        >>> await sinks.record(stream.frames, "run.jsonl", meta={"model": params["model"]})  # doctest: +SKIP
    """
    recorder = Recorder(path, meta=meta, scheduler=scheduler, outcome=outcome)

    def on_stop() -> None:
        error = handle.error
        if error is not None:
            recorder.on_error(error)
        elif handle.disposed:
            recorder.close()
        else:
            recorder.on_completed()

    handle: OwnedHandle[int] = OwnedHandle(lambda: recorder.frames, on_stop=on_stop)
    run_sink(handle, observable, recorder.on_next)
    return handle


# -- asyncio -------------------------------------------------------------------------------------
