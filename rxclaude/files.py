"""The Files API: upload, list, retrieve, download and delete files (api-reference.md §5).

Example::

    async with rxclaude.Client() as client:
        files = Files(client)                      # client.files once wired in
        meta = await files.upload("report.pdf")    # multipart/form-data, part "file"
        async for f in files.list():               # every page
            print(f.id, f.filename, f.size_bytes)
        await files.delete(meta.id)

Strategy: each call is one HTTP request on the client's pooled aiohttp session, with the
client's headers (auth, ``anthropic-version``, its betas) plus ``anthropic-beta:
files-api-2025-04-14`` unless ``beta=None`` (the GA API). Failures before the response status
are retried with ``client.retry`` exactly like streams are; a non-2xx answer is typed by
:func:`~rxclaude.transport.providers.anthropic.api_error_from_http`. Uploads stream from disk (never read
whole into memory) and downloads stream to a temporary file renamed into place at the end.

Timeouts (``client.timeouts``): ``connect`` for the connection; ``first_byte`` is the longest
wait for the response status *counted from the last body byte handed to the socket*, so a
slow 500 MB upload is not a timeout while bytes still flow; ``idle`` the longest silence while
reading a response body; ``total`` one whole call, retries included (one page for ``list``).

With ``beta`` set, paths carry ``?beta=true`` as the official SDK's beta resources do
(``POST /v1/files?beta=true``); the API routes on the path, so this only mirrors the SDK's
wire format. With ``beta=None`` neither the header nor the query is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import errno
import hashlib
import io
import mimetypes
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import aiohttp

from rxclaude.core import media
from rxclaude.core.errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    FirstByteTimeoutError,
    MediaTooLargeError,
    RxClaudeError,
    TotalTimeoutError,
    TransportError,
    UnsupportedFeatureError,
)
from rxclaude.transport import rest
from rxclaude.transport.providers.anthropic import AnthropicProvider
from rxclaude.transport.providers.platform import PlatformProvider

__all__ = [
    "FILES_BETA",
    "MAX_FILE_BYTES",
    "FileDeleted",
    "FileMetadata",
    "FilePage",
    "Files",
]

#: The ``anthropic-beta`` value of the Files API beta.
FILES_BETA = "files-api-2025-04-14"
#: Largest file the API accepts (500 MB per file, taken as MiB like the other MB limits).
MAX_FILE_BYTES = 500 * 1024 * 1024

_CHUNK = 1 << 20  # download: bytes gathered before each write to disk
_ERROR_BODY_LIMIT = 1 << 20
_KNOWN_FIELDS = ("id", "type", "filename", "mime_type", "size_bytes", "created_at", "downloadable")
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_TEXTUAL_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/yaml")

PathLike = str | os.PathLike[str]
#: What :meth:`Files.upload` takes: a path, or the file's bytes.
UploadSource = PathLike | bytes | bytearray | memoryview


FilesHost = rest.Host
"""What :class:`Files` uses of its client (a :class:`~rxclaude.Client`): connection and policies."""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileMetadata:
    """One file's metadata: ``{id, type:"file", filename, mime_type, size_bytes, created_at, downloadable}``.

    Fields the API adds later (``expires_at`` in the GA API, ...) are kept in ``extra`` and
    written back by :meth:`to_dict`.

    Example:
        >>> m = FileMetadata.from_dict({"id": "file_011CNha8iCJcU1wXNR6q4V8w", "type": "file",
        ...     "filename": "a.pdf", "mime_type": "application/pdf", "size_bytes": 1024,
        ...     "created_at": "2025-04-14T12:00:00Z", "downloadable": False, "expires_at": None})
        >>> m.filename, m.extra
        ('a.pdf', mappingproxy({'expires_at': None}))
    """

    id: str
    filename: str
    mime_type: str
    size_bytes: int
    created_at: str
    downloadable: bool = False
    type: str = "file"
    extra: Mapping[str, Any] = field(default_factory=lambda: _frozen(None), hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.extra, MappingProxyType):
            object.__setattr__(self, "extra", _frozen(self.extra))  # immutable, like the rest

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileMetadata:
        """Build from the API's JSON object (unknown fields go to ``extra``).

        Example:
            >>> FileMetadata.from_dict({"id": "file_1", "filename": "x.txt", "mime_type": "text/plain",
            ...     "size_bytes": 3, "created_at": "2025-04-14T12:00:00Z"}).downloadable
            False
        """
        file_id = data.get("id")
        if not isinstance(file_id, str):
            raise ValueError(f"file metadata has no string 'id': {dict(data)!r}"[:300])
        size = data.get("size_bytes", 0)
        return cls(
            id=file_id,
            filename=str(data.get("filename", "")),
            mime_type=str(data.get("mime_type", "application/octet-stream")),
            size_bytes=int(size) if isinstance(size, int | float | str) else 0,
            created_at=str(data.get("created_at", "")),
            downloadable=bool(data.get("downloadable", False)),
            type=str(data.get("type", "file")),
            extra=_frozen({k: v for k, v in data.items() if k not in _KNOWN_FIELDS}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, unknown fields included.

        Example:
            >>> FileMetadata("file_1", "x.txt", "text/plain", 3, "2025-04-14T12:00:00Z").to_dict()["type"]
            'file'
        """
        return {
            "id": self.id,
            "type": self.type,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
            "downloadable": self.downloadable,
            **self.extra,
        }

    @property
    def created(self) -> _dt.datetime | None:
        """``created_at`` as an aware datetime (``None`` if it does not parse).

        Example:
            >>> FileMetadata("file_1", "x", "text/plain", 1, "2025-04-14T12:00:00Z").created.year
            2025
        """
        try:
            return _dt.datetime.fromisoformat(self.created_at)
        except ValueError:
            return None

    def block(self) -> dict[str, Any]:
        """The content block that references this file in a Messages request.

        Images become ``image`` blocks, PDFs and plain text ``document`` blocks, anything else
        a ``container_upload`` block (for the code-execution tool).

        Example:
            >>> FileMetadata("file_1", "a.pdf", "application/pdf", 9, "").block()
            {'type': 'document', 'source': {'type': 'file', 'file_id': 'file_1'}}
        """
        source = {"type": "file", "file_id": self.id}
        if self.mime_type in media.IMAGE_MEDIA_TYPES:
            return {"type": "image", "source": source}
        if self.mime_type in (media.PDF, media.TEXT):
            return {"type": "document", "source": source}
        return {"type": "container_upload", "file_id": self.id}


