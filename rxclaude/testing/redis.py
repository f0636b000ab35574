"""A real ``redis-server`` on 127.0.0.1 for tests, demos and benchmarks: a free port, no persistence.

It runs the ``redis-server`` binary (``$RXCLAUDE_REDIS_SERVER``, else the one on ``PATH``, else
``/usr/bin/redis-server``; Debian's package ``redis-server``; ``valkey-server`` works too) as a
child process with ``--save ""`` and ``--appendonly no`` in a temporary folder, and stops it on
exit. :func:`redis_server_binary` tells whether there is one.

Example::

    with RedisServer() as redis:
        log = RedisLog(redis.url)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from rxclaude.core.errors import EventLogError

__all__ = ["RedisServer", "redis_server_binary"]

_CANDIDATES = ("redis-server", "valkey-server")


def redis_server_binary() -> str | None:
    """The path of a ``redis-server`` (or ``valkey-server``) binary, or ``None``.

    Example:
        >>> redis_server_binary() is None or redis_server_binary().endswith("-server")
        True
    """
    configured = os.environ.get("RXCLAUDE_REDIS_SERVER")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in _CANDIDATES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` child process on ``127.0.0.1:<port>`` (a free port by default).

    :meth:`stop` and :meth:`start` may be called again (same port), e.g. to test a Redis outage.

    Example::

        with RedisServer() as redis:
            print(redis.url)          # redis://127.0.0.1:41234/0
            redis.stop()              # Redis is gone: clients get errors
            redis.start()             # back, empty
    """

    def __init__(self, port: int | None = None, *, binary: str | None = None, timeout: float = 10.0) -> None:
        self.binary = binary or redis_server_binary()
        if self.binary is None:
            raise EventLogError(
                "no redis-server binary found (apt-get install redis-server, or set RXCLAUDE_REDIS_SERVER)"
            )
        self.port = port or _free_port()
        self.timeout = timeout
        self._dir = tempfile.TemporaryDirectory(prefix="rxclaude-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the server and wait until it answers ``PING``."""
        if self._process is not None:
            return
        assert self.binary is not None
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--maxclients",
                "10000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise EventLogError(f"redis-server exited at start (port {self.port} taken?)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise EventLogError(f"redis-server did not answer on port {self.port} within {self.timeout} s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (``SIGTERM``, or e.g. ``SIGKILL``) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(self.timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._dir.cleanup()

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} {'running' if self._process is not None else 'stopped'}>"
