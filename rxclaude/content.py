"""Content blocks for a Messages request (images, documents, text), checked before sending.

Every builder returns the exact JSON-ready dict the API documents (api-reference.md §5, §6)::

    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "..."}}
    {"type": "image", "source": {"type": "url", "url": "https://..."}}
    {"type": "document", "source": {"type": "file", "file_id": "file_..."}, "citations": {...}}

Strategy: a source is resolved once by its Python type. ``bytes`` are content; a ``str`` is a
URL when it starts with ``http://`` or ``https://``, a Files API id when it is exactly
``file_`` followed by letters and digits (``file_011CNha8iCJcU1wXNR6q4V8w``), a ``data:`` URL,
and otherwise a path, like any ``os.PathLike``. URLs and file ids are passed through, never
fetched. Bytes are checked locally: the media type is sniffed from the magic bytes (a name or a
declared ``media_type`` is never trusted), the container is parsed for damage and size, and
the API's limits are applied, so that a bad image fails here with a typed
:class:`~rxclaude.core.errors.ContentError` instead of as a 400 after the upload.

Limits (api-reference.md §6, from the vision and PDF docs):

* :data:`MAX_IMAGE_BYTES`: 5 MB per image, measured on the **base64** text, as the API does
  (its 400 reads ``image.source.base64: image exceeds 5 MB maximum: 5272940 bytes > 5242880
  bytes``); so a raw image may have at most 3,932,160 bytes.
* :data:`MAX_IMAGE_SIDE`: 8000 px per side; :data:`MAX_IMAGE_SIDE_MANY`: 2000 px per side when
  a request has more than :data:`MANY_IMAGES` (20) images.
* :data:`MAX_IMAGES`: 600 images per request (100 on 200k-context models).
* :data:`MAX_REQUEST_BYTES`: 32 MB per serialized request (taken as 32 MiB, like the 5 MB
  above; Bedrock allows 20 MB and Vertex 30 MB: pass ``max_request_bytes``).
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from rxclaude.core import _json, media
from rxclaude.core.errors import (
    ContentError,
    CorruptMediaError,
    ImageDimensionsError,
    MediaTooLargeError,
    TooManyImagesError,
    UnsupportedMediaError,
)

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "MANY_IMAGES",
    "MAX_IMAGES",
    "MAX_IMAGES_200K",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "MAX_IMAGE_SIDE_MANY",
    "MAX_REQUEST_BYTES",
    "STANDARD_LONG_EDGE",
    "Block",
    "Source",
    "document",
    "image",
    "references_files",
    "text",
    "user",
    "validate_request",
]

#: Largest image, in bytes of its base64 text (the measure the API applies).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Largest image side, in pixels.
MAX_IMAGE_SIDE = 8000
#: Largest image side when the request carries more than :data:`MANY_IMAGES` images.
MAX_IMAGE_SIDE_MANY = 2000
#: Past this many images in one request, :data:`MAX_IMAGE_SIDE_MANY` applies.
MANY_IMAGES = 20
#: Most images in one request.
MAX_IMAGES = 600
#: Most images in one request on models with a 200k-token context window.
MAX_IMAGES_200K = 100
#: Largest serialized request body, in bytes.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
#: The long edge past which the API downscales images anyway (standard resolution tier).
STANDARD_LONG_EDGE = 1568

#: A JSON-ready content block.
Block = dict[str, Any]
#: What ``image()`` and ``document()`` accept: bytes, a path, a URL, a file id or a data URL.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview

_FILE_ID = re.compile(r"file_[A-Za-z0-9]+")
_EXTENSION_TYPES = {
    ".jpg": media.JPEG,
    ".jpeg": media.JPEG,
    ".png": media.PNG,
    ".gif": media.GIF,
    ".webp": media.WEBP,
    ".pdf": media.PDF,
}
_IMAGE_TYPES_TEXT = ", ".join(media.IMAGE_MEDIA_TYPES)
# Base64 characters decoded to read an image header in validate_request (48 KiB of bytes).
_HEAD_CHARS = 64 * 1024


# -- sources -----------------------------------------------------------------------------------


def _resolve(source: Source, caller: str) -> tuple[Block | None, bytes, str]:
    """``(passthrough source, b"", label)`` for URLs and file ids, else ``(None, data, label)``."""
    if isinstance(source, bytes | bytearray | memoryview):
        return None, bytes(source), f"{caller}(): the bytes"
    if isinstance(source, str):
        lowered = source[:8].lower()
        if lowered.startswith(("http://", "https://")):
            return {"type": "url", "url": source}, b"", source
        if _FILE_ID.fullmatch(source):
            return {"type": "file", "file_id": source}, b"", source
        if lowered.startswith("data:"):
            return None, _data_url(source, caller), f"{caller}(): the data URL"
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"{caller}() takes bytes, a path, an http(s) URL or a file id, not {type(source).__name__}")
    path = os.fspath(source)
    try:
        return None, Path(path).read_bytes(), path
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            f"{caller}(): no such file (a str source is a path unless it starts with http:// or "
            "https:// or is a Files API id like 'file_011CNha8iCJcU1wXNR6q4V8w')",
            path,
        ) from None


def _data_url(url: str, caller: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep:
        raise ContentError(f"{caller}(): malformed data URL (no comma)")
    if header.lower().endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error as e:
            raise CorruptMediaError(f"{caller}(): the data URL is not valid base64: {e}") from None
    return urllib.parse.unquote_to_bytes(payload)


def _relabel(error: ContentError, label: str) -> ContentError:
    """The same error type, with ``label`` (file name or location) in front of the message."""
    return type(error)(f"{label}: {error}", limit=error.limit)


def _with_cache_control(block: Block, cache_control: Mapping[str, Any] | None) -> Block:
    if cache_control is not None:
        block["cache_control"] = dict(cache_control)
    return block


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


# -- text --------------------------------------------------------------------------------------


def text(s: str, *, cache_control: Mapping[str, Any] | None = None) -> Block:
    """A text block. The API rejects empty and whitespace-only text blocks, so this does too.

    Example:
        >>> text("Describe this image.")
        {'type': 'text', 'text': 'Describe this image.'}
    """
    if not isinstance(s, str):
        raise TypeError(f"text() takes a str, not {type(s).__name__}")
    if not s.strip():
        raise ContentError("text(): text blocks must contain non-whitespace text")
    return _with_cache_control({"type": "text", "text": s}, cache_control)


def user(*blocks: str | Mapping[str, Any]) -> dict[str, Any]:
    """A user message; strings become text blocks, blocks are kept in the order given.

    Put images before the question: the docs report better answers that way.

    Example:
        >>> user(image("https://example.com/ant.jpg"), "What insect is this?")["content"][1]
        {'type': 'text', 'text': 'What insect is this?'}
    """
    if not blocks:
        raise ContentError("user(): a message needs at least one content block")
    content: list[Block] = []
    for i, block in enumerate(blocks):
        if isinstance(block, str):
            content.append(text(block))
        elif isinstance(block, Mapping):
            content.append(dict(block))
        else:
            raise TypeError(f"user(): argument {i} is a {type(block).__name__}, not a str or a block dict")
    return {"role": "user", "content": content}


# -- images ------------------------------------------------------------------------------------


def image(
    source: Source,
    *,
    media_type: str | None = None,
    cache_control: Mapping[str, Any] | None = None,
    max_long_edge: int | None = None,
) -> Block:
    """An image block from bytes, a path, an ``http(s)`` URL or a Files API id.

    Bytes and files are sniffed, checked (format, damage, 5 MB of base64, 8000 px per side) and
    base64-encoded; URLs and file ids are passed through untouched. ``media_type``, when given,
    must agree with the bytes. ``max_long_edge`` (e.g. :data:`STANDARD_LONG_EDGE`) shrinks a
    larger image with Pillow (extra ``rxclaude[images]``): same format, EXIF orientation applied,
    metadata other than the ICC profile dropped, never enlarged; an image that already fits is
    sent byte for byte. URLs and file ids are never fetched, so neither checked nor shrunk.

    Raises:
        FileNotFoundError: the path does not exist.
        UnsupportedMediaError: not JPEG, PNG, GIF or WebP.
        CorruptMediaError: damaged or truncated, or not the declared ``media_type``.
        MediaTooLargeError: over 5 MB as base64.
        ImageDimensionsError: a side over 8000 px.

    Example:
        >>> block = image("photo.jpg", max_long_edge=1568)  # doctest: +SKIP
        >>> image("file_011CNha8iCJcU1wXNR6q4V8w")
        {'type': 'image', 'source': {'type': 'file', 'file_id': 'file_011CNha8iCJcU1wXNR6q4V8w'}}
    """
    if media_type is not None and media_type not in media.IMAGE_MEDIA_TYPES:
        raise UnsupportedMediaError(
            f"image(): media_type {media_type!r} is not supported (supported: {_IMAGE_TYPES_TEXT})"
        )
    if max_long_edge is not None and max_long_edge < 1:
        raise ValueError(f"image(): max_long_edge must be a positive number of pixels, not {max_long_edge}")
    passthrough, data, label = _resolve(source, "image")
    if passthrough is not None:
        return _with_cache_control({"type": "image", "source": passthrough}, cache_control)
    info = _inspect_image(data, media_type, label)
    if max_long_edge is not None and max(info.width, info.height) > max_long_edge:
        data = _downscale(data, info, max_long_edge)
        info = _inspect_image(data, None, label)
    encoded = _b64_len(len(data))
    if encoded > MAX_IMAGE_BYTES:
        raise MediaTooLargeError(
            f"{label}: image is {len(data)} bytes, {encoded} bytes as base64; the API allows at most "
            f"5 MB ({MAX_IMAGE_BYTES} bytes) of base64 per image (about {MAX_IMAGE_BYTES * 3 // 4} raw "
            f"bytes). Shrink it, e.g. image(..., max_long_edge={STANDARD_LONG_EDGE})",
            limit=MAX_IMAGE_BYTES,
        )
    if max(info.width, info.height) > MAX_IMAGE_SIDE:
        raise ImageDimensionsError(
            f"{label}: image is {info.width}x{info.height} px; the API rejects images with a side over "
            f"{MAX_IMAGE_SIDE} px. Shrink it, e.g. image(..., max_long_edge={STANDARD_LONG_EDGE})",
            limit=MAX_IMAGE_SIDE,
        )
    source_dict = {"type": "base64", "media_type": info.media_type, "data": _b64(data)}
    return _with_cache_control({"type": "image", "source": source_dict}, cache_control)


def _inspect_image(data: bytes, declared: str | None, label: str) -> media.ImageInfo:
    if not data:
        raise CorruptMediaError(f"{label}: empty, no image data")
    detected = media.sniff(data)
    claimed = declared or _EXTENSION_TYPES.get(Path(label).suffix.lower())
    if detected not in media.IMAGE_MEDIA_TYPES:
        if detected is None and claimed in media.IMAGE_MEDIA_TYPES:
            raise CorruptMediaError(f"{label}: claims to be {claimed} but the bytes are not a {claimed} image")
        raise UnsupportedMediaError(
            f"{label}: {detected or 'unrecognised data'} is not a supported image format "
            f"(supported: {_IMAGE_TYPES_TEXT})"
        )
    if declared is not None and declared != detected:
        raise CorruptMediaError(f"{label}: media_type={declared!r} but the bytes are {detected}")
    try:
        return media.image_info(data)
    except ContentError as e:
        raise _relabel(e, label) from None


def _downscale(data: bytes, info: media.ImageInfo, max_long_edge: int) -> bytes:
    """Shrink to ``max_long_edge`` with Pillow, in the same format, EXIF orientation applied."""
    try:
        from PIL import Image, ImageOps, ImageSequence
    except ImportError as e:
        raise ImportError("image(max_long_edge=...) needs Pillow: pip install 'rxclaude[images]'") from e
    scale = max_long_edge / max(info.width, info.height)
    target = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format or info.media_type.split("/")[1].upper()
        if fmt == "JPEG":
            im.draft(im.mode, target)  # let the decoder skip DCT detail we would throw away
        params: dict[str, Any] = {}
        if im.info.get("icc_profile"):
            params["icc_profile"] = im.info["icc_profile"]
        if fmt == "JPEG":
            params["quality"] = 90
        elif fmt == "WEBP":
            lossless = data[12:16] == b"VP8L" or b"VP8L" in data[:4096]
            params.update({"lossless": True} if lossless else {"quality": 90})
        out = io.BytesIO()
        n_frames = getattr(im, "n_frames", 1)
        if n_frames > 1:  # animated GIF or WebP: every frame, same timing
            frames: list[PILImage] = []
            durations: list[int] = []
            for frame in ImageSequence.Iterator(im):
                durations.append(frame.info.get("duration", im.info.get("duration", 100)))
                frames.append(_resized(frame.convert("RGBA"), target))
            frames[0].save(
                out,
                format=fmt,
                save_all=True,
                append_images=frames[1:],
                duration=durations,
                loop=im.info.get("loop", 0),
                **params,
            )
        else:
            upright = ImageOps.exif_transpose(im)
            _resized(upright, target).save(out, format=fmt, **params)
    return out.getvalue()


def _resized(im: PILImage, stored_target: tuple[int, int]) -> PILImage:
    """Resize with Lanczos to the long edge of ``stored_target`` (``im`` may be transposed)."""
    from PIL import Image

    long_edge = max(stored_target)
    width, height = im.size
    scale = long_edge / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    return im.resize(size, Image.Resampling.LANCZOS)


# -- documents ---------------------------------------------------------------------------------


def document(
    source: Source | None = None,
    *,
    text: str | None = None,
    content: Iterable[str | Mapping[str, Any]] | None = None,
    title: str | None = None,
    context: str | None = None,
    citations: bool = False,
    cache_control: Mapping[str, Any] | None = None,
    media_type: str | None = None,
) -> Block:
    """A document block: a PDF or plain text from ``source``, or ``text=``, or ``content=``.

    ``source`` is resolved like :func:`image`'s: bytes or a path are sniffed (a PDF becomes a
    base64 source, UTF-8 text a ``text`` source), an ``http(s)`` URL a ``url`` source, a Files
    API id a ``file`` source. ``text="..."`` is a plain-text document; ``content=[...]`` a
    custom-content document of text and image blocks (strings become text blocks).
    ``citations=True`` adds ``"citations": {"enabled": true}``.

    Raises:
        FileNotFoundError: the path does not exist.
        UnsupportedMediaError: neither PDF nor UTF-8 text (e.g. an image: use :func:`image`).
        CorruptMediaError: claims to be a PDF (declared or named ``*.pdf``) but is not one, or
            a truncated PDF.
        EncryptedPDFError: an encrypted or password-protected PDF.
        MediaTooLargeError: larger than a whole request may be (32 MB).

    Example:
        >>> document("https://example.com/paper.pdf", title="Paper", citations=True)
        {'type': 'document', 'source': {'type': 'url', 'url': 'https://example.com/paper.pdf'}, \
'title': 'Paper', 'citations': {'enabled': True}}
        >>> document(text="The grass is green.")["source"]
        {'type': 'text', 'media_type': 'text/plain', 'data': 'The grass is green.'}
    """
    given = [name for name, value in (("source", source), ("text", text), ("content", content)) if value is not None]
    if len(given) != 1:
        raise TypeError(f"document() takes exactly one of source, text= or content=, got {given or 'none'}")
    if media_type is not None and media_type not in (media.PDF, media.TEXT):
        raise UnsupportedMediaError(
            f"document(): media_type {media_type!r} is not supported (supported: application/pdf, text/plain)"
        )
    src: Block
    if text is not None:
        src = _text_source(text, "document(text=...)")
    elif content is not None:
        src = {"type": "content", "content": _content_blocks(content)}
    else:
        assert source is not None
        passthrough, data, label = _resolve(source, "document")
        src = passthrough if passthrough is not None else _document_source(data, media_type, label)
    block: Block = {"type": "document", "source": src}
    if title is not None:
        block["title"] = title
    if context is not None:
        block["context"] = context
    if citations:
        block["citations"] = {"enabled": True}
    return _with_cache_control(block, cache_control)


def _text_source(s: str, label: str) -> Block:
    if not isinstance(s, str):
        raise TypeError(f"{label}: takes a str, not {type(s).__name__}")
    if not s.strip():
        raise ContentError(f"{label}: the document text is empty")
    if len(s) > MAX_REQUEST_BYTES and len(s.encode("utf-8")) > MAX_REQUEST_BYTES:
        raise MediaTooLargeError(
            f"{label}: text of {len(s.encode('utf-8'))} bytes cannot fit in a request of at most "
            f"{MAX_REQUEST_BYTES} bytes (32 MB)",
            limit=MAX_REQUEST_BYTES,
        )
    return {"type": "text", "media_type": media.TEXT, "data": s}


def _content_blocks(blocks: Iterable[str | Mapping[str, Any]]) -> list[Block]:
    out: list[Block] = []
    for i, block in enumerate(blocks):
        if isinstance(block, str):
            out.append(text(block))
        elif isinstance(block, Mapping) and block.get("type") in ("text", "image"):
            out.append(dict(block))
        else:
            raise ContentError(f"document(content=...): item {i} is not a str, text block or image block")
    if not out:
        raise ContentError("document(content=...): needs at least one block")
    return out


def _document_source(data: bytes, declared: str | None, label: str) -> Block:
    if not data:
        raise CorruptMediaError(f"{label}: empty, no document data")
    detected = media.sniff(data)
    claimed = declared or _EXTENSION_TYPES.get(Path(label).suffix.lower())
    if detected == media.PDF and declared != media.TEXT:
        try:
            media.check_pdf(data)
        except ContentError as e:
            raise _relabel(e, label) from None
        encoded = _b64_len(len(data))
        if encoded > MAX_REQUEST_BYTES:
            raise MediaTooLargeError(
                f"{label}: PDF is {len(data)} bytes, {encoded} as base64, more than a whole request may "
                f"carry ({MAX_REQUEST_BYTES} bytes, 32 MB); upload it with the Files API instead",
                limit=MAX_REQUEST_BYTES,
            )
        return {"type": "base64", "media_type": media.PDF, "data": _b64(data)}
    if claimed == media.PDF:  # e.g. an HTML error page saved as report.pdf: never send it as text
        raise CorruptMediaError(
            f"{label}: claims to be a PDF but the bytes are {detected or 'unrecognised data'} "
            "(no %PDF- header); pass media_type='text/plain' to send a text file as text"
        )
    if detected == media.TEXT:
        return _text_source(data.decode("utf-8-sig"), label)
    if declared == media.TEXT:
        raise CorruptMediaError(f"{label}: media_type='text/plain' but the bytes are {detected or 'not text'}")
    hint = "; use image() for images" if detected in media.IMAGE_MEDIA_TYPES else ""
    raise UnsupportedMediaError(
        f"{label}: {detected or 'unrecognised data'} is not a supported document format "
        f"(supported: application/pdf, UTF-8 text/plain){hint}"
    )


# -- whole requests ----------------------------------------------------------------------------


def validate_request(
    params: Mapping[str, Any],
    *,
    body: bytes | None = None,
    max_images: int = MAX_IMAGES,
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> None:
    """Raise the error the API would answer with for too many, too big or mislabelled images.

    Walks ``messages[*].content`` (and the content of ``tool_result`` blocks and of custom-content
    documents). Checks, in order: the image count (base64, URL and file sources all count;
    ``max_images``, 600 by default, 100 on 200k-context models), the serialized size
    (``len(body)`` when the exact body is given, else the length of its orjson serialization),
    then each base64 image: a supported ``media_type`` that matches the bytes, at most 5 MB of
    base64, sides of at most 8000 px, or 2000 px when the request has more than 20 images. Only
    image headers are decoded (a few KiB each).

    Raises:
        TooManyImagesError, MediaTooLargeError, UnsupportedMediaError, CorruptMediaError,
        ImageDimensionsError: with the location (``messages[i].content[j]``) and the limit.

    Example:
        >>> validate_request({"model": "claude-sonnet-5-5", "max_tokens": 512,
        ...     "messages": [user(image("https://example.com/a.png"), "What is this?")]})
    """
    images = list(_images(params))
    if len(images) > max_images:
        raise TooManyImagesError(
            f"request has {len(images)} images; the API allows at most {max_images} per request "
            f"({MAX_IMAGES} on most models, {MAX_IMAGES_200K} on 200k-context models such as "
            f"Haiku 4.5); image number {max_images + 1} is at {images[max_images][0]}",
            limit=max_images,
        )
    size = len(body) if body is not None else len(_json.dumps(params))
    if size > max_request_bytes:
        raise MediaTooLargeError(
            f"request body is {size} bytes; the limit is {max_request_bytes} bytes "
            f"({max_request_bytes / 2**20:g} MB; Messages API 32 MB, Bedrock 20 MB, Vertex 30 MB)"
            f"{_largest_part(params)}. Upload large files with the Files API, or send fewer images",
            limit=max_request_bytes,
        )
    many = len(images) > MANY_IMAGES
    max_side = MAX_IMAGE_SIDE_MANY if many else MAX_IMAGE_SIDE
    for where, block in images:
        source = block.get("source")
        if not isinstance(source, Mapping) or source.get("type") != "base64":
            continue
        info = _check_base64_image(source, where)
        if max(info.width, info.height) > max_side:
            reason = (
                f"requests with more than {MANY_IMAGES} images (this one has {len(images)}) allow at "
                f"most {MAX_IMAGE_SIDE_MANY}x{MAX_IMAGE_SIDE_MANY} px per image (many-image requests)"
                if many
                else f"the API rejects images with a side over {MAX_IMAGE_SIDE} px"
            )
            raise ImageDimensionsError(f"{where}: image is {info.width}x{info.height} px; {reason}", limit=max_side)


def _images(params: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    return ((where, block) for where, block in _blocks(params) if block.get("type") == "image")


def references_files(params: Mapping[str, Any]) -> bool:
    """Whether any content block -- also inside a ``tool_result`` or a content document -- has a
    ``{"type": "file"}`` source: such a request needs the Files API beta.

    Example:
        >>> references_files({"messages": [user(document("file_011C"), "Summarize")]})
        True
    """
    for _, block in _blocks(params):
        source = block.get("source")
        if _is_mapping(source) and source.get("type") == "file":
            return True
    return False


def _blocks(params: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every content block of the request's messages, nested ones included, with its location."""
    messages = params.get("messages")
    if not _is_list(messages):
        return
    for i, message in enumerate(messages):
        if _is_mapping(message) and _is_list(message.get("content")):
            yield from _blocks_in(message["content"], f"messages[{i}].content")


