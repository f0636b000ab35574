"""The Files API on :class:`~rxclaude.testing.MockServer`, and the checks Messages applies to media.

Routes (``?beta=true`` accepted and ignored, as the API routes on the path):

* ``POST /v1/files``: ``multipart/form-data`` parsed with aiohttp's multipart reader; the
  part must be named ``file`` and have a filename. Its content type becomes ``mime_type``
  (else guessed from the filename). The GA form field ``expires_in_seconds`` (3600-7776000)
  adds ``expires_at``. Over ``max_file_bytes`` (500 MB): 413 ``request_too_large``.
* ``GET /v1/files``: newest first; ``limit`` (default 20, 1-1000, else 400), ``after_id`` /
  ``before_id`` (both: 400), answering ``{data, has_more, first_id, last_id}``. With
  ``paging="page"`` (or a ``page`` query) the GA shape: ``{data, has_more, next_page}``.
* ``GET /v1/files/{id}``, ``DELETE /v1/files/{id}`` (``{"id", "type": "file_deleted"}``),
  ``GET /v1/files/{id}/content``.

Uploaded files have ``downloadable: false``, as on the API, where only files written by code
execution or skills can be downloaded; :meth:`MockFiles.add` makes downloadable ones. Their
``/content`` answers **400** ``invalid_request_error`` ("... is not downloadable"), not 404:
the file exists, the request is what is refused. Unknown ids answer 404 ``not_found_error``.
Every route checks the headers like ``/v1/messages`` (no key: 401; no version: 400; with
``require_beta``, no ``files-api-2025-04-14`` beta: 400).

:meth:`MockFiles.check_content` is what ``/v1/messages`` and ``count_tokens`` run on image and
document blocks: valid base64, a declared media type that matches the bytes
(:func:`rxclaude.core.media.sniff`), at most 5 MB per image, and ``file`` sources that name a
file that exists and fits the block. Each failure is a 400 ``invalid_request_error`` with the
API's ``messages.0.content.1.image.source...`` location.

Example::

    async with MockServer() as server:
        meta = server.files.add(b"%PDF-1.7 ...", "report.pdf", downloadable=True)
        ...
        assert server.files.uploads[-1].filename == "a.pdf"
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import mimetypes
import random
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson
from aiohttp import BodyPartReader, web

from rxclaude.core import media
from rxclaude.testing.recorded import RecordedRequest
from rxclaude.testing.sse import make_id

__all__ = ["MockFiles", "StoredFile", "UploadRecord"]

FILES_BETA = "files-api-2025-04-14"
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
_DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the mock holds. ``metadata()`` is its API JSON.

    Example::

        server.files.get(file_id).data == b"..."
    """

    id: str
    filename: str
    mime_type: str
    data: bytes = field(repr=False)
    created_at: str
    downloadable: bool = False
    expires_at: str | None = None
    seq: int = 0

    def metadata(self) -> dict[str, Any]:
        """``{id, type, filename, mime_type, size_bytes, created_at, downloadable}`` (+ ``expires_at``).

        Example::

            server.files.get(file_id).metadata()["downloadable"]
        """
        meta: dict[str, Any] = {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": self.created_at,
            "downloadable": self.downloadable,
        }
        if self.expires_at is not None:
            meta["expires_at"] = self.expires_at
        return meta


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """What one upload request carried, as the multipart reader parsed it.

    Attributes:
        content_type: the request's ``Content-Type`` (``multipart/form-data; boundary=...``).
        parts: ``(name, filename, content_type, size)`` of every part, in order.
        part_name, filename, part_content_type: the ``file`` part's name, filename and content
            type, when there is one.
        size: the ``file`` part's byte count.

    Example::

        up = server.files.uploads[-1]
        assert (up.part_name, up.filename, up.part_content_type) == ("file", "a.pdf", "application/pdf")
    """

    content_type: str
    parts: tuple[tuple[str | None, str | None, str | None, int], ...]
    part_name: str | None
    filename: str | None
    part_content_type: str | None
    size: int
    file_id: str | None = None


