"""A sans-I/O decoder for ``text/event-stream`` bodies (WHATWG HTML "event stream interpretation").

Strategy: bytes in, :class:`~rxclaude.Frame` values out; no I/O, no asyncio, no logging.
Incoming chunks are appended to one ``bytearray`` that only ever holds the unterminated tail
(the last partial line), so each chunk is scanned once, from where the previous scan stopped
(no quadratic rescans when a huge frame arrives a byte at a time).  All complete lines of a
chunk are cut off at once (first normalized when they hold a ``\\r``: ``CRLF`` -> ``LF``, then
lone ``CR`` -> ``LF``, which is exact) and split with ``bytes.split(b"\\n")`` about 16 KiB at a
time (2 KiB first), so a 200 KB read neither leaves the CPU caches nor delays its first frame.
Lines stay ``bytes`` until a field value is used, so a multi-byte character split across
chunks decodes whole.  Joining ``data`` lines before decoding gives the same text as decoding
each line, because ``LF`` can never be part of a UTF-8 sequence.  :meth:`SSEDecoder.push_fields`
hands each frame out as its fields (``data`` still bytes), without building a ``Frame``.

Example::

    >>> d = SSEDecoder()
    >>> d.feed(b"event: ping\\ndata: {}\\n")
    []
    >>> d.feed(b"\\n")
    [Frame(event='ping', data='{}', id=None, retry=None)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from rxclaude.core.errors import FrameTooLargeError, StreamFormatError
from rxclaude.core.frame import Frame

__all__ = ["SSEDecoder"]

_BOM = b"\xef\xbb\xbf"
_MAX_CACHED_TYPES = 64  # distinct "event: <type>" lines remembered per decoder
_SLICE = 16 * 1024  # bytes of complete lines interpreted at a time
_FIRST_SLICE = 2 * 1024  # ... and at the start of each read
_MAX_RETRY_DIGITS = 4000  # int() refuses longer decimal strings (sys.get_int_max_str_digits)


class SSEDecoder:
    """Decode a Server-Sent Events byte stream into :class:`~rxclaude.Frame` values.

    Follows the WHATWG spec exactly: ``CR``, ``LF`` and ``CRLF`` line endings (also a ``CRLF``
    split across two chunks), one leading UTF-8 BOM stripped, comments, fields without a colon,
    ``data``/``event``/``id``/``retry``, unknown fields ignored, invalid UTF-8 replaced by
    U+FFFD.  U+2028/U+2029 and other Unicode separators are not line breaks.

    Choices the spec leaves to the user agent:

    * ``Frame.id`` is the last-event-ID buffer at dispatch time (it persists across frames;
      ``None`` until the first valid ``id`` field, ``""`` after an empty one).
    * A valid ``retry`` (ASCII digits only) takes effect at once in :attr:`reconnection_time`
      and is also put on the *next dispatched* frame as ``Frame.retry`` -- even when the block
      that carried it had no data (``retry: 3000`` alone in a block).  Values of more than
      4,000 significant digits are ignored.
    * ``on_comment`` is called synchronously from :meth:`feed` with the text after the
      colon (one leading space removed), before :meth:`feed` returns that chunk's frames.

    Memory is bounded: a line longer than ``max_frame_size`` bytes, or an event whose data
    (lines joined with ``\\n``) grows past it, raises :class:`~rxclaude.core.errors.FrameTooLargeError`
    and nothing more is buffered.  Frames completed earlier in the same chunk are still
    returned, and the error is raised by the next call instead.  After any error (also one
    raised by ``on_comment``) the decoder is broken: every later :meth:`feed` or :meth:`close`
    raises again.

    Example:
        >>> d = SSEDecoder()
        >>> frames = d.feed(b'\\xef\\xbb\\xbfid: 7\\r\\ndata: a\\r\\ndata: b\\r\\n\\r\\ndata: c\\n\\n')
        >>> [(f.data, f.id) for f in frames]
        [('a\\nb', '7'), ('c', '7')]
        >>> d.close()
        []
    """

    __slots__ = (
        "_bom",
        "_buf",
        "_closed",
        "_data",
        "_data_len",
        "_error",
        "_event",
        "_id",
        "_last_event_id",
        "_max",
        "_on_comment",
        "_reconnection_time",
        "_retry",
        "_skip_lf",
        "_types",
    )

    def __init__(
        self,
        max_frame_size: int = 16 * 1024 * 1024,
        on_comment: Callable[[str], None] | None = None,
    ) -> None:
        if max_frame_size < 1:
            raise ValueError(f"max_frame_size must be positive, got {max_frame_size}")
        self._max = max_frame_size
        self._on_comment = on_comment
        self._buf = bytearray()  # the unterminated tail; never holds CR or LF
        self._bom = True  # still at the very start: a BOM may be (partly) in _buf
        self._skip_lf = False  # the last chunk ended with CR: drop one LF starting the next
        self._data: list[bytes] = []  # the data buffer, one entry per data line
        self._data_len = 0  # sum(len(line) + 1) over _data
        self._event = ""  # the event type buffer
        self._id: str | None = None  # the last-event-ID buffer (None: never set)
        self._last_event_id: str | None = None  # the buffer as of the last blank line
        self._retry: int | None = None  # a retry waiting for the next dispatched frame
        self._reconnection_time: int | None = None
        self._error: Exception | None = None
        self._closed = False
        self._types: dict[bytes, str] = {}  # "event: x" line -> "x"

    @property
    def last_event_id(self) -> str | None:
        """The spec's "last event ID string": send it as ``Last-Event-ID`` when reconnecting.

        It takes the ``id`` buffer's value at each blank line (each dispatch), so an ``id`` whose
        event was cut off by a dropped connection is not counted as received. It is updated when
        a chunk is done: inside :meth:`push`'s ``emit``, read the frame's own ``Frame.id``.

        Example:
            >>> d = SSEDecoder(); _ = d.feed(b"id: 42\\ndata: x\\n\\nid: 43\\ndata: cut off"); d.last_event_id
            '42'
        """
        return self._last_event_id

    @property
    def reconnection_time(self) -> int | None:
        """The latest valid ``retry`` value in milliseconds, or ``None`` if none was seen.

        Example:
            >>> d = SSEDecoder(); _ = d.feed(b"retry: 1500\\n"); d.reconnection_time
            1500
        """
        return self._reconnection_time

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the body; return the frames it completed, in order.

        Raises :class:`~rxclaude.core.errors.FrameTooLargeError` past ``max_frame_size``.

        Example:
            >>> d = SSEDecoder()
            >>> d.feed(b"data: h\\xc3"), d.feed(b"\\xa9\\r"), d.feed(b"\\n\\n")
            ([], [], [Frame(event='message', data='hé', id=None, retry=None)])
        """
        frames: list[Frame] = []
        try:
            self.push(data, frames.append)
        except FrameTooLargeError:
            if frames:
                return frames  # the error is raised by the next call
            raise
        return frames

    def push(self, data: bytes, emit: Callable[[Frame], None]) -> None:
        """Like :meth:`feed`, but hand each frame to ``emit`` the moment it is complete.

        No list is built, and the first frame of a big chunk goes out before the rest of the
        chunk is decoded (time to first token does not grow with the read size).  A frame over
        ``max_frame_size`` raises at once, after the frames before it were emitted.  An
        exception raised by ``emit`` propagates and leaves the decoder broken, like one from
        ``on_comment``.  ``emit`` must not call back into this decoder.

        Example:
            >>> SSEDecoder().push(b"event: ping\\ndata: {}\\n\\n", print)
            Frame(event='ping', data='{}', id=None, retry=None)
        """
        self._push(data, emit, False)

    def push_fields(self, data: bytes, emit: Callable[[str, bytes, str | None, int | None], None]) -> None:
        """Like :meth:`push`, but each frame goes out as its fields, with no :class:`Frame` built:
        ``emit(event, data, id, retry)``, ``data`` being the joined ``data`` lines as raw bytes.

        For a consumer that looks at most frames only once (``orjson.loads`` takes bytes) and
        builds a ``Frame`` only when it keeps one: ``Frame(event, data.decode("utf-8",
        "replace"), id, retry)`` is exactly the frame :meth:`push` would have emitted.

        Example:
            >>> SSEDecoder().push_fields(b"event: ping\\ndata: {}\\n\\n", lambda *fields: print(fields))
            ('ping', b'{}', None, None)
        """
        self._push(data, emit, True)

    def _push(self, data: bytes, emit: Callable[..., None], fields: bool) -> None:
        if self._error is not None or self._closed:
            raise self._unusable()
        buf = self._buf
        if self._skip_lf:
            if not data:
                return
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        start = len(buf)  # everything before this is known to hold no line ending
        buf += data
        if self._bom:
            if len(buf) < 3 and _BOM.startswith(buf):
                return  # maybe a BOM split across chunks: wait for more
            self._bom = False
            if buf.startswith(_BOM):
                del buf[:3]
            start = 0
        nl = buf.rfind(b"\n", start)
        cr = buf.rfind(b"\r", start)
        end = (nl if nl > cr else cr) + 1
        if not end:
            if len(buf) > self._max:
                self._fail(FrameTooLargeError(len(buf), self._max))
            return
        region = bytes(buf[:end])
        del buf[:end]
        if cr >= 0:
            if cr == end - 1 and not buf:
                self._skip_lf = True
            region = region.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self._max
        try:
            start, size, step = 0, len(region), _FIRST_SLICE
            while start < size:
                # Whole lines, a slice at a time: a big read (a consumer that fell behind gets
                # 200 KB at once) is split into a few hundred lines, not thousands, so they stay
                # in the CPU caches; and a short first slice lets the first frames of a read go
                # out before the rest of it is split.
                stop = size if size - start <= step else region.rfind(b"\n", start, start + step) + 1
                if stop <= start:  # one line longer than a slice
                    stop = region.find(b"\n", start + step) + 1
                step = _SLICE
                lines = region[start:stop].split(b"\n") if start or stop < size else region.split(b"\n")
                lines.pop()  # the empty string after the final LF
                if stop - start > limit:
                    for i, line in enumerate(lines):
                        if len(line) > limit:
                            self._process(lines[:i], emit, fields)
                            raise FrameTooLargeError(len(line), limit)
                self._process(lines, emit, fields)
                start = stop
            if len(buf) > limit:
                raise FrameTooLargeError(len(buf), limit)
        except FrameTooLargeError as exc:
            self._fail(exc)
        except BaseException:
            self._error = StreamFormatError("SSEDecoder is unusable after an exception inside feed()")
            self._discard()
            raise

    def close(self) -> list[Frame]:
        """End of stream: discard any pending partial line and undispatched event.

        Per the spec nothing is dispatched at EOF, so this returns ``[]`` (or raises a
        pending error).  Calling it again is harmless; :meth:`feed` afterwards raises
        :class:`RuntimeError`.

        Example:
            >>> d = SSEDecoder(); d.feed(b"data: never dispatched\\n"); d.close()
            []
            []
        """
        if self._error is not None:
            raise self._unusable()
        self._closed = True
        self._discard()
        return []

    # -- internals -----------------------------------------------------------------------------

    def _process(self, lines: list[bytes], emit: Callable[..., None], fields: bool) -> None:
        """Interpret complete lines (without terminators), emitting dispatched frames (as
        ``Frame`` values, or as their fields with ``fields=True``)."""
        data = self._data
        data_len = self._data_len
        event = self._event
        last_id = self._id
        last_event_id = self._last_event_id
        retry = self._retry
        limit = self._max + 1  # data_len counts one LF more than the joined data
        on_comment = self._on_comment
        types = self._types
        join = b"\n".join
        make_frame = Frame
        try:
            for line in lines:
                if not line:
                    last_event_id = last_id  # the spec sets it before checking for data
                    if data:
                        if fields:
                            emit(event or "message", join(data), last_id, retry)
                        else:
                            emit(make_frame(event or "message", join(data).decode("utf-8", "replace"), last_id, retry))
                        retry = None
                        data = []
                        data_len = 0
                    event = ""
                    continue
                first = line[0]
                if first == 0x64 and line[:6] == b"data: ":  # the common case first
                    value = line[6:]
                else:
                    if first == 0x65:
                        cached = types.get(line)  # a whole "event: <type>" line seen before
                        if cached is not None:
                            event = cached
                            continue
                    name, _, value = line.partition(b":")
                    if value[:1] == b" ":
                        value = value[1:]
                    if name != b"data":
                        if name == b"event":
                            event = value.decode("utf-8", "replace")
                            if len(types) < _MAX_CACHED_TYPES:
                                types[line] = event
                        elif not name:  # a comment: the line starts with ":"
                            if on_comment is not None:
                                on_comment(value.decode("utf-8", "replace"))
                        elif name == b"id":
                            if b"\x00" not in value:
                                last_id = value.decode("utf-8", "replace")
                        elif name == b"retry" and value.isdigit():  # bytes.isdigit(): ASCII only
                            digits = value.lstrip(b"0") or b"0"
                            if len(digits) <= _MAX_RETRY_DIGITS:
                                retry = self._reconnection_time = int(digits)
                        continue
                data.append(value)
                data_len += len(value) + 1
                if data_len > limit:
                    raise FrameTooLargeError(data_len - 1, self._max)
        finally:
            self._data = data
            self._data_len = data_len
            self._event = event
            self._id = last_id
            self._last_event_id = last_event_id
            self._retry = retry

    def _discard(self) -> None:
        self._buf = bytearray()
        self._data = []
        self._data_len = 0
        self._event = ""
        self._skip_lf = False

    def _fail(self, exc: FrameTooLargeError) -> NoReturn:
        self._error = exc
        self._discard()
        raise self._unusable()

    def _unusable(self) -> Exception:
        err = self._error
        if isinstance(err, FrameTooLargeError):
            return FrameTooLargeError(err.size, err.limit)
        if err is not None:
            return StreamFormatError(*err.args)
        return RuntimeError("SSEDecoder.feed() called after close()")