@dataclass(frozen=True, slots=True)
class FileDeleted:
    """What ``DELETE /v1/files/{id}`` answers: ``{"id": ..., "type": "file_deleted"}``.

    Example:
        >>> FileDeleted.from_dict({"id": "file_1", "type": "file_deleted"})
        FileDeleted(id='file_1', type='file_deleted')
    """

    id: str
    type: str = "file_deleted"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileDeleted:
        """Build from the API's JSON object.

        Example:
            >>> FileDeleted.from_dict({"id": "file_1"}).type
            'file_deleted'
        """
        return cls(id=str(data.get("id", "")), type=str(data.get("type", "file_deleted")))


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of ``GET /v1/files``.

    Beta-era pages carry ``has_more``, ``first_id`` and ``last_id`` (cursors for
    ``after_id``/``before_id``); GA-era pages may carry an opaque ``next_page`` cursor instead.

    Example:
        >>> FilePage(data=(), has_more=False).last_id is None
        True
    """

    data: tuple[FileMetadata, ...]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None
    next_page: str | None = None

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> FilePage:
        """Build from the API's JSON object (``first_id``/``last_id`` default to the data's ends).

        Example:
            >>> FilePage.from_dict({"data": [], "has_more": False, "next_page": None}).has_more
            False
        """
        items = body.get("data")
        data = (
            tuple(FileMetadata.from_dict(x) for x in items if isinstance(x, Mapping)) if isinstance(items, list) else ()
        )
        first, last, nxt = body.get("first_id"), body.get("last_id"), body.get("next_page")
        return cls(
            data=data,
            has_more=bool(body.get("has_more", False)),
            first_id=first if isinstance(first, str) else (data[0].id if data else None),
            last_id=last if isinstance(last, str) else (data[-1].id if data else None),
            next_page=nxt if isinstance(nxt, str) and nxt else None,
        )


# -- I/O helpers -------------------------------------------------------------------------------


class _Progress:
    """When the request body last made progress (read by the first-byte watchdog)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