class MockHost(Protocol):
    """What :class:`MockFiles` needs of the server it is part of (a :class:`~rxclaude.testing.MockServer`)."""

    app: web.Application

    def check_auth(self, request: web.Request, record: RecordedRequest) -> web.Response | None: ...

    def record_for(self, request: web.BaseRequest) -> RecordedRequest: ...

    def response_headers(self, record: RecordedRequest, extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]: ...

    def error_response(
        self,
        record: RecordedRequest,
        status: int,
        error_type: str,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> web.Response: ...


class MockFiles:
    """The mock's file store and its ``/v1/files`` routes (``server.files``).

    Attributes:
        require_beta: answer 400 unless ``anthropic-beta`` has ``files-api-2025-04-14``.
        max_file_bytes: larger uploads answer 413 (the API's 500 MB).
        paging: ``"ids"`` (beta-era ``first_id``/``last_id``) or ``"page"`` (GA ``next_page``).
        uploads: one :class:`UploadRecord` per ``POST /v1/files``.

    Example::

        async with MockServer() as server:
            server.files.paging = "page"
            out = server.files.add(b"print(1)\\n", "out.py", downloadable=True)
    """

    def __init__(self, server: MockHost, *, rng: random.Random | None = None) -> None:
        self._server = server
        self._rng = rng or random.SystemRandom()
        self._files: dict[str, StoredFile] = {}
        self._seq_of: dict[str, int] = {}  # every id ever issued (cursors of deleted files still work)
        self._seq = 0
        self._lock = threading.Lock()  # add() may be called from the test thread (running_in_thread)
        self._installed = False
        self.require_beta = False
        self.max_file_bytes = 500 * 1024 * 1024
        self.paging: Literal["ids", "page"] = "ids"
        self.uploads: list[UploadRecord] = []

    # -- the store ------------------------------------------------------------------------------

    def add(
        self,
        data: bytes,
        filename: str,
        *,
        mime_type: str | None = None,
        downloadable: bool = False,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """Store a file (e.g. a code-execution output with ``downloadable=True``); its metadata.

        Example::

            meta = server.files.add(b"a,b\\n1,2\\n", "out.csv", downloadable=True)
        """
        if mime_type is None:
            mime_type = mimetypes.guess_type(filename)[0] or media.sniff(data) or "application/octet-stream"
        with self._lock:
            self._seq += 1
            file_id = make_id("file_011C", 20, self._rng)
            now = _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            stored = StoredFile(file_id, filename, mime_type, bytes(data), now, downloadable, expires_at, self._seq)
            self._files[file_id] = stored
            self._seq_of[file_id] = self._seq
        return stored.metadata()

    def get(self, file_id: str) -> StoredFile | None:
        """The stored file, or ``None``.

        Example::

            assert server.files.get(meta["id"]).data == b"..."
        """
        return self._files.get(file_id)

    def remove(self, file_id: str) -> bool:
        """Delete a file; whether it existed.

        Example::

            server.files.remove(meta["id"])
        """
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def __contains__(self, file_id: object) -> bool:
        return file_id in self._files

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[StoredFile]:
        return iter(self._newest_first())

    def _newest_first(self) -> list[StoredFile]:
        with self._lock:
            return sorted(self._files.values(), key=lambda f: f.seq, reverse=True)

    # -- routes ---------------------------------------------------------------------------------

    def install(self, prefix: str = "") -> None:
        """Add the routes to ``server.app`` (``MockServer.start`` does); routes already there win.

        ``prefix``: serve them under this path (a platform mock's, e.g. ``/anthropic``).

        Example::

            server.files.install()   # idempotent
        """
        if self._installed:
            return
        self._installed = True
        taken = {(r.method, r.resource.canonical) for r in self._server.app.router.routes() if r.resource}
        for method, path, handler in (
            ("POST", "/v1/files", self._upload),
            ("GET", "/v1/files", self._list),
            ("GET", "/v1/files/{file_id}", self._retrieve),
            ("DELETE", "/v1/files/{file_id}", self._delete),
            ("GET", "/v1/files/{file_id}/content", self._content),
        ):
            if (method, prefix + path) not in taken:
                self._server.app.router.add_route(method, prefix + path, handler)

    def _check_headers(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        server = self._server
        denied = server.check_auth(request, record)
        if denied is not None:
            return denied
        betas = {b.strip() for b in request.headers.get("anthropic-beta", "").split(",")}
        if self.require_beta and FILES_BETA not in betas:
            return server.error_response(
                record,
                400,
                "invalid_request_error",
                f"The Files API is in beta: add the 'anthropic-beta: {FILES_BETA}' header",
            )
        return None

    def _json(self, record: RecordedRequest, body: Any, status: int = 200) -> web.Response:
        hdrs = self._server.response_headers(record)
        hdrs["content-type"] = "application/json"
        return web.Response(status=status, body=orjson.dumps(body), headers=hdrs)

    def _not_found(self, record: RecordedRequest, file_id: str) -> web.Response:
        return self._server.error_response(record, 404, "not_found_error", f"File not found: {file_id}")

    def _bad(self, record: RecordedRequest, message: str) -> web.Response:
        return self._server.error_response(record, 400, "invalid_request_error", message)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        record = self._server.record_for(request)
        if (bad := self._check_headers(request, record)) is not None:
            return bad
        if not request.content_type.startswith("multipart/form-data"):
            return self._bad(record, f"Content-Type must be multipart/form-data, not {request.content_type!r}")
        parts: list[tuple[str | None, str | None, str | None, int]] = []
        found: tuple[str | None, str | None, bytes] | None = None
        fields: dict[str, str] = {}
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue  # a nested multipart: not part of this API
                data = await self._read_part(part)
                if data is None:
                    parts.append((part.name, part.filename, part.headers.get("content-type"), -1))
                    return self._server.error_response(
                        record,
                        413,
                        "request_too_large",
                        f"File exceeds the maximum allowed size of {self.max_file_bytes} bytes",
                    )
                ctype = part.headers.get("content-type")
                parts.append((part.name, part.filename, ctype, len(data)))
                if part.name == "file" and found is None:
                    found = (part.filename, ctype, data)
                elif part.name:
                    fields[part.name] = data.decode("utf-8", "replace")
        except ValueError as e:  # a malformed multipart body
            return self._bad(record, f"There was an issue with your request body: {e}")
        up = UploadRecord(
            request.headers.get("content-type", ""),
            tuple(parts),
            "file" if found else None,
            found[0] if found else None,
            found[1] if found else None,
            len(found[2]) if found else 0,
        )
        if found is None:
            self.uploads.append(up)
            return self._bad(record, "file: Field required")
        filename, ctype, data = found
        if not filename or len(filename) > 500:
            self.uploads.append(up)
            return self._bad(record, "file: the part needs a filename of 1 to 500 characters")
        expires_at = None
        if "expires_in_seconds" in fields:
            try:
                seconds = int(fields["expires_in_seconds"])
            except ValueError:
                seconds = -1
            if not 3600 <= seconds <= 7_776_000:
                self.uploads.append(up)
                return self._bad(record, "expires_in_seconds: Input should be between 3600 and 7776000")
            expires_at = (
                (_dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=seconds))
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
            )
        mime = ctype.split(";")[0].strip() if ctype else None
        meta = self.add(data, filename, mime_type=mime or None, expires_at=expires_at)
        self.uploads.append(
            UploadRecord(
                up.content_type, up.parts, up.part_name, up.filename, up.part_content_type, up.size, meta["id"]
            )
        )
        return self._json(record, meta)

    async def _read_part(self, part: BodyPartReader) -> bytes | None:
        """The part's bytes, or ``None`` past ``max_file_bytes``."""
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(1 << 16):
            size += len(chunk)
            if size > self.max_file_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        record = self._server.record_for(request)
        if (bad := self._check_headers(request, record)) is not None:
            return bad
        q = request.query
        raw_limit = q.get("limit")
        limit = _DEFAULT_LIMIT
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                return self._bad(record, "limit: Input should be a valid integer, unable to parse string as an integer")
            if limit < 1:
                return self._bad(record, "limit: Input should be greater than or equal to 1")
            if limit > 1000:
                return self._bad(record, "limit: Input should be less than or equal to 1000")
        after, before, page = q.get("after_id"), q.get("before_id"), q.get("page")
        if after is not None and before is not None:
            return self._bad(record, "Cannot specify both after_id and before_id")
        files = self._newest_first()
        if page is not None:
            seq = _page_seq(page)
            if seq is None:
                return self._bad(record, f"page: invalid page token {page!r}")
            files = [f for f in files if f.seq < seq]
        for name, cursor in (("after_id", after), ("before_id", before)):
            if cursor is not None and cursor not in self._seq_of:
                return self._bad(record, f"{name}: no file with id {cursor!r}")
        if after is not None:
            files = [f for f in files if f.seq < self._seq_of[after]]
        if before is not None:  # the page right before the cursor, in list order
            files = [f for f in files if f.seq > self._seq_of[before]]
            chosen = files[-limit:]
        else:
            chosen = files[:limit]
        has_more = len(files) > limit
        data = [f.metadata() for f in chosen]
        if page is not None or self.paging == "page":
            token = _page_token(chosen[-1].seq) if has_more and chosen else None
            return self._json(record, {"data": data, "has_more": has_more, "next_page": token})
        return self._json(
            record,
            {
                "data": data,
                "has_more": has_more,
                "first_id": chosen[0].id if chosen else None,
                "last_id": chosen[-1].id if chosen else None,
            },
        )

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        record = self._server.record_for(request)
        if (bad := self._check_headers(request, record)) is not None:
            return bad
        file_id = request.match_info["file_id"]
        stored = self.get(file_id)
        return self._not_found(record, file_id) if stored is None else self._json(record, stored.metadata())

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        record = self._server.record_for(request)
        if (bad := self._check_headers(request, record)) is not None:
            return bad
        file_id = request.match_info["file_id"]
        if not self.remove(file_id):
            return self._not_found(record, file_id)
        return self._json(record, {"id": file_id, "type": "file_deleted"})

    async def _content(self, request: web.Request) -> web.StreamResponse:
        record = self._server.record_for(request)
        if (bad := self._check_headers(request, record)) is not None:
            return bad
        file_id = request.match_info["file_id"]
        stored = self.get(file_id)
        if stored is None:
            return self._not_found(record, file_id)
        if not stored.downloadable:
            return self._bad(
                record,
                f"File {file_id} is not downloadable: only files created by code execution or skills can be downloaded",
            )
        hdrs = self._server.response_headers(record)
        hdrs["content-type"] = stored.mime_type
        hdrs["content-disposition"] = f'attachment; filename="{stored.filename}"'
        resp = web.StreamResponse(status=200, headers=hdrs)
        resp.content_length = len(stored.data)
        await resp.prepare(request)
        view = memoryview(stored.data)
        for start in range(0, len(view), 1 << 16):  # in pieces, as a large file arrives
            await resp.write(view[start : start + (1 << 16)])
        await resp.write_eof()
        return resp

    # -- Messages content checks ----------------------------------------------------------------

    def check_content(self, body: Mapping[str, Any]) -> str | None:
        """The API's 400 message for the first bad image or document block, else ``None``.

        Example::

            server.files.check_content({"messages": [{"role": "user", "content": [block]}]})
        """
        messages = body.get("messages")
        if not isinstance(messages, list):
            return None
        for i, message in enumerate(messages):
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, list):
                problem = self._check_blocks(content, f"messages.{i}.content")
                if problem is not None:
                    return problem
        return None

    def _check_blocks(self, blocks: Sequence[Any], where: str) -> str | None:
        for j, block in enumerate(blocks):
            if not isinstance(block, Mapping):
                continue
            here = f"{where}.{j}"
            kind = block.get("type")
            problem: str | None = None
            if kind == "image":
                problem = self._check_image(block.get("source"), f"{here}.image.source")
            elif kind == "document":
                problem = self._check_document(block.get("source"), f"{here}.document.source")
            elif kind == "tool_result" and isinstance(block.get("content"), list):
                problem = self._check_blocks(block["content"], f"{here}.tool_result.content")
            if problem is not None:
                return problem
        return None

    def _check_image(self, source: Any, where: str) -> str | None:
        if not isinstance(source, Mapping):
            return f"{where}: Field required"
        kind = source.get("type")
        if kind == "base64":
            declared = source.get("media_type")
            if declared not in media.IMAGE_MEDIA_TYPES:
                return (
                    f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                )
            data = source.get("data")
            if isinstance(data, str) and len(data) > MAX_IMAGE_BASE64:
                return f"{where}.base64: image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BASE64} bytes"
            raw = _decode(data)
            if raw is None:
                return f"{where}.base64.data: The image data is not valid base64"
            actual = media.sniff(raw)
            if actual not in media.IMAGE_MEDIA_TYPES:
                return f"{where}.base64.data: Could not process image"
            if actual != declared:
                return (
                    f"{where}.base64.data: The image was specified using the {declared} media type, "
                    f"but the image appears to be a {actual} image"
                )
            return None
        if kind == "url":
            return None if isinstance(source.get("url"), str) else f"{where}.url.url: Field required"
        if kind == "file":
            return self._check_file(source, where, "image", media.IMAGE_MEDIA_TYPES)
        return (
            f"{where}: Input tag {kind!r} found using 'type' does not match any of the expected tags: "
            "'base64', 'url', 'file'"
        )

    def _check_document(self, source: Any, where: str) -> str | None:
        if not isinstance(source, Mapping):
            return f"{where}: Field required"
        kind = source.get("type")
        if kind == "base64":
            if source.get("media_type") != media.PDF:
                return f"{where}.base64.media_type: Input should be 'application/pdf'"
            raw = _decode(source.get("data"))
            if raw is None:
                return f"{where}.base64.data: The PDF data is not valid base64"
            if media.sniff(raw) != media.PDF:
                return f"{where}.base64.data: The PDF specified was not valid."
            return None
        if kind == "text":
            if source.get("media_type") != media.TEXT:
                return f"{where}.text.media_type: Input should be 'text/plain'"
            return None if isinstance(source.get("data"), str) else f"{where}.text.data: Input should be a valid string"
        if kind == "url":
            return None if isinstance(source.get("url"), str) else f"{where}.url.url: Field required"
        if kind == "file":
            return self._check_file(source, where, "document", (media.PDF, media.TEXT))
        if kind == "content":
            content = source.get("content")
            if not isinstance(content, list):
                return f"{where}.content.content: Input should be a valid list"
            return self._check_blocks(content, f"{where}.content.content")
        return (
            f"{where}: Input tag {kind!r} found using 'type' does not match any of the expected tags: "
            "'base64', 'text', 'content', 'url', 'file'"
        )

    def _check_file(self, source: Mapping[str, Any], where: str, block: str, accepted: Sequence[str]) -> str | None:
        file_id = source.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            return f"{where}.file.file_id: Field required"
        stored = self.get(file_id)
        if stored is None:
            return f"{where}.file.file_id: File not found: {file_id}"
        if stored.mime_type not in accepted:
            return (
                f"{where}.file: File {file_id} has MIME type {stored.mime_type}, which is not supported in "
                f"{block} blocks (supported: {', '.join(accepted)})"
            )
        return None


def _decode(data: Any) -> bytes | None:
    if not isinstance(data, str) or not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _page_token(seq: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"before:{seq}".encode()).decode().rstrip("=")


def _page_seq(token: str) -> int | None:
    if not token.startswith("page_"):
        return None
    payload = token[5:]
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        return int(text.removeprefix("before:")) if text.startswith("before:") else None
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
