"""Serving an aiohttp app on a host and port (0: a free one), for the relay and the relay nodes."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

__all__ = ["listen"]


@contextlib.asynccontextmanager
async def listen(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` while the block runs; yields its base URL (``port=0`` takes a free port).

    Leaving the block stops listening, then runs the app's ``on_shutdown`` handlers.

    Example::

        async with listen(app, "127.0.0.1", 0) as url:
            print(url)
    """
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            bound = int(sock.getsockname()[1])
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            sock.close()
            raise
        yield f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
