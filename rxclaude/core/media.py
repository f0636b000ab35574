"""Media types and image headers, with the standard library only.

Strategy: pixels are never decoded. The media type comes from magic bytes (a file name or a
declared type is never trusted), and each image format's container is parsed just far enough
to learn its size and EXIF orientation: PNG chunks (critical-chunk CRCs checked, walked to
``IEND``), JPEG marker segments (up to the ``SOF`` frame header and the scan, then an ``EOI``
must follow), GIF blocks (walked to the trailer), WebP RIFF chunks (``VP8 ``, ``VP8L``,
``VP8X``). Anything cut short or malformed is a :class:`~rxclaude.core.errors.CorruptMediaError`.

With ``prefix=True`` the data may be only the first bytes of the file: parsing stops at the
size header and running out of bytes raises :class:`NeedMoreData` instead, so a request
validator can decode a few kilobytes of base64 instead of the whole image.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from rxclaude.core.errors import CorruptMediaError, EncryptedPDFError, UnsupportedMediaError

__all__ = [
    "GIF",
    "IMAGE_MEDIA_TYPES",
    "JPEG",
    "PDF",
    "PNG",
    "TEXT",
    "WEBP",
    "ImageInfo",
    "NeedMoreData",
    "check_pdf",
    "image_info",
    "is_encrypted_pdf",
    "is_text",
    "sniff",
]

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
TEXT = "text/plain"

#: The only image media types the Messages API accepts.
IMAGE_MEDIA_TYPES: tuple[str, ...] = (JPEG, PNG, GIF, WEBP)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Formats recognised only to name them in an "unsupported" error: (magic, offset, media type).
_OTHER_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
    (b"ftypavif", 4, "image/avif"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"BM", 0, "image/bmp"),
    (b"PK\x03\x04", 0, "application/zip"),
)

# C0 controls other than \t \n \v \f \r and ESC, plus DEL: never in plain text.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")

# ``/Encrypt`` as a dictionary key: followed by an indirect reference or a direct dictionary.
_PDF_WS = rb"[\x00\t\n\x0c\r ]"
_ENCRYPT_ENTRY = re.compile(
    rb"/Encrypt(?:" + _PDF_WS + rb"*<<|" + _PDF_WS + rb"+\d+" + _PDF_WS + rb"+\d+" + _PDF_WS + rb"+R)"
)


class NeedMoreData(Exception):
    """``image_info(..., prefix=True)`` ran out of bytes before the size header."""


class _Short(Exception):
    """Internal: the bytes end before the structure being read."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image header says: media type, stored size and EXIF orientation (1-8).

    Example:
        >>> ImageInfo("image/jpeg", 400, 300, orientation=6).display_size
        (300, 400)
    """

    media_type: str
    width: int
    height: int
    orientation: int = 1

    @property
    def display_size(self) -> tuple[int, int]:
        """``(width, height)`` as shown: orientations 5-8 turn the image a quarter."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