def _blocks_in(blocks: Sequence[Any], where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for j, block in enumerate(blocks):
        if not _is_mapping(block):
            continue
        here = f"{where}[{j}]"
        yield here, block
        kind = block.get("type")
        if kind == "tool_result" and _is_list(block.get("content")):
            yield from _blocks_in(block["content"], f"{here}.content")
        elif kind == "document":
            source = block.get("source")
            if _is_mapping(source) and source.get("type") == "content" and _is_list(source.get("content")):
                yield from _blocks_in(source["content"], f"{here}.source.content")


def _is_list(value: object) -> TypeGuard[Sequence[Any]]:
    if type(value) is list or type(value) is tuple:  # what JSON-ish params hold: no ABC check
        return True
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    return type(value) is dict or isinstance(value, Mapping)


def _check_base64_image(source: Mapping[str, Any], where: str) -> media.ImageInfo:
    declared = source.get("media_type")
    if declared not in media.IMAGE_MEDIA_TYPES:
        raise UnsupportedMediaError(
            f"{where}: media_type {declared!r} is not supported (supported: {_IMAGE_TYPES_TEXT})"
        )
    data = source.get("data")
    if not isinstance(data, str):
        raise CorruptMediaError(f"{where}: source.data must be a base64 str, not {type(data).__name__}")
    if len(data) > MAX_IMAGE_BYTES:
        raise MediaTooLargeError(
            f"{where}: image is {len(data)} bytes as base64; the API allows at most 5 MB "
            f"({MAX_IMAGE_BYTES} bytes) of base64 per image",
            limit=MAX_IMAGE_BYTES,
        )
    try:
        try:  # the header is almost always in the first few KiB
            info = media.image_info(base64.b64decode(data[:_HEAD_CHARS], validate=True), prefix=True)
        except (binascii.Error, media.NeedMoreData):
            info = media.image_info(_decode_all(data))
    except ContentError as e:
        raise _relabel(e, where) from None
    if info.media_type != declared:
        raise CorruptMediaError(f"{where}: media_type is {declared!r} but the bytes are {info.media_type}")
    return info


def _decode_all(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CorruptMediaError(f"source.data is not valid base64: {e}") from None


def _largest_part(params: Mapping[str, Any]) -> str:
    """``"; the largest part is messages[i].content[j] (N bytes)"`` for an oversize message."""
    best, best_where = 0, ""
    messages = params.get("messages")
    if _is_list(messages):
        for i, message in enumerate(messages):
            content = message.get("content") if isinstance(message, Mapping) else None
            if not _is_list(content):
                continue
            for j, block in enumerate(content):
                if isinstance(block, Mapping):
                    n = len(_json.dumps(block))
                    if n > best:
                        best, best_where = n, f"messages[{i}].content[{j}]"
    return f"; the largest block is {best_where} ({best} bytes)" if best_where else ""
