"""The lifecycle shared by the standalone mock servers: an aiohttp app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    """Serve ``self.make_app()`` on ``127.0.0.1`` (a free port) inside ``async with``.

    Subclasses implement :meth:`make_app`; ``url`` is ``http://127.0.0.1:PORT`` plus
    ``url_suffix``.
    """

    url_suffix = ""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The application to serve."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        runner = web.AppRunner(self.make_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}{self.url_suffix}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextmanager
    def running_in_thread(self, timeout: float = 10.0) -> Iterator[Self]:
        """Serve on its own event loop in a daemon thread (for sync code and the CLI).

        Example::

            with MockBedrockServer(text="Hi").running_in_thread() as server:
                subprocess.run(["rxclaude", "Hi", "--provider", "bedrock", "--base-url", server.url])
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="rxclaude-mock", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.__aenter__(), loop).result(timeout)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.__aexit__(None, None, None), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()
