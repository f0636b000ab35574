"""rxclaude.files (the Files API), its mock on MockServer, the Messages media checks and the CLI."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

import rxclaude
from rxclaude import content, files
from rxclaude.cli import files as _cli_files
from rxclaude.core.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionLostError,
    FirstByteTimeoutError,
    MediaTooLargeError,
    NotFoundError,
)
from rxclaude.files import FILES_BETA, FileDeleted, FileMetadata, FilePage, Files
from rxclaude.testing import SERVER_KEY, MockServer, Reply
from rxclaude.transport.base import Timeouts

MODEL = "claude-sonnet-5-5"
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
SECRET = "fake-key-SECRET-never-show-me"


def png(width: int = 2, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + b"\xff\x00\x00" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    async with MockServer(seed=7) as s:
        yield s


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[rxclaude.Client]:
    async with rxclaude.Client(api_key=server.api_key, base_url=server.url) as c:
        yield c


def files_requests(server: MockServer) -> list[Any]:
    return [r for r in server.requests if r.path.startswith("/v1/files")]


# -- metadata values ---------------------------------------------------------------------------


def test_metadata_round_trip_keeps_unknown_fields() -> None:
    raw = {
        "id": "file_011CNha8iCJcU1wXNR6q4V8w",
        "type": "file",
        "filename": "a.pdf",
        "mime_type": "application/pdf",
        "size_bytes": 10,
        "created_at": "2025-04-14T12:00:00.123456Z",
        "downloadable": False,
        "expires_at": "2025-05-14T12:00:00Z",
        "scope": {"type": "session"},
    }
    meta = FileMetadata.from_dict(raw)
    assert meta.extra == {"expires_at": "2025-05-14T12:00:00Z", "scope": {"type": "session"}}
    assert meta.to_dict() == raw and FileMetadata.from_dict(meta.to_dict()) == meta
    assert meta.created is not None and meta.created.year == 2025
    assert hash(meta) == hash(FileMetadata.from_dict(raw))
    with pytest.raises(AttributeError):
        meta.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        meta.extra["x"] = 1  # type: ignore[index]
    assert meta.block() == {"type": "document", "source": {"type": "file", "file_id": meta.id}}
    assert FileMetadata("file_1", "a.png", "image/png", 1, "").block()["type"] == "image"
    assert FileMetadata("file_1", "a.csv", "text/csv", 1, "").block() == {
        "type": "container_upload",
        "file_id": "file_1",
    }
    assert FileDeleted.from_dict({"id": "file_1", "type": "file_deleted"}) == FileDeleted("file_1")
    page = FilePage.from_dict({"data": [raw], "has_more": True})
    assert (page.first_id, page.last_id, page.next_page) == (meta.id, meta.id, None)
    with pytest.raises(ValueError):
        FileMetadata.from_dict({"filename": "no id"})


# -- upload ------------------------------------------------------------------------------------


async def test_upload_from_path_sends_a_real_multipart_body(
    server: MockServer, client: rxclaude.Client, tmp_path: Path
) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    meta = await Files(client).upload(path)
    assert meta.id.startswith("file_011C") and len(meta.id) == len("file_011C") + 20
    assert (meta.filename, meta.mime_type, meta.size_bytes, meta.downloadable, meta.type) == (
        "report.pdf",
        "application/pdf",
        len(PDF),
        False,
        "file",
    )
    up = server.files.uploads[-1]
    assert up.content_type.startswith("multipart/form-data; boundary=")
    assert (up.part_name, up.filename, up.part_content_type, up.size) == (
        "file",
        "report.pdf",
        "application/pdf",
        len(PDF),
    )
    assert up.parts == (("file", "report.pdf", "application/pdf", len(PDF)),) and up.file_id == meta.id
    stored = server.files.get(meta.id)
    assert stored is not None and stored.data == PDF
    req = server.last_request
    assert (req.method, req.path, dict(req.query)) == ("POST", "/v1/files", {"beta": "true"})
    assert req.headers["anthropic-beta"] == FILES_BETA
    assert req.headers["x-api-key"] == server.api_key and req.headers["anthropic-version"] == "2023-06-01"
    assert int(req.headers["content-length"]) > len(PDF)  # streamed from disk with a known length


async def test_upload_bytes_sniffs_the_media_type(server: MockServer, client: rxclaude.Client) -> None:
    f = Files(client)
    image = png()
    meta = await f.upload(image, filename="chart.png")
    assert (meta.mime_type, meta.filename) == ("image/png", "chart.png")
    meta = await f.upload(image, filename="chart.bin")  # the bytes win over the name
    assert meta.mime_type == "image/png"
    meta = await f.upload(image)
    assert (meta.filename, meta.mime_type) == ("upload.png", "image/png")
    meta = await f.upload("naïve,🙂\n1,2\n".encode(), filename="dir/naïve.csv")  # text: the extension refines it
    assert (meta.filename, meta.mime_type) == ("naïve.csv", "text/csv")
    meta = await f.upload(b"plain words\n")
    assert (meta.filename, meta.mime_type) == ("upload.txt", "text/plain")
    meta = await f.upload(b"\x00\x01\x02\x03", filename="blob")
    assert meta.mime_type == "application/octet-stream"
    meta = await f.upload(b"\x00\x01", filename="x.pdf", media_type="application/x-custom")
    assert meta.mime_type == "application/x-custom"
    assert server.files.uploads[-1].part_content_type == "application/x-custom"


async def test_upload_text_file_cut_inside_a_utf8_character(client: rxclaude.Client, tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_bytes(b"a" * 8191 + "é".encode() * 100)  # the 8 KiB sniffing window splits a character
    assert (await Files(client).upload(path)).mime_type == "text/plain"


async def test_upload_with_expiry_keeps_expires_at(client: rxclaude.Client) -> None:
    meta = await Files(client).upload(b"hello\n", filename="a.txt", expires_in_seconds=3600)
    assert isinstance(meta.extra["expires_at"], str) and meta.to_dict()["expires_at"] == meta.extra["expires_at"]
    with pytest.raises(BadRequestError, match="expires_in_seconds"):
        await Files(client).upload(b"hello\n", filename="a.txt", expires_in_seconds=5)


async def test_missing_file_is_a_clear_error_before_sending(
    server: MockServer, client: rxclaude.Client, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="no such file") as info:
        await Files(client).upload(tmp_path / "nope.pdf")
    assert info.value.filename == str(tmp_path / "nope.pdf")
    with pytest.raises(IsADirectoryError):
        await Files(client).upload(tmp_path)
    with pytest.raises(TypeError):
        await Files(client).upload(12)  # type: ignore[arg-type]
    assert files_requests(server) == []


async def test_oversized_file_is_rejected_before_sending(
    server: MockServer, client: rxclaude.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sparse = tmp_path / "huge.bin"
    with open(sparse, "wb") as f:
        f.truncate(files.MAX_FILE_BYTES + 1)  # sparse: no 500 MB on disk
    with pytest.raises(MediaTooLargeError, match="at most 524288000 bytes") as info:
        await Files(client).upload(sparse)
    assert info.value.limit == files.MAX_FILE_BYTES
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10)
    with pytest.raises(MediaTooLargeError):
        await Files(client).upload(b"x" * 11, filename="a.txt")
    assert files_requests(server) == []
    assert (await Files(client).upload(b"x" * 10, filename="a.txt")).size_bytes == 10


async def test_mock_rejects_files_over_its_limit(server: MockServer, client: rxclaude.Client) -> None:
    server.files.max_file_bytes = 100
    with pytest.raises(rxclaude.RequestTooLargeError):
        await Files(client).upload(b"y" * 101, filename="a.txt")
    assert len(server.files) == 0


# -- list --------------------------------------------------------------------------------------


async def test_list_walks_every_page(server: MockServer, client: rxclaude.Client) -> None:
    ids = [server.files.add(f"file {i}\n".encode(), f"f{i}.txt")["id"] for i in range(45)]
    server.reset()
    listed = [m async for m in Files(client).list(limit=20)]
    assert [m.id for m in listed] == ids[::-1]  # newest first, none missed or repeated
    pages = files_requests(server)
    assert len(pages) == 3
    assert [dict(r.query) for r in pages] == [
        {"beta": "true", "limit": "20"},
        {"beta": "true", "limit": "20", "after_id": ids[25]},
        {"beta": "true", "limit": "20", "after_id": ids[5]},
    ]
    assert all(r.headers["anthropic-beta"] == FILES_BETA for r in pages)
    page = await Files(client).list_page(limit=20, after_id=ids[5])
    assert (len(page.data), page.has_more, page.first_id, page.last_id) == (5, False, ids[4], ids[0])
    back = [m.id async for m in Files(client).list(before_id=ids[1], limit=2)]  # toward newer files
    assert back[:4] == [ids[3], ids[2], ids[5], ids[4]] and sorted(back) == sorted(ids[2:])
    assert len([m async for m in Files(client).list()]) == 45


async def test_list_in_ga_mode_follows_next_page(server: MockServer, client: rxclaude.Client) -> None:
    ids = [server.files.add(b"x", f"f{i}.txt")["id"] for i in range(5)]
    server.files.paging = "page"
    server.reset()
    ga = Files(client, beta=None)
    assert [m.id async for m in ga.list(limit=2)] == ids[::-1]
    pages = files_requests(server)
    assert len(pages) == 3 and "anthropic-beta" not in pages[0].headers
    assert dict(pages[0].query) == {"limit": "2"} and pages[1].query["page"].startswith("page_")


async def test_list_merges_the_clients_betas(server: MockServer) -> None:
    async with rxclaude.Client(api_key="k", base_url=server.url, betas=["interleaved-thinking-2025-05-14"]) as c:
        assert [m async for m in Files(c).list()] == []
    assert server.last_request.headers["anthropic-beta"] == f"interleaved-thinking-2025-05-14,{FILES_BETA}"


async def test_list_rejects_bad_arguments_locally(client: rxclaude.Client) -> None:
    for limit in (0, 1001):
        with pytest.raises(ValueError, match="1 to 1000"):
            Files(client).list(limit)
    with pytest.raises(ValueError, match="not both"):
        Files(client).list(after_id="a", before_id="b")


# -- retrieve, download, delete ----------------------------------------------------------------


async def test_retrieve_download_and_delete(server: MockServer, client: rxclaude.Client, tmp_path: Path) -> None:
    f = Files(client)
    data = os.urandom(3 * 1024 * 1024 + 17)
    out = server.files.add(data, "result.bin", downloadable=True)
    meta = await f.retrieve(out["id"])
    assert meta.to_dict() == out and meta.downloadable
    target = tmp_path / "copy.bin"
    target.write_bytes(b"old")
    assert await f.download(meta.id, target) == target
    assert target.read_bytes() == data
    assert await f.download(meta.id, tmp_path) == tmp_path / "result.bin"  # a directory keeps the name
    assert (tmp_path / "result.bin").read_bytes() == data
    assert await f.content(meta.id) == data
    dl = next(r for r in server.requests if r.path.endswith("/content"))
    assert dl.headers["accept"] == "application/binary" and dl.query["beta"] == "true"
    assert await f.delete(meta.id) == FileDeleted(meta.id, "file_deleted")
    with pytest.raises(NotFoundError) as info:
        await f.retrieve(meta.id)
    assert info.value.status_code == 404 and info.value.type == "not_found_error"
    assert info.value.request_id and info.value.request_id.startswith("req_011C")
    assert meta.id in info.value.message
    with pytest.raises(NotFoundError):
        await f.delete(meta.id)
    with pytest.raises(NotFoundError):
        await f.download(meta.id, tmp_path / "gone.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "result.bin"]  # no temp files left


async def test_uploaded_files_are_not_downloadable(server: MockServer, client: rxclaude.Client, tmp_path: Path) -> None:
    meta = await Files(client).upload(PDF, filename="a.pdf")
    target = tmp_path / "a.pdf"
    with pytest.raises(BadRequestError, match="not downloadable"):
        await Files(client).download(meta.id, target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BadRequestError):
        await Files(client).content(meta.id)
    with pytest.raises(ValueError):
        await Files(client).retrieve("")


async def test_download_cut_short_leaves_no_file(tmp_path: Path) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "application/octet-stream"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return resp

    async with (
        MockServer(routes=[web.get("/v1/files/{file_id}/content", cut)]) as server,
        rxclaude.Client(api_key="k", base_url=server.url) as c,
    ):
        with pytest.raises(ConnectionLostError):
            await Files(c).download("file_1", tmp_path / "x.bin")
    assert list(tmp_path.iterdir()) == []


async def test_retries_before_the_first_byte_then_succeeds() -> None:
    calls = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        srv = request.app[SERVER_KEY]
        calls.append(1)
        if len(calls) == 1:
            return srv.error_response(
                srv.record_for(request), 529, "overloaded_error", "Overloaded", [("retry-after-ms", "1")]
            )
        return web.json_response(
            {
                "id": request.match_info["file_id"],
                "type": "file",
                "filename": "a",
                "mime_type": "text/plain",
                "size_bytes": 1,
                "created_at": "",
                "downloadable": False,
            }
        )

    async with MockServer(routes=[web.get("/v1/files/{file_id}", flaky)]) as server:
        async with rxclaude.Client(api_key="k", base_url=server.url) as c:
            assert (await Files(c).retrieve("file_1")).id == "file_1"
        assert len(calls) == 2
        async with rxclaude.Client(api_key="k", base_url=server.url, max_retries=0) as c:
            calls.clear()
            with pytest.raises(rxclaude.OverloadedError):
                await Files(c).retrieve("file_1")


async def test_upload_is_sent_again_whole_on_retry(tmp_path: Path) -> None:
    seen: list[int] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        srv = request.app[SERVER_KEY]
        if not seen:
            seen.append(len(await request.read()))
            return srv.error_response(srv.record_for(request), 503, "api_error", "try again", [("retry-after-ms", "1")])
        return await srv.files._upload(request)

    path = tmp_path / "big.txt"
    path.write_bytes(b"line\n" * 100_000)
    async with (
        MockServer(routes=[web.post("/v1/files", flaky)]) as server,
        rxclaude.Client(api_key="k", base_url=server.url) as c,
    ):
        meta = await Files(c).upload(path)
        assert meta.size_bytes == 500_000 and seen[0] > 500_000
        assert server.files.uploads[-1].size == 500_000 and len(server.requests) == 2


async def test_first_byte_timeout_is_typed() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    async with MockServer(routes=[web.get("/v1/files", slow)]) as server:
        timeouts = Timeouts(first_byte=0.2)
        async with rxclaude.Client(api_key="k", base_url=server.url, max_retries=0, timeouts=timeouts) as c:
            with pytest.raises(FirstByteTimeoutError):
                await Files(c).list_page()
        async with rxclaude.Client(api_key="k", base_url=server.url, max_retries=0, timeouts=Timeouts(total=0.2)) as c:
            with pytest.raises(rxclaude.TotalTimeoutError):
                await Files(c).list_page()


async def test_api_key_never_in_reprs_or_errors(server: MockServer) -> None:
    server.require_key = True
    async with rxclaude.Client(api_key=SECRET, base_url=server.url) as c:
        f = Files(c)
        with pytest.raises(AuthenticationError) as info:
            await f.upload(b"abc", filename="a.txt")
        with pytest.raises(AuthenticationError) as info2:
            await f.retrieve("file_1")
        texts = [repr(f), str(info.value), repr(info.value), str(info2.value), repr(info2.value), repr(info.value.body)]
        assert all(SECRET not in t for t in texts), texts
        assert server.url in repr(f)


async def test_no_key_fails_before_sending(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    async with rxclaude.Client(base_url=server.url) as c:
        with pytest.raises(AuthenticationError, match="no API key"):
            await Files(c).list_page()
    assert server.requests == []


# -- the mock's Files endpoints over raw HTTP --------------------------------------------------


async def test_mock_files_endpoints_speak_the_api(server: MockServer) -> None:
    h = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as http:

        async def get(path: str, headers: dict[str, str] = h) -> tuple[int, Any]:
            async with http.get(server.url + path, headers=headers) as r:
                return r.status, await r.json()

        status, body = await get("/v1/files/file_011Cnope")
        assert (
            status == 404
            and body["type"] == "error"
            and body["error"] == {"type": "not_found_error", "message": "File not found: file_011Cnope"}
        )
        assert body["request_id"].startswith("req_011C")
        for bad in ("0", "1001", "abc"):
            status, body = await get(f"/v1/files?limit={bad}")
            assert status == 400 and body["error"]["type"] == "invalid_request_error", bad
        status, body = await get("/v1/files?after_id=a&before_id=b")
        assert status == 400
        status, body = await get("/v1/files", {"anthropic-version": "2023-06-01"})
        assert status == 401 and body["error"]["type"] == "authentication_error"
        status, body = await get("/v1/files", {"x-api-key": "k"})
        assert status == 400 and "anthropic-version" in body["error"]["message"]
        status, body = await get("/v1/files?beta=true")
        assert (status, body) == (200, {"data": [], "has_more": False, "first_id": None, "last_id": None})
        server.files.require_beta = True
        status, body = await get("/v1/files")
        assert status == 400 and FILES_BETA in body["error"]["message"]
        status, body = await get("/v1/files", {**h, "anthropic-beta": f"x,{FILES_BETA}"})
        assert status == 200
        async with http.post(
            server.url + "/v1/files",
            data=b"raw pdf",
            headers={**h, "content-type": "application/pdf", "anthropic-beta": FILES_BETA},
        ) as r:
            assert r.status == 400 and "multipart/form-data" in (await r.json())["error"]["message"]
        form = aiohttp.FormData()
        form.add_field("document", b"%PDF-", filename="a.pdf", content_type="application/pdf")
        async with http.post(server.url + "/v1/files", data=form, headers={**h, "anthropic-beta": FILES_BETA}) as r:
            assert r.status == 400 and (await r.json())["error"]["message"] == "file: Field required"


async def test_user_routes_override_the_default_files_routes() -> None:
    async def mine(request: web.Request) -> web.StreamResponse:
        return web.json_response({"mine": True})

    async with MockServer(routes=[web.get("/v1/files", mine)]) as server, aiohttp.ClientSession() as http:
        async with http.get(server.url + "/v1/files") as r:
            assert await r.json() == {"mine": True}
        meta = server.files.add(b"x", "a.txt")
        async with http.get(server.url + f"/v1/files/{meta['id']}", headers=server.headers()) as r:
            assert (await r.json())["id"] == meta["id"]


# -- Messages: image and document blocks -------------------------------------------------------


def _ask(*blocks: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 32, "messages": [content.user(*blocks, "What is this?")]}


async def test_messages_accept_images_and_file_documents_end_to_end(
    server: MockServer, client: rxclaude.Client
) -> None:
    meta = await Files(client).upload(PDF, filename="paper.pdf")
    server.enqueue(Reply.text("A red pixel and a paper."))
    stream = client.messages.stream(**_ask(content.image(png()), content.document(meta.id, citations=True)))
    assert await stream.final_text() == "A red pixel and a paper."
    blocks = server.last_request.json["messages"][0]["content"]
    assert blocks[0]["source"]["media_type"] == "image/png"
    assert blocks[1]["source"] == {"type": "file", "file_id": meta.id}
    server.enqueue(Reply.text("ok"))
    assert await client.messages.stream(**_ask(meta.block(), content.document(PDF))).final_text() == "ok"


async def test_messages_reject_a_mismatched_image_media_type(server: MockServer) -> None:
    block = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(png()).decode()},
    }
    async with rxclaude.Client(api_key="k", base_url=server.url, validate=False, max_retries=0) as c:
        with pytest.raises(BadRequestError) as info:
            await c.messages.stream(**_ask(block)).final_text()
    assert info.value.message == (
        "messages.0.content.0.image.source.base64.data: The image was specified using the image/jpeg media type, "
        "but the image appears to be a image/png image"
    )
    assert info.value.status_code == 400 and info.value.request_id


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%%not base64"}},
            "messages.0.content.0.image.source.base64.data: The image data is not valid base64",
        ),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"}},
            "messages.0.content.0.image.source.base64.media_type: Input should be",
        ),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"<html>").decode()},
            },
            "messages.0.content.0.image.source.base64.data: Could not process image",
        ),
        (
            {"type": "image", "source": {"type": "file", "file_id": "file_011Cmissing"}},
            "messages.0.content.0.image.source.file.file_id: File not found: file_011Cmissing",
        ),
        (
            {"type": "document", "source": {"type": "file", "file_id": "file_011Cmissing"}},
            "messages.0.content.0.document.source.file.file_id: File not found: file_011Cmissing",
        ),
        (
            {
                "type": "document",
                "source": {
                    "type": "base64",
                    "media_type": "application/pdf",
                    "data": base64.b64encode(b"not a pdf").decode(),
                },
            },
            "messages.0.content.0.document.source.base64.data: The PDF specified was not valid.",
        ),
        ({"type": "document", "source": {"type": "gzip"}}, "messages.0.content.0.document.source: Input tag 'gzip'"),
        (
            {
                "type": "tool_result",
                "tool_use_id": "t",
                "content": [{"type": "image", "source": {"type": "file", "file_id": "file_011Cmissing"}}],
            },
            "messages.0.content.0.tool_result.content.0.image.source.file.file_id: File not found",
        ),
    ],
)
async def test_messages_reject_bad_media_blocks(server: MockServer, block: dict[str, Any], message: str) -> None:
    async with rxclaude.Client(api_key="k", base_url=server.url, validate=False, max_retries=0) as c:
        with pytest.raises(BadRequestError) as info:
            await c.messages.stream(**_ask(block)).final_text()
    assert info.value.message.startswith(message) and info.value.type == "invalid_request_error"


async def test_file_blocks_must_fit_the_file(server: MockServer, client: rxclaude.Client) -> None:
    pdf = await Files(client).upload(PDF, filename="a.pdf")
    image = await Files(client).upload(png(), filename="a.png")
    async with rxclaude.Client(api_key="k", base_url=server.url, validate=False, max_retries=0) as c:
        with pytest.raises(BadRequestError, match="application/pdf, which is not supported in image blocks"):
            await c.messages.stream(**_ask(content.image(pdf.id))).final_text()
        with pytest.raises(BadRequestError, match="image/png, which is not supported in document blocks"):
            await c.messages.stream(**_ask(content.document(image.id))).final_text()
        server.enqueue(Reply.text("fine"))
        assert await c.messages.stream(**_ask(image.block())).final_text() == "fine"
    async with aiohttp.ClientSession() as http:
        body = {"model": MODEL, "messages": [content.user(content.image(pdf.id))]}
        async with http.post(server.url + "/v1/messages/count_tokens", json=body, headers=server.headers()) as r:
            assert r.status == 400


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_upload_list_info_download_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    src = tmp_path / "report.pdf"
    src.write_bytes(PDF)
    with MockServer(require_key=SECRET).running_in_thread() as server:
        url = ["--base-url", server.url]
        assert _cli_files.main(["upload", str(src), *url]) == 0
        file_id = capsys.readouterr().out.split("\t")[0]
        assert file_id in server.files and server.files.uploads[-1].filename == "report.pdf"

        assert (
            _cli_files.main(["upload", str(src), "--media-type", "text/plain", "--filename", "r.txt", "--json", *url])
            == 0
        )
        second = orjson.loads(capsys.readouterr().out)
        assert (second["filename"], second["mime_type"]) == ("r.txt", "text/plain")

        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)  # the environment works too
        assert _cli_files.main(["list", "--limit", "1"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split("\t")[0] for line in lines] == [second["id"], file_id]

        assert _cli_files.main(["info", file_id, "--json"]) == 0
        assert orjson.loads(capsys.readouterr().out)["size_bytes"] == len(PDF)

        out = server.files.add(b"result", "out.txt", downloadable=True)
        assert _cli_files.main(["download", out["id"], str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == str(tmp_path / "out.txt")
        assert (tmp_path / "out.txt").read_bytes() == b"result"

        assert _cli_files.main(["delete", file_id]) == 0
        assert capsys.readouterr().out.strip() == f"deleted {file_id}"
        assert file_id not in server.files

        assert _cli_files.main(["list", "--ga"]) == 0
        assert "anthropic-beta" not in server.last_request.headers
        capsys.readouterr()


def test_cli_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    with MockServer().running_in_thread() as server:
        url = ["--base-url", server.url]
        cases = [
            (["delete", "file_011Cnope", *url], "NotFoundError: File not found: file_011Cnope"),
            (["upload", str(tmp_path / "missing.pdf"), *url], "FileNotFoundError"),
            (["download", "file_011Cnope", str(tmp_path / "x"), *url], "NotFoundError"),
            (["list", "--limit", "0", *url], "ValueError"),
        ]
        for argv, expected in cases:
            assert _cli_files.main(argv) == 1, argv
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and expected in err and SECRET not in err, err
        server.require_key = True  # the server now refuses SECRET
        assert _cli_files.main(["list", *url]) == 1
        err = capsys.readouterr().err
        assert "AuthenticationError" in err and SECRET not in err
    assert _cli_files.main([]) == 2
    assert _cli_files.main(["frobnicate"]) == 2
    assert _cli_files.main(["--help"]) == 0
    capsys.readouterr()


async def test_messages_with_a_file_source_send_the_files_beta() -> None:
    import rxclaude
    from rxclaude import content
    from rxclaude.testing import MockServer

    async with MockServer() as server, rxclaude.Client(api_key=server.api_key, base_url=server.url) as client:
        pdf = server.files.add(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "doc.pdf", downloadable=False)
        file_id = pdf.id if hasattr(pdf, "id") else pdf["id"]
        await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=8, messages=[content.user(content.document(file_id), "Hi")]
        )
        assert "files-api-2025-04-14" in server.requests[-1].headers.get("anthropic-beta", "")
        await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
        )
        assert "anthropic-beta" not in server.requests[-1].headers
