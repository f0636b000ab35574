"""``rxclaude files ...``: the Files API from the command line.

    rxclaude files upload report.pdf [--media-type application/pdf] [--filename NAME]
    rxclaude files list [--limit 100] [--json]
    rxclaude files info FILE_ID
    rxclaude files download FILE_ID PATH     # PATH may be a directory
    rxclaude files delete FILE_ID

The key comes from ``ANTHROPIC_API_KEY`` (never printed); ``--base-url`` or
``ANTHROPIC_BASE_URL`` picks the server. ``--ga`` talks to the GA API (no beta header).
Errors print one line to stderr and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

import orjson

from rxclaude.client import Client
from rxclaude.core.errors import RxClaudeError
from rxclaude.files import FILES_BETA, FileMetadata, Files

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--base-url", help="API base URL (default ANTHROPIC_BASE_URL or the real API)")
    common.add_argument(
        "--ga", action="store_true", help=f"use the GA Files API (no 'anthropic-beta: {FILES_BETA}' header)"
    )
    common.add_argument("--json", action="store_true", help="print metadata as JSON (one object per line)")

    p = argparse.ArgumentParser(prog="rxclaude files", description="Upload, list, download and delete files.")
    sub = p.add_subparsers(dest="command", metavar="{upload,list,info,download,delete}")
    up = sub.add_parser("upload", parents=[common], help="upload a file (500 MB at most)")
    up.add_argument("path")
    up.add_argument("--media-type", help="the part's content type (default: sniffed from the bytes)")
    up.add_argument("--filename", help="the name to store (default: the file's name)")
    ls = sub.add_parser("list", parents=[common], help="list every file, newest first")
    ls.add_argument("--limit", type=int, help="page size, 1-1000 (every page is listed)")
    info = sub.add_parser("info", parents=[common], help="show one file's metadata")
    info.add_argument("file_id")
    dl = sub.add_parser("download", parents=[common], help="download a file (code-execution outputs only)")
    dl.add_argument("file_id")
    dl.add_argument("path", help="where to write it (a directory keeps the file's name)")
    rm = sub.add_parser("delete", parents=[common], help="delete a file")
    rm.add_argument("file_id")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rxclaude files ARGS``; returns the exit status.

    Example::

        status = main(["upload", "report.pdf"])   # prints the new file id
    """
    parser = _parser()
    try:
        ns = parser.parse_args(list(sys.argv[2:] if argv is None else argv))
    except SystemExit as e:  # --help or a usage error (argparse printed it)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return asyncio.run(_run(ns, sys.stdout))
    except (RxClaudeError, OSError, ValueError, NotImplementedError) as e:
        message = " ".join(str(e).split())
        print(f"rxclaude files: {type(e).__name__}: {message}", file=sys.stderr)
        return 1


def _line(meta: FileMetadata, as_json: bool) -> str:
    if as_json:
        return orjson.dumps(meta.to_dict()).decode()
    flag = "\tdownloadable" if meta.downloadable else ""
    return f"{meta.id}\t{meta.size_bytes}\t{meta.created_at}\t{meta.mime_type}\t{meta.filename}{flag}"


async def _run(ns: argparse.Namespace, out: TextIO) -> int:
    async with Client(base_url=ns.base_url) as client:
        files = Files(client, beta=None if ns.ga else FILES_BETA)
        if ns.command == "upload":
            meta = await files.upload(ns.path, filename=ns.filename, media_type=ns.media_type)
            print(_line(meta, ns.json), file=out)
        elif ns.command == "list":
            async for meta in files.list(ns.limit):
                print(_line(meta, ns.json), file=out)
        elif ns.command == "info":
            print(_line(await files.retrieve(ns.file_id), ns.json), file=out)
        elif ns.command == "download":
            print(await files.download(ns.file_id, ns.path), file=out)
        elif ns.command == "delete":
            deleted = await files.delete(ns.file_id)
            print(
                orjson.dumps({"id": deleted.id, "type": deleted.type}).decode() if ns.json else f"deleted {deleted.id}",
                file=out,
            )
    return 0
