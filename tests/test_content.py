"""Tests for rxclaude.content (builders, validate_request) and rxclaude.core.media (sniffing, headers)."""

from __future__ import annotations

import base64
import contextlib
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from rxclaude.content import (
    MAX_IMAGE_BYTES,
    MAX_REQUEST_BYTES,
    document,
    image,
    references_files,
    text,
    user,
    validate_request,
)
from rxclaude.core import media as _media
from rxclaude.core.errors import (
    ContentError,
    CorruptMediaError,
    EncryptedPDFError,
    ImageDimensionsError,
    MediaTooLargeError,
    TooManyImagesError,
    UnsupportedMediaError,
)

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# -- making media --------------------------------------------------------------------------------


def pil_bytes(
    fmt: str,
    size: tuple[int, int] = (40, 30),
    *,
    mode: str = "RGB",
    orientation: int | None = None,
    **save: Any,
) -> bytes:
    """A real image made by Pillow: left half red, right half blue (to see rotations)."""
    im = Image.new("RGB", size, "red")
    im.paste("blue", (size[0] // 2, 0, size[0], size[1]))
    if mode != "RGB":
        im = im.convert(mode)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif
    out = io.BytesIO()
    im.save(out, format=fmt, **save)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def craft_png(width: int, height: int, *, pad_to: int | None = None) -> bytes:
    """A valid 8-bit grey PNG written by hand; ``pad_to`` adds an ancillary chunk to reach a size."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress((b"\x00" * (width + 1)) * height, 9))
    iend = png_chunk(b"IEND", b"")
    extra = b""
    if pad_to is not None:
        filler = pad_to - (len(PNG_SIGNATURE) + len(ihdr) + len(idat) + len(iend)) - 12
        assert filler >= 0
        extra = png_chunk(b"rxPd", b"\xa5" * filler)
    data = PNG_SIGNATURE + ihdr + extra + idat + iend
    assert pad_to is None or len(data) == pad_to
    return data


def make_pdf(*, encrypted: bool = False, note: bytes = b"") -> bytes:
    """A one-page PDF written by hand, with a correct cross-reference table."""
    content = b"0 0 m 100 100 l S" + note
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    if encrypted:
        objects.append(b"<< /Filter /Standard /V 1 /R 2 /P -44 /O <" + b"00" * 32 + b"> /U <" + b"11" * 32 + b"> >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if encrypted:
        trailer += b" /Encrypt 5 0 R /ID [<01><01>]"
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def b64_image(data: bytes, media_type: str) -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()},
    }


def decoded(block: dict[str, Any]) -> bytes:
    return base64.b64decode(block["source"]["data"])


def webp_chunks(data: bytes) -> list[bytes]:
    pos, kinds = 12, []
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, pos)
        kinds.append(kind)
        pos += 8 + length + (length & 1)
    return kinds


SAMPLES = {
    "png": lambda: pil_bytes("PNG"),
    "png-palette": lambda: pil_bytes("PNG", mode="P"),
    "jpeg": lambda: pil_bytes("JPEG"),
    "jpeg-progressive": lambda: pil_bytes("JPEG", progressive=True),
    "gif": lambda: pil_bytes("GIF"),
    "webp-lossy": lambda: pil_bytes("WEBP"),
    "webp-lossless": lambda: pil_bytes("WEBP", lossless=True),
    "webp-extended": lambda: pil_bytes("WEBP", orientation=1),
}


# -- _media: sniffing and headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("png", "image/png"),
        ("png-palette", "image/png"),
        ("jpeg", "image/jpeg"),
        ("jpeg-progressive", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp-lossy", "image/webp"),
        ("webp-lossless", "image/webp"),
        ("webp-extended", "image/webp"),
    ],
)
def test_image_info_matches_pillow(name: str, media_type: str) -> None:
    data = SAMPLES[name]()
    info = _media.image_info(data)
    assert _media.sniff(data) == media_type
    assert (info.media_type, info.width, info.height) == (media_type, 40, 30)
    assert info.orientation == 1


def test_webp_samples_cover_all_three_chunk_kinds() -> None:
    assert webp_chunks(SAMPLES["webp-lossy"]())[0] == b"VP8 "
    assert webp_chunks(SAMPLES["webp-lossless"]())[0] == b"VP8L"
    assert webp_chunks(SAMPLES["webp-extended"]())[0] == b"VP8X"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["PNG", "JPEG", "GIF", "WEBP"]),
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    lossless=st.booleans(),
)
def test_dimensions_match_pillow(fmt: str, width: int, height: int, lossless: bool) -> None:
    extra: dict[str, Any] = {"lossless": lossless} if fmt == "WEBP" else {}
    data = pil_bytes(fmt, (width, height), **extra)
    info = _media.image_info(data)
    with Image.open(io.BytesIO(data)) as im:
        assert (info.width, info.height) == im.size
        assert info.media_type == Image.MIME[im.format or ""]


@pytest.mark.parametrize(("fmt", "orientation"), [("JPEG", 6), ("JPEG", 3), ("PNG", 8), ("WEBP", 5)])
def test_exif_orientation(fmt: str, orientation: int) -> None:
    data = pil_bytes(fmt, (40, 30), orientation=orientation)
    info = _media.image_info(data)
    assert info.orientation == orientation
    assert (info.width, info.height) == (40, 30)
    with Image.open(io.BytesIO(data)) as im:
        assert info.display_size == ImageOps.exif_transpose(im).size


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_prefix_mode_needs_only_the_header(name: str) -> None:
    data = SAMPLES[name]()
    full = _media.image_info(data)
    sizes = set()
    for n in range(len(data) + 1):
        try:
            info = _media.image_info(data[:n], prefix=True)
        except _media.NeedMoreData:
            continue
        except ContentError:
            assert n < 12  # a prefix too short to carry the whole signature (RIFF....WEBP)
            continue
        sizes.add((info.width, info.height))
    assert sizes == {(full.width, full.height)}


@pytest.mark.parametrize("name", ["png", "jpeg", "jpeg-progressive", "webp-lossy", "webp-lossless", "webp-extended"])
def test_every_truncation_is_detected(name: str) -> None:
    data = SAMPLES[name]()
    for n in range(len(data)):
        with pytest.raises(ContentError):
            _media.image_info(data[:n])


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255))),
)
def test_damaged_bytes_raise_only_content_errors(name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLES[name]())
    for pos, value in flips:
        data[pos % len(data)] = value
    with contextlib.suppress(ContentError):
        _media.image_info(bytes(data))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\x00" + craft_png(4, 4)[8:], "signature"),
        (PNG_SIGNATURE + png_chunk(b"tEXt", b"a\x00b") + craft_png(4, 4)[8:], "IHDR"),
        (craft_png(4, 4)[:30] + b"\x00" + craft_png(4, 4)[31:], "CRC"),
        (
            PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)) + png_chunk(b"IEND", b""),
            "IDAT",
        ),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9", "SOF"),
        (b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x00\xff\xd9", "SOF"),
        (b"\xff\xd8\xff\xe0\x00\x01", "length"),
        (b"GIF89a\x04\x00\x04\x00\x00\x00\x00\x99", "unexpected"),
        (b"RIFF\x0c\x00\x00\x00WEBPJUNK\x00\x00\x00\x00", "VP8"),
        (craft_png(4, 4)[: len(craft_png(4, 4)) // 2], "truncated"),
    ],
    ids=[
        "png-signature",
        "png-no-ihdr",
        "png-crc",
        "png-no-idat",
        "jpeg-no-sof",
        "jpeg-sos-first",
        "jpeg-bad-length",
        "gif-garbage",
        "webp-bad-chunk",
        "png-truncated",
    ],
)
def test_corrupt_images(data: bytes, message: str) -> None:
    with pytest.raises(CorruptMediaError, match=message):
        _media.image_info(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"BM\x00\x00\x00\x00\x00\x00", "image/bmp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"hello world\n", "text/plain"),
        ("¡olé!\r\n\tü".encode(), "text/plain"),
        (make_pdf(), "application/pdf"),
        (b"\x00\x01\x02\x03", None),
        (b"", None),
        (b"GIF89a is a format, says this note", "image/gif"),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert _media.sniff(data) == expected


def test_unsupported_formats_are_named() -> None:
    with pytest.raises(UnsupportedMediaError, match="image/bmp"):
        _media.image_info(b"BM" + b"\x00" * 60)


# -- _media: PDF ------------------------------------------------------------------------------------


def test_pdf_checks() -> None:
    _media.check_pdf(make_pdf())
    _media.check_pdf(make_pdf(note=b" % see the /Encrypt entry of the spec"))
    assert not _media.is_encrypted_pdf(make_pdf(note=b" % /Encrypt docs"))
    with pytest.raises(EncryptedPDFError, match="encrypted"):
        _media.check_pdf(make_pdf(encrypted=True))
    xref_stream = make_pdf().replace(b"trailer\n<<", b"trailer\n<< /Type /XRef /Encrypt<< /Filter /Standard >>")
    assert _media.is_encrypted_pdf(xref_stream)
    with pytest.raises(CorruptMediaError, match="truncated"):
        _media.check_pdf(make_pdf()[:-40] + b" " * 2000)
    with pytest.raises(CorruptMediaError, match="not a PDF"):
        _media.check_pdf(b"<html><body>Please log in</body></html>")


# -- text and user -----------------------------------------------------------------------------------


def test_text_and_user() -> None:
    assert text("hi") == {"type": "text", "text": "hi"}
    assert text("hi", cache_control={"type": "ephemeral"}) == {
        "type": "text",
        "text": "hi",
        "cache_control": {"type": "ephemeral"},
    }
    pic = image("https://example.com/a.png")
    assert user(pic, "What is this?") == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "text", "text": "What is this?"},
        ],
    }
    for bad in ("", "  \n"):
        with pytest.raises(ContentError, match="non-whitespace"):
            text(bad)
    with pytest.raises(ContentError):
        user()
    with pytest.raises(TypeError, match="argument 0"):
        user(b"bytes")  # type: ignore[arg-type]


# -- image() -------------------------------------------------------------------------------------------


def test_image_from_path_bytes_url_file_id(tmp_path: Path) -> None:
    data = pil_bytes("PNG")
    path = tmp_path / "pic.png"
    path.write_bytes(data)
    expected = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(data).decode("ascii"),
        },
    }
    assert image(path) == expected
    assert image(str(path)) == expected
    assert image(data) == expected
    assert image(bytearray(data)) == expected
    assert image(memoryview(data), media_type="image/png") == expected
    assert image("data:image/png;base64," + base64.b64encode(data).decode()) == expected
    assert image("https://example.com/cat.jpg", cache_control={"type": "ephemeral"}) == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
        "cache_control": {"type": "ephemeral"},
    }
    assert image("file_011CNha8iCJcU1wXNR6q4V8w") == {
        "type": "image",
        "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"},
    }
    orjson.dumps(image(path))  # JSON-ready


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp"), ("PNG", "image/png")],
)
def test_media_type_is_sniffed_not_taken_from_the_name(tmp_path: Path, fmt: str, media_type: str) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(pil_bytes(fmt))
    assert image(path)["source"]["media_type"] == media_type


def test_declared_media_type_must_match_the_bytes() -> None:
    jpeg = pil_bytes("JPEG")
    with pytest.raises(CorruptMediaError, match=r"media_type='image/png' but the bytes are image/jpeg"):
        image(jpeg, media_type="image/png")
    with pytest.raises(UnsupportedMediaError, match="image/bmp"):
        image(jpeg, media_type="image/bmp")


def test_bad_images(tmp_path: Path) -> None:
    garbage = tmp_path / "photo.png"
    garbage.write_bytes(b"\x13\x37" * 100)
    with pytest.raises(CorruptMediaError, match=r"photo.png: claims to be image/png"):
        image(garbage)
    with pytest.raises(UnsupportedMediaError, match="unrecognised"):
        image(b"\x13\x37" * 100)
    with pytest.raises(UnsupportedMediaError, match="text/plain"):
        image(b"just some text")
    with pytest.raises(UnsupportedMediaError, match="image/bmp"):
        image(b"BM" + b"\x00" * 100)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(pil_bytes("JPEG")[:-300])
    with pytest.raises(CorruptMediaError, match=r"cut.jpg: truncated JPEG"):
        image(truncated)
    with pytest.raises(CorruptMediaError, match="empty"):
        image(b"")
    with pytest.raises(TypeError):
        image(12)  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="no such file") as info:
        image(missing)
    assert info.value.filename == str(missing)
    with pytest.raises(FileNotFoundError, match="Files API id"):
        image("file_report.png")  # not an id (has a dot): read as a path


def test_image_size_limit_is_on_the_base64_text() -> None:
    raw_limit = MAX_IMAGE_BYTES * 3 // 4  # 3,932,160 raw bytes -> exactly 5 MiB of base64
    block = image(craft_png(4, 4, pad_to=raw_limit))
    assert len(block["source"]["data"]) == MAX_IMAGE_BYTES
    with pytest.raises(MediaTooLargeError, match="5242884 bytes as base64") as info:
        image(craft_png(4, 4, pad_to=raw_limit + 1))
    assert info.value.limit == MAX_IMAGE_BYTES
    with pytest.raises(MediaTooLargeError):
        image(craft_png(4, 4, pad_to=5 * 1024 * 1024 + 1))


def test_image_side_limit() -> None:
    assert image(craft_png(8000, 1))["source"]["media_type"] == "image/png"
    with pytest.raises(ImageDimensionsError, match=r"9000x1 px.*8000 px") as info:
        image(craft_png(9000, 1))
    assert info.value.limit == 8000
    with pytest.raises(ImageDimensionsError, match="1x8001"):
        image(craft_png(1, 8001))


# -- downscaling -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [("PNG", {}), ("JPEG", {}), ("GIF", {}), ("WEBP", {}), ("WEBP", {"lossless": True})],
)
def test_downscale_keeps_the_format(fmt: str, extra: dict[str, Any]) -> None:
    data = pil_bytes(fmt, (400, 200), **extra)
    block = image(data, max_long_edge=100)
    out = decoded(block)
    info = _media.image_info(out)
    assert info.media_type == _media.image_info(data).media_type == block["source"]["media_type"]
    assert (info.width, info.height) == (100, 50)
    if extra.get("lossless"):
        assert webp_chunks(out)[0] in (b"VP8L", b"VP8X") and b"VP8L" in out


def test_downscale_honors_exif_orientation() -> None:
    data = pil_bytes("JPEG", (400, 200), orientation=6)  # shown rotated: 200 wide, 400 high
    out = decoded(image(data, max_long_edge=100))
    info = _media.image_info(out)
    assert (info.width, info.height, info.orientation) == (50, 100, 1)
    with Image.open(io.BytesIO(out)) as im:
        rgb = im.convert("RGB")
        top, bottom = rgb.getpixel((25, 10)), rgb.getpixel((25, 90))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # the stored left half (red) is shown on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_downscale_never_upscales() -> None:
    data = pil_bytes("JPEG", (120, 80), orientation=6)
    assert decoded(image(data, max_long_edge=1568)) == data
    assert decoded(image(data, max_long_edge=120)) == data


def test_downscale_happens_before_the_limits() -> None:
    block = image(craft_png(9000, 3), max_long_edge=1568)
    info = _media.image_info(decoded(block))
    assert (info.width, info.height) == (1568, 1)


def test_downscale_keeps_animation() -> None:
    frames = [Image.new("RGB", (300, 100), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    small = decoded(image(out.getvalue(), max_long_edge=60))
    with Image.open(io.BytesIO(small)) as im:
        assert (im.format, im.size, getattr(im, "n_frames", 1)) == ("GIF", (60, 20), 3)


def test_max_long_edge_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_long_edge"):
        image(pil_bytes("PNG"), max_long_edge=0)


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, cwd=ROOT)


def test_importing_content_does_not_import_pillow() -> None:
    _run("import sys, rxclaude.content, rxclaude.core.media; assert 'PIL' not in sys.modules, 'PIL imported'")


def test_works_without_pillow() -> None:
    png = craft_png(300, 2)
    _run(
        "import sys; sys.modules['PIL'] = None\n"
        "from rxclaude.content import image\n"
        f"png = {png!r}\n"
        "assert image(png)['source']['media_type'] == 'image/png'\n"
        "assert image(png, max_long_edge=400)['source']['media_type'] == 'image/png'\n"
        "try:\n"
        "    image(png, max_long_edge=100)\n"
        "except ImportError as e:\n"
        "    assert 'rxclaude[images]' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )


# -- document() ------------------------------------------------------------------------------------------


def test_pdf_document(tmp_path: Path) -> None:
    pdf = make_pdf()
    path = tmp_path / "paper.pdf"
    path.write_bytes(pdf)
    block = document(path, title="Paper", context="from arXiv", citations=True, cache_control={"type": "ephemeral"})
    assert block == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
        "title": "Paper",
        "context": "from arXiv",
        "citations": {"enabled": True},
        "cache_control": {"type": "ephemeral"},
    }
    assert list(block) == ["type", "source", "title", "context", "citations", "cache_control"]
    assert document(pdf, media_type="application/pdf")["source"] == block["source"]
    assert "citations" not in document(pdf)


def test_document_url_and_file_id() -> None:
    assert document("https://example.com/a.pdf") == {
        "type": "document",
        "source": {"type": "url", "url": "https://example.com/a.pdf"},
    }
    assert document("file_011CPMxVD3fHLUhvTqtsQA5w", title="Q3", citations=True) == {
        "type": "document",
        "source": {"type": "file", "file_id": "file_011CPMxVD3fHLUhvTqtsQA5w"},
        "title": "Q3",
        "citations": {"enabled": True},
    }


def test_text_documents(tmp_path: Path) -> None:
    expected = {"type": "text", "media_type": "text/plain", "data": "The grass is green.\n"}
    assert document(text="The grass is green.\n")["source"] == expected
    assert document(b"The grass is green.\n")["source"] == expected
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"\xef\xbb\xbfThe grass is green.\n")  # with a UTF-8 BOM
    assert document(notes, citations=True) == {
        "type": "document",
        "source": expected,
        "citations": {"enabled": True},
    }
    with pytest.raises(ContentError, match="empty"):
        document(text=" ")


def test_content_document() -> None:
    pic = image("https://example.com/a.png")
    block = document(content=["First chunk", pic], title="Mixed")
    assert block["source"] == {"type": "content", "content": [{"type": "text", "text": "First chunk"}, pic]}
    with pytest.raises(ContentError, match="item 0"):
        document(content=[{"type": "document"}])


def test_bad_documents(tmp_path: Path) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(make_pdf(encrypted=True))
    with pytest.raises(EncryptedPDFError, match=r"secret\.pdf: PDF is encrypted"):
        document(secret)
    html = tmp_path / "report.pdf"
    html.write_bytes(b"<html><body>Please log in</body></html>")
    with pytest.raises(CorruptMediaError, match=r"report\.pdf: claims to be a PDF"):
        document(html)
    assert document(html, media_type="text/plain")["source"]["type"] == "text"
    with pytest.raises(CorruptMediaError, match="claims to be a PDF"):
        document(b"hello", media_type="application/pdf")
    with pytest.raises(CorruptMediaError, match="truncated"):
        document(make_pdf()[:200])
    with pytest.raises(UnsupportedMediaError, match="use image"):
        document(pil_bytes("PNG"))
    with pytest.raises(UnsupportedMediaError, match="not a supported document format"):
        document(b"\x00\x01\x02")
    with pytest.raises(UnsupportedMediaError, match="application/msword"):
        document(make_pdf(), media_type="application/msword")
    with pytest.raises(FileNotFoundError):
        document(tmp_path / "missing.pdf")
    with pytest.raises(TypeError, match="exactly one"):
        document()
    with pytest.raises(TypeError, match="exactly one"):
        document(b"x", text="y")


# -- validate_request -------------------------------------------------------------------------------------


def request(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "claude-sonnet-5-5", "max_tokens": 256, "messages": list(messages)}


def test_references_files_finds_a_file_source_at_any_depth() -> None:
    assert references_files(request(user(document("file_1"), "Hi")))
    in_tool_result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image("file_2")]}],
    }
    assert references_files(request(in_tool_result))
    in_document = {
        "role": "user",
        "content": [{"type": "document", "source": {"type": "content", "content": (image("file_3"),)}}],
    }
    assert references_files(request(in_document))
    assert not references_files(request(user(image("https://example.com/a.png"), "Hi")))
    assert not references_files(request({"role": "user", "content": "plain string content"}))


def test_validate_accepts_a_normal_request() -> None:
    validate_request(request(user(image(pil_bytes("JPEG")), image("file_abc"), "Compare.")))
    validate_request(request({"role": "user", "content": "plain string content"}))
    validate_request({"model": "m"})


def test_too_many_images() -> None:
    url = image("https://example.com/a.png")
    validate_request(request(user(*[url] * 300), {"role": "assistant", "content": "ok"}, user(*[url] * 300)))
    with pytest.raises(TooManyImagesError, match=r"601 images.*at most 600.*100 on 200k-context") as info:
        validate_request(request(user(*[url] * 300), user(image("file_x"), *[url] * 300)))
    assert info.value.limit == 600
    assert "messages[1].content[300]" in str(info.value)
    with pytest.raises(TooManyImagesError, match="at most 100"):
        validate_request(request(user(*[url] * 101)), max_images=100)


def test_images_in_tool_results_and_content_documents_count() -> None:
    url = image("https://example.com/a.png")
    tool_result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": [url] * 300}
    doc = document(content=[url] * 300)
    validate_request(request(user(tool_result, doc)))
    with pytest.raises(TooManyImagesError, match=r"messages\[0\]\.content\[2\]"):
        validate_request(request(user(tool_result, doc, url)))


def test_many_image_requests_allow_2000_px() -> None:
    url = image("https://example.com/a.png")
    big = b64_image(craft_png(2001, 1), "image/png")
    validate_request(request(user(*[url] * 19, big)))  # 20 images: 8000 px still applies
    with pytest.raises(ImageDimensionsError, match=r"messages\[0\]\.content\[20\].*2001x1.*many-image") as info:
        validate_request(request(user(*[url] * 20, big)))
    assert info.value.limit == 2000
    validate_request(request(user(*[url] * 20, b64_image(craft_png(2000, 2000), "image/png"))))


def test_validate_checks_base64_images() -> None:
    with pytest.raises(ImageDimensionsError, match=r"messages\[1\]\.content\[0\]: image is 8001x1 px"):
        validate_request(request(user("hi"), user(b64_image(craft_png(8001, 1), "image/png"))))
    with pytest.raises(CorruptMediaError, match="media_type is 'image/png' but the bytes are image/jpeg"):
        validate_request(request(user(b64_image(pil_bytes("JPEG"), "image/png"))))
    with pytest.raises(UnsupportedMediaError, match="image/bmp"):
        validate_request(request(user(b64_image(pil_bytes("PNG"), "image/bmp"))))
    with pytest.raises(CorruptMediaError, match=r"messages\[0\]\.content\[0\]: truncated PNG"):
        validate_request(request(user(b64_image(craft_png(8, 8)[:20], "image/png"))))
    with pytest.raises(CorruptMediaError, match="base64"):
        validate_request(
            request(user({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "@@@"}}))
        )
    oversize = {"type": "base64", "media_type": "image/png", "data": "A" * (MAX_IMAGE_BYTES + 1)}
    with pytest.raises(MediaTooLargeError, match="5242881 bytes as base64"):
        validate_request(request(user({"type": "image", "source": oversize})))


def test_validate_reads_headers_past_large_segments() -> None:
    jpeg = pil_bytes("JPEG", (321, 123))
    app = b"\xff\xe2" + struct.pack(">H", 65535) + b"\x00" * 65533  # two 64 KiB APP2 segments
    padded = jpeg[:2] + app + app + jpeg[2:]
    with Image.open(io.BytesIO(padded)) as im:
        assert im.size == (321, 123)
    assert _media.image_info(padded).width == 321
    validate_request(request(user(*[image("file_a")] * 20, b64_image(padded, "image/jpeg"))))
    wide = pil_bytes("JPEG", (2100, 8))
    with pytest.raises(ImageDimensionsError, match="2100x8"):
        validate_request(
            request(user(*[image("file_a")] * 20, b64_image(wide[:2] + app + app + wide[2:], "image/jpeg")))
        )


def test_request_size_boundary() -> None:
    def params(n: int) -> dict[str, Any]:
        return request(user("a" * n))

    overhead = len(orjson.dumps(params(1))) - 1
    exact = params(MAX_REQUEST_BYTES - overhead)
    assert len(orjson.dumps(exact)) == MAX_REQUEST_BYTES
    validate_request(exact)
    over = params(MAX_REQUEST_BYTES - overhead + 1)
    with pytest.raises(MediaTooLargeError, match=r"33554433 bytes.*messages\[0\]\.content\[0\]") as info:
        validate_request(over)
    assert info.value.limit == MAX_REQUEST_BYTES
    validate_request(over, body=b"{}")  # the exact body, when given, is what counts
    with pytest.raises(MediaTooLargeError, match="20 MB"):
        validate_request(request(user("hi")), body=b" " * (20 * 2**20 + 1), max_request_bytes=20 * 2**20)