# -- sniffing ----------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The media type the bytes claim by their magic number, ``"text/plain"``, or ``None``.

    A type is returned as soon as the signature's first bytes match (``\\x89PNG``, ``\\xff\\xd8``,
    ``GIF8``, ``RIFF....WEBP``, ``%PDF-``), so a damaged file is still named after what it
    claims to be; :func:`image_info` and :func:`check_pdf` then say whether it really is.

    Example:
        >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n..."), sniff(b"hello"), sniff(b"\\x00\\x01")
        ('image/png', 'text/plain', None)
    """
    if data.startswith(b"\xff\xd8"):
        return JPEG
    if data.startswith(b"\x89PNG"):
        return PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    text = is_text(data)
    if not text and data.startswith(b"GIF8"):
        return GIF
    if not text and b"%PDF-" in data[:1024]:  # the header may follow some junk bytes
        return PDF
    if text:
        return TEXT
    for magic, offset, media_type in _OTHER_SIGNATURES:
        if data.startswith(magic, offset):
            return media_type
    return None


def is_text(data: bytes) -> bool:
    """Whether the bytes are non-empty UTF-8 text without binary control characters.

    Example:
        >>> is_text("naïve\\n".encode()), is_text(b"\\x00abc"), is_text(b"\\xff")
        (True, False, False)
    """
    if not data or _BINARY_BYTES.search(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- images ------------------------------------------------------------------------------------


def image_info(data: bytes, *, prefix: bool = False) -> ImageInfo:
    """Read the media type, size and orientation of a JPEG, PNG, GIF or WebP image.

    The whole file is checked for truncation and damage unless ``prefix=True`` (then only the
    header is read, and too few bytes raise :class:`NeedMoreData`).

    Raises:
        UnsupportedMediaError: not one of the four formats.
        CorruptMediaError: the bytes claim a format but are damaged or cut short.

    Example:
        >>> info = image_info(open("photo.jpg", "rb").read())  # doctest: +SKIP
        >>> info.media_type, info.width, info.height, info.display_size  # doctest: +SKIP
        ('image/jpeg', 4032, 3024, (3024, 4032))
    """
    media_type = sniff(data)
    parser = _PARSERS.get(media_type or "")
    if parser is None:
        raise UnsupportedMediaError(
            f"{media_type or 'unknown format'} is not a supported image format "
            f"(supported: {', '.join(IMAGE_MEDIA_TYPES)})"
        )
    assert media_type is not None
    name = media_type.split("/")[1].upper()
    try:
        width, height, orientation = parser(data, prefix)
    except (_Short, struct.error) as e:
        if prefix:
            raise NeedMoreData(str(e)) from None
        detail = f": {e}" if str(e) else ""
        raise CorruptMediaError(f"truncated {name} ({len(data)} bytes){detail}") from None
    if width <= 0 or height <= 0:
        raise CorruptMediaError(f"{name} header gives an empty size {width}x{height}")
    return ImageInfo(media_type, width, height, orientation)


def _need(data: bytes, end: int, what: str = "") -> None:
    if end > len(data):
        raise _Short(what)


def _tiff_orientation(tiff: bytes | memoryview) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF/EXIF block; 1 when absent or unreadable."""
    tiff = bytes(tiff[:65536])
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    magic, ifd = struct.unpack_from(order + "HI", tiff, 2)
    if magic != 42 or ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            break
        tag, kind, n = struct.unpack_from(order + "HHI", tiff, entry)
        if tag == 0x0112 and kind == 3 and n >= 1:
            (value,) = struct.unpack_from(order + "H", tiff, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _png(data: bytes, prefix: bool) -> tuple[int, int, int]:
    if not data.startswith(_PNG_SIGNATURE):
        _need(data, 8, "incomplete signature")
        raise CorruptMediaError("PNG signature is damaged (expected 89 50 4E 47 0D 0A 1A 0A)")
    view = memoryview(data)
    pos, size, orientation, has_idat = 8, (0, 0), 1, False
    while True:
        _need(data, pos + 8, "chunk header")
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos == 8 and (kind != b"IHDR" or length != 13):
            raise CorruptMediaError("PNG has no IHDR chunk first")
        if length > 0x7FFFFFFF:
            raise CorruptMediaError(f"PNG chunk {kind!r} at byte {pos} has an invalid length")
        body = pos + 8
        end = body + length + 4
        _need(data, end, f"chunk {kind.decode('latin-1')} at byte {pos}")
        if kind[0] & 0x20 == 0:  # critical chunk (upper-case first letter): check its CRC
            (crc,) = struct.unpack_from(">I", data, body + length)
            if zlib.crc32(view[body : body + length], zlib.crc32(kind)) != crc:
                raise CorruptMediaError(f"PNG chunk {kind.decode('latin-1')} at byte {pos} fails its CRC")
        if kind == b"IHDR":
            size = struct.unpack_from(">II", data, body)
            if prefix:
                return size[0], size[1], 1
        elif kind == b"eXIf":
            orientation = _tiff_orientation(view[body : body + length])
        elif kind == b"IDAT":
            has_idat = True
        elif kind == b"IEND":
            break
        pos = end
    if not has_idat:
        raise CorruptMediaError("PNG has no image data (IDAT chunk)")
    return size[0], size[1], orientation


# SOFn markers that carry a frame header (C4 = DHT, C8 = JPG, CC = DAC are not frames).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field: TEM, RST0-7, SOI.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg(data: bytes, prefix: bool) -> tuple[int, int, int]:
    if not data.startswith(b"\xff\xd8\xff"):
        _need(data, 3, "incomplete SOI marker")
        raise CorruptMediaError("JPEG does not start with an SOI marker followed by a segment")
    pos, size, orientation = 2, (0, 0), 1
    found_frame = False
    while True:
        _need(data, pos + 2, "no frame header (SOF) before the end")
        if data[pos] != 0xFF:
            raise CorruptMediaError(f"JPEG: expected a marker at byte {pos}, found 0x{data[pos]:02x}")
        while data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
            _need(data, pos + 2, "no frame header (SOF) before the end")
        marker = data[pos + 1]
        pos += 2
        if marker in _STANDALONE_MARKERS:
            continue
        if marker == 0xD9:
            raise CorruptMediaError("JPEG ends (EOI) before any frame header (SOF)")
        _need(data, pos + 2, f"segment 0x{marker:02x} at byte {pos - 2}")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise CorruptMediaError(f"JPEG segment 0x{marker:02x} at byte {pos - 2} has length {length}")
        _need(data, pos + length, f"segment 0x{marker:02x} at byte {pos - 2}")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise CorruptMediaError(f"JPEG frame header at byte {pos - 2} is too short")
            height, width = struct.unpack_from(">HH", data, pos + 3)
            size, found_frame = (width, height), True
            if prefix:
                return width, height, orientation
        elif marker == 0xE1 and data.startswith(b"Exif\x00\x00", pos + 2):
            orientation = _tiff_orientation(memoryview(data)[pos + 8 : pos + length])
        elif marker == 0xDA:  # start of scan: the entropy-coded data follows
            if not found_frame:
                raise CorruptMediaError("JPEG scan (SOS) comes before any frame header (SOF)")
            if data.rfind(b"\xff\xd9", pos + length) < 0:
                raise _Short("no end-of-image (EOI) marker after the scan")
            return size[0], size[1], orientation
        pos += length


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while True:
        _need(data, pos + 1, "data sub-blocks")
        n = data[pos]
        pos += 1 + n
        if n == 0:
            return pos
        _need(data, pos, "data sub-blocks")


def _gif(data: bytes, prefix: bool) -> tuple[int, int, int]:
    _need(data, 13, "logical screen descriptor")
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise CorruptMediaError(f"GIF signature is damaged: {data[:6]!r}")
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    if prefix:
        return width, height, 1
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    images = 0
    while True:
        if pos >= len(data):
            if images:  # a missing trailer after whole blocks is tolerated, as by decoders
                break
            raise _Short("no image")
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif introducer == 0x2C:  # image descriptor, optional local color table, LZW data
            _need(data, pos + 10, "image descriptor")
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
            images += 1
        else:
            raise CorruptMediaError(f"GIF: unexpected byte 0x{introducer:02x} at {pos}")
    if not images:
        raise CorruptMediaError("GIF has no image")
    return width, height, 1


def _webp(data: bytes, prefix: bool) -> tuple[int, int, int]:
    _need(data, 12, "RIFF header")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = len(data) if prefix else 8 + riff_size
    if end > len(data):
        raise _Short(f"the RIFF header announces {end} bytes")
    pos = 12
    size: tuple[int, int] | None = None
    orientation, has_image = 1, False
    while pos + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if size is None:
            if kind not in (b"VP8 ", b"VP8L", b"VP8X"):
                raise CorruptMediaError(f"WebP starts with chunk {kind!r} instead of VP8, VP8L or VP8X")
            _need(data, body + 10, f"chunk {kind!r}")
            size = _webp_size(kind, data, body)
            if prefix:
                return size[0], size[1], 1
        if body + length > end:
            raise _Short(f"chunk {kind!r} at byte {pos}")
        if kind in (b"VP8 ", b"VP8L", b"ANMF"):
            has_image = True
        elif kind == b"EXIF":
            orientation = _tiff_orientation(memoryview(data)[body : body + length])
        pos = body + length + (length & 1)
    if size is None:
        raise _Short("no image chunk")
    if not has_image:
        raise CorruptMediaError("WebP has no image data (VP8, VP8L or ANMF chunk)")
    return size[0], size[1], orientation


def _webp_size(kind: bytes, data: bytes, body: int) -> tuple[int, int]:
    if kind == b"VP8 ":  # lossy: 3-byte frame tag, start code, 14-bit sizes
        if data[body] & 1 or data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            raise CorruptMediaError("WebP VP8 chunk does not start with a key frame")
        width, height = struct.unpack_from("<HH", data, body + 6)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":  # lossless: signature 0x2F, then 14-bit (size - 1) fields
        (bits,) = struct.unpack_from("<I", data, body + 1)
        if data[body] != 0x2F or bits >> 29:
            raise CorruptMediaError("WebP VP8L chunk has a bad signature or version")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":  # extended: 24-bit (canvas size - 1) fields
        width = int.from_bytes(data[body + 4 : body + 7], "little") + 1
        height = int.from_bytes(data[body + 7 : body + 10], "little") + 1
        return width, height
    raise AssertionError(kind)  # pragma: no cover (the caller checks the chunk kind)


_PARSERS: dict[str, Callable[[bytes, bool], tuple[int, int, int]]] = {
    PNG: _png,
    JPEG: _jpeg,
    GIF: _gif,
    WEBP: _webp,
}


# -- PDF ---------------------------------------------------------------------------------------


def is_encrypted_pdf(data: bytes) -> bool:
    """Whether a PDF's trailer (or cross-reference stream dictionary) has an ``/Encrypt`` entry.

    Example:
        >>> is_encrypted_pdf(b"%PDF-1.7 ... trailer << /Root 1 0 R /Encrypt 9 0 R >> ...")
        True
    """
    return _ENCRYPT_ENTRY.search(data) is not None


def check_pdf(data: bytes) -> None:
    """Raise unless the bytes are a complete PDF without encryption.

    Raises:
        CorruptMediaError: no ``%PDF-`` header in the first 1024 bytes, or no ``%%EOF`` in the
            last 1024 (a truncated file).
        EncryptedPDFError: an ``/Encrypt`` entry (encrypted or password protected).

    Example:
        >>> check_pdf(b"<html>login</html>")
        Traceback (most recent call last):
        rxclaude.core.errors.CorruptMediaError: not a PDF: no %PDF- header in the first 1024 bytes
    """
    if b"%PDF-" not in data[:1024]:
        raise CorruptMediaError("not a PDF: no %PDF- header in the first 1024 bytes")
    if b"%%EOF" not in data[-1024:]:
        raise CorruptMediaError("PDF is truncated: no %%EOF marker in its last 1024 bytes")
    if is_encrypted_pdf(data):
        raise EncryptedPDFError(
            "PDF is encrypted or password-protected (its trailer has an /Encrypt entry); "
            "the API rejects encrypted PDFs: save an unencrypted copy first"
        )