class _ProgressFile(io.BufferedReader):
    """A file opened for upload that records each read (aiohttp reads it in a worker thread)."""

    def __init__(self, path: str, progress: _Progress) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._progress = progress

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._progress.touch()
        return data


class _ProgressBytes(io.BytesIO):
    """In-memory upload data that records each read."""

    def __init__(self, data: bytes, progress: _Progress) -> None:
        super().__init__(data)
        self._progress = progress

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._progress.touch()
        return data


_Upload = aiohttp.FormData | aiohttp.MultipartWriter
_Body = Callable[[_Progress, str | None], tuple[_Upload, Callable[[], None]]]
"""Builds an upload body (a fresh stream each call); with a boundary, a fixed-boundary multipart."""


class _HashSink:
    """Where a multipart body is written once to learn its SHA-256 (for SigV4), streamed, not kept."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._hash.update(chunk)

    async def write_eof(self, chunk: bytes = b"") -> None:
        self._hash.update(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


async def _upload_sha256(body: _Body, boundary: str) -> str:
    """The SHA-256 of the multipart bytes ``body(…, boundary)`` sends, read through once."""
    writer, close = body(_Progress(), boundary)
    sink = _HashSink()
    try:
        if not isinstance(writer, aiohttp.MultipartWriter):
            raise TypeError("a signed upload needs a fixed-boundary multipart body")
        await writer.write(sink)  # type: ignore[arg-type]  # the writer only calls sink.write()
    finally:
        close()
    return sink.hexdigest()


class _FirstByteExpired(Exception):
    """Internal: the first-byte watchdog fired."""


async def _watch_first_byte(
    request: Awaitable[aiohttp.ClientResponse], budget: float | None, progress: _Progress
) -> aiohttp.ClientResponse:
    """Await the response, failing once ``budget`` seconds pass with no body progress."""
    if budget is None:
        return await request
    task = asyncio.ensure_future(request)
    returned = False
    try:
        while True:
            remaining = progress.last + budget - time.monotonic()
            if remaining <= 0:
                raise _FirstByteExpired
            done, _ = await asyncio.wait({task}, timeout=remaining)
            if done:
                returned = True
                return task.result()
    finally:
        if not returned:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is None:
                task.result().close()  # it arrived just as we gave up


def _safe_filename(name: str) -> str:
    """A filename for a multipart header: no directories, no control characters."""
    name = _UNSAFE_FILENAME_CHARS.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1])
    if not name.strip() or name in (".", ".."):
        raise ValueError(f"upload(): {name!r} is not a usable filename")
    return name


def _sniff_head(head: bytes, complete: bool) -> str | None:
    """``media.sniff`` on the first bytes of a file (a cut UTF-8 sequence is not binary)."""
    found = media.sniff(head)
    if found is None and not complete:
        for cut in (1, 2, 3):
            if len(head) > cut and (found := media.sniff(head[:-cut])) is not None:
                break
    return found


def _media_type(sniffed: str | None, filename: str) -> str:
    """Sniffed binary types win; for text a more precise type from the extension is kept."""
    guessed = mimetypes.guess_type(filename)[0]
    if sniffed is not None and sniffed != media.TEXT:
        return sniffed
    if sniffed == media.TEXT:
        if guessed and (guessed.startswith("text/") or guessed in _TEXTUAL_TYPES):
            return guessed
        return media.TEXT
    return guessed or "application/octet-stream"


def _default_filename(media_type: str) -> str:
    ext = {media.JPEG: ".jpg", media.TEXT: ".txt"}.get(media_type) or mimetypes.guess_extension(media_type)
    return "upload" + (ext or ".bin")


# -- the resource ------------------------------------------------------------------------------


class Files:
    """``client.files``: the Files API of the first-party Anthropic API.

    Args:
        client: the :class:`~rxclaude.Client` whose session, headers, retries and timeouts are used.
        beta: the ``anthropic-beta`` value to add (default ``files-api-2025-04-14``); ``None``
            for the GA API (no beta header, no ``?beta=true``).

    Example::

        files = Files(client)
        meta = await files.upload("chart.png")
        text = await client.messages.create(model=m, max_tokens=256,
            messages=[content.user(meta.block(), "Describe this chart")])
    """

    def __init__(self, client: FilesHost, *, beta: str | None = FILES_BETA) -> None:
        self._client = client
        self.beta = beta

    def __repr__(self) -> str:
        base = getattr(self._client.provider, "base_url", None)
        return f"Files(base_url={base!r}, beta={self.beta!r})"

    # -- public API ----------------------------------------------------------------------------

    async def upload(
        self,
        file: UploadSource,
        filename: str | None = None,
        media_type: str | None = None,
        *,
        expires_in_seconds: int | None = None,
    ) -> FileMetadata:
        """Upload a file (a path, streamed from disk, or bytes) as ``multipart/form-data``.

        The part is named ``file`` and carries ``filename`` (default: the path's name) and
        ``media_type`` (default: sniffed from the bytes -- PDF, JPEG/PNG/GIF/WebP, text --, else
        guessed from the filename, else ``application/octet-stream``). ``expires_in_seconds``
        is the GA API's optional form field (3600-7776000).

        Raises:
            FileNotFoundError: the path does not exist.
            MediaTooLargeError: over 500 MB (checked before anything is sent).
            APIError: the API said no (typed, e.g. :class:`~rxclaude.core.errors.RequestTooLargeError`).

        Example::

            meta = await client.files.upload("report.pdf")
            meta = await client.files.upload(png_bytes, filename="chart.png")
        """
        limit = MAX_FILE_BYTES
        path: str | None = None
        data: bytes | None = None
        if isinstance(file, bytes | bytearray | memoryview):
            data = bytes(file)
            size = len(data)
            label = "upload(): the bytes"
            head, complete = data[:8192], size <= 8192
        elif isinstance(file, str | os.PathLike):
            path = os.fspath(file)
            label = path
            try:
                info = os.stat(path)
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, "upload(): no such file", path) from None
            if not os.path.isfile(path):
                raise IsADirectoryError(errno.EISDIR, "upload(): not a regular file", path)
            size = info.st_size
            head, complete = b"", True
            if media_type is None and size <= limit:
                with open(path, "rb") as f:
                    head = f.read(8192)
                complete = len(head) >= size
        else:
            raise TypeError(f"upload() takes a path or bytes, not {type(file).__name__}")
        if size > limit:
            raise MediaTooLargeError(
                f"{label}: file is {size} bytes; the Files API accepts at most {limit} bytes "
                f"({limit / 2**20:g} MB) per file",
                limit=limit,
            )
        sniffed = None if media_type is not None else _sniff_head(head, complete)
        if filename is None:
            filename = (
                os.path.basename(path)
                if path is not None
                else _default_filename(media_type or _media_type(sniffed, ""))
            )
        filename = _safe_filename(filename)
        ctype = media_type or _media_type(sniffed, filename)

        def body(progress: _Progress, boundary: str | None = None) -> tuple[_Upload, Callable[[], None]]:
            stream: io.IOBase = (
                _ProgressFile(path, progress) if path is not None else _ProgressBytes(data or b"", progress)
            )
            if boundary is not None:  # the same bytes twice: once hashed for a SigV4 signature, once sent
                writer = aiohttp.MultipartWriter("form-data", boundary=boundary)
                part = writer.append(stream, {"Content-Type": ctype})
                part.set_content_disposition("form-data", quote_fields=False, name="file", filename=filename)
                if expires_in_seconds is not None:
                    writer.append(str(int(expires_in_seconds))).set_content_disposition(
                        "form-data", name="expires_in_seconds"
                    )
                return writer, stream.close
            form = aiohttp.FormData(quote_fields=False)  # raw UTF-8 filename, as httpx sends it
            form.add_field("file", stream, filename=filename, content_type=ctype)
            if expires_in_seconds is not None:
                form.add_field("expires_in_seconds", str(int(expires_in_seconds)))
            return form, stream.close

        async def call() -> FileMetadata:
            response = await self._request("POST", "/v1/files", body=body)
            return FileMetadata.from_dict(await self._json(response, "POST /v1/files"))

        return await self._total(call())

    def list(
        self, limit: int | None = None, *, after_id: str | None = None, before_id: str | None = None
    ) -> AsyncIterator[FileMetadata]:
        """Every file, walking all pages (newest first); ``limit`` is the page size (1-1000).

        Follows ``has_more``/``last_id`` (``after_id``), or a GA ``next_page`` cursor. With
        ``before_id`` it walks toward newer files instead (``first_id``).

        Example::

            async for f in client.files.list():
                print(f.id, f.filename)
        """
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 1000):
            raise ValueError(f"list(): limit must be an integer from 1 to 1000, not {limit!r}")
        if after_id is not None and before_id is not None:
            raise ValueError("list(): pass after_id or before_id, not both")
        return self._walk(limit, after_id, before_id)

    async def list_page(
        self,
        *,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        page: str | None = None,
    ) -> FilePage:
        """One page of ``GET /v1/files``.

        Example::

            page = await client.files.list_page(limit=100)
            if page.has_more:
                page = await client.files.list_page(limit=100, after_id=page.last_id)
        """
        query = {
            k: v
            for k, v in (
                ("limit", None if limit is None else str(limit)),
                ("after_id", after_id),
                ("before_id", before_id),
                ("page", page),
            )
            if v is not None
        }

        async def call() -> FilePage:
            response = await self._request("GET", "/v1/files", query=query)
            return FilePage.from_dict(await self._json(response, "GET /v1/files"))

        return await self._total(call())

    async def retrieve(self, file_id: str) -> FileMetadata:
        """The metadata of one file (:class:`~rxclaude.core.errors.NotFoundError` if there is none).

        Example::

            meta = await client.files.retrieve("file_011CNha8iCJcU1wXNR6q4V8w")
        """
        path = f"/v1/files/{_quote_id(file_id)}"

        async def call() -> FileMetadata:
            response = await self._request("GET", path)
            return FileMetadata.from_dict(await self._json(response, f"GET {path}"))

        return await self._total(call())

    async def delete(self, file_id: str) -> FileDeleted:
        """Delete a file (files persist until deleted).

        Example::

            await client.files.delete(meta.id)
        """
        path = f"/v1/files/{_quote_id(file_id)}"

        async def call() -> FileDeleted:
            response = await self._request("DELETE", path)
            return FileDeleted.from_dict(await self._json(response, f"DELETE {path}"))

        return await self._total(call())

    async def content(self, file_id: str) -> bytes:
        """A downloadable file's bytes, in memory (see :meth:`download` for large files).

        Only files created by code execution or skills are downloadable; the API refuses others.

        Example::

            data = await client.files.content(meta.id)
        """
        path = f"/v1/files/{_quote_id(file_id)}/content"

        async def call() -> bytes:
            response = await self._request("GET", path, accept="application/binary")
            try:
                chunks = []
                while chunk := await self._read_chunk(response):
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                response.close()

        return await self._total(call())

    async def download(self, file_id: str, path: PathLike) -> Path:
        """Stream a downloadable file to ``path``; returns the path written.

        The bytes go to a temporary file next to ``path``, renamed over it once complete, so
        ``path`` never holds a partial download. If ``path`` is a directory the file keeps its
        own name inside it.

        Example::

            saved = await client.files.download(meta.id, "out/")
        """
        target = Path(path)
        if target.is_dir():
            meta = await self.retrieve(file_id)
            target = target / _safe_filename(meta.filename or file_id)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        loop = asyncio.get_running_loop()
        done = False
        try:
            with os.fdopen(fd, "wb") as out:
                await self._total(self._download_into(file_id, out, loop))
                await loop.run_in_executor(None, _flush_and_sync, out)
            os.replace(tmp, target)
            done = True
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return target

    # -- internals -----------------------------------------------------------------------------

    async def _download_into(self, file_id: str, out: io.BufferedWriter, loop: asyncio.AbstractEventLoop) -> None:
        path = f"/v1/files/{_quote_id(file_id)}/content"
        response = await self._request("GET", path, accept="application/binary")
        try:
            pending = bytearray()
            while chunk := await self._read_chunk(response):
                pending += chunk
                if len(pending) >= _CHUNK:
                    await loop.run_in_executor(None, out.write, bytes(pending))
                    pending.clear()
            if pending:
                await loop.run_in_executor(None, out.write, bytes(pending))
        finally:
            response.close()

    async def _walk(
        self, limit: int | None, after_id: str | None, before_id: str | None
    ) -> AsyncIterator[FileMetadata]:
        backward = before_id is not None
        cursor: dict[str, str] = {"before_id": before_id} if before_id else ({"after_id": after_id} if after_id else {})
        seen: set[tuple[str, str]] = set()
        while True:
            page = await self.list_page(limit=limit, **cursor)
            for meta in page.data:
                yield meta
            if page.next_page is not None:
                key, value = "page", page.next_page
            elif page.has_more and page.data and (value := (page.first_id if backward else page.last_id) or ""):
                key = "before_id" if backward else "after_id"
            else:
                return
            if (key, value) in seen:
                return  # a server repeating its cursor: stop instead of looping forever
            seen.add((key, value))
            cursor = {key: value}

    def _provider(self) -> AnthropicProvider | PlatformProvider:
        provider = self._client.provider
        if isinstance(provider, PlatformProvider):
            if not provider.files_api:
                raise UnsupportedFeatureError(
                    f"the Files API is not served by {provider.platform} (provider {provider.name!r})"
                )
            return provider
        if not isinstance(provider, AnthropicProvider):
            raise UnsupportedFeatureError(
                f"the Files API is only on the first-party Anthropic API and the platforms that serve it, "
                f"not on {provider.name}"
            )
        return provider

    def _url(self, provider: AnthropicProvider | PlatformProvider, path: str, query: Mapping[str, str]) -> str:
        params = {"beta": "true", **query} if self.beta else dict(query)
        if not params:
            return provider.base_url + path
        return (
            provider.base_url
            + path
            + "?"
            + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
        )

    async def _headers(
        self,
        provider: AnthropicProvider | PlatformProvider,
        method: str,
        url: str,
        accept: str,
        content_sha256: str | None = None,
    ) -> dict[str, str]:
        betas = list(self._client.betas)
        if self.beta and self.beta not in betas:
            betas.append(self.beta)
        headers = provider.headers(betas, accept=accept)
        # aiohttp sets the content type itself (multipart boundary); GET/DELETE send no body.
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if isinstance(provider, PlatformProvider):
            headers = await provider.authorize(method, url, headers, b"", content_sha256=content_sha256)
        return headers

    async def _total(self, call: Awaitable[Any]) -> Any:
        total = self._client.timeouts.total
        try:
            async with asyncio.timeout(total):
                return await call
        except TimeoutError as e:
            if isinstance(e, RxClaudeError):
                raise
            raise TotalTimeoutError(f"request took longer than total={total}s", timeout=total) from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: _Body | None = None,
        accept: str = "application/json",
    ) -> aiohttp.ClientResponse:
        """Send with retries before the first byte; a 2xx response (caller closes it) or a typed error."""
        provider = self._provider()
        retry = self._client.retry
        url = self._url(provider, path, query or {})
        retries = 0
        while True:
            boundary = content_sha256 = None
            if body is not None and isinstance(provider, PlatformProvider) and provider.signs_body:
                boundary = uuid.uuid4().hex  # SigV4 signs the body: hash the exact multipart bytes first
                content_sha256 = await _upload_sha256(body, boundary)
            headers = await self._headers(provider, method, url, accept, content_sha256)
            progress = _Progress()
            data, close = body(progress, boundary) if body is not None else (None, None)
            try:
                response = await self._send(method, url, headers, data, progress)
            except (TransportError, ConnectionError) as e:
                if retries < retry.max_retries and not isinstance(e, TotalTimeoutError):
                    await asyncio.sleep(retry.delay(retries))
                    retries += 1
                    continue
                raise
            finally:
                if close is not None:
                    close()
            if response.status < 400:
                return response
            try:
                error_body = await self._read_error_body(response)
            finally:
                response.close()
            error = provider.error_from_response(response.status, response.headers, error_body)
            if retries < retry.max_retries and retry.should_retry(response.status, response.headers):
                await asyncio.sleep(retry.delay(retries, response.headers))
                retries += 1
                continue
            raise error

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], data: _Upload | None, progress: _Progress
    ) -> aiohttp.ClientResponse:
        timeouts = self._client.timeouts
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=timeouts.connect, sock_read=None)
        session = self._client.transport.session
        try:
            return await _watch_first_byte(
                session.request(method, url, headers=dict(headers), data=data, timeout=timeout, allow_redirects=False),
                timeouts.first_byte,
                progress,
            )
        except _FirstByteExpired:
            raise FirstByteTimeoutError(
                f"no response within first_byte={timeouts.first_byte}s of the request being sent",
                timeout=timeouts.first_byte,
            ) from None
        except aiohttp.ServerTimeoutError:  # only sock_connect is set
            raise ConnectTimeoutError(
                f"could not connect within {timeouts.connect}s", timeout=timeouts.connect
            ) from None
        except aiohttp.ClientConnectorError as e:
            raise ConnectError(f"cannot connect to {e.host}:{e.port}: {e.os_error}") from None
        except aiohttp.ClientError as e:
            raise ConnectionLostError(f"connection failed before the response: {e}") from None

    async def _read_chunk(self, response: aiohttp.ClientResponse) -> bytes:
        return await rest.read_chunk(self._client, response)

    async def _read_error_body(self, response: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        with contextlib.suppress(RxClaudeError):
            while size < _ERROR_BODY_LIMIT and (chunk := await self._read_chunk(response)):
                chunks.append(chunk)
                size += len(chunk)
        return b"".join(chunks)

    async def _json(self, response: aiohttp.ClientResponse, what: str) -> Mapping[str, Any]:
        return await rest.read_json(self._client, response, what)


def _quote_id(file_id: str) -> str:
    if not isinstance(file_id, str) or not file_id:
        raise ValueError(f"a file id is a non-empty str like 'file_011CNha8iCJcU1wXNR6q4V8w', not {file_id!r}")
    return quote(file_id, safe="")


def _flush_and_sync(out: io.BufferedWriter) -> None:
    out.flush()
    os.fsync(out.fileno())
