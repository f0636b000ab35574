"""Shared by the Redis relay tests: a real ``redis-server`` per module, SSE helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rxclaude.testing.redis import RedisServer, redis_server_binary

SECRET = "test-relay-secret-0123456789abcdef"


def need_redis_server() -> None:
    """Skip without a ``redis-server`` binary, except in CI (``.ci/run`` installs it): fail there."""
    if redis_server_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("no redis-server binary: .ci/run installs Debian's redis-server")
        pytest.skip("no redis-server binary (apt-get install redis-server)")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server on a free port for this test module."""
    need_redis_server()
    with RedisServer() as server:
        yield server


def split_events(body: bytes) -> tuple[list[bytes], bytes]:
    """Complete SSE events (each with its blank line) and the incomplete rest."""
    events = []
    start = 0
    while (end := body.find(b"\n\n", start)) >= 0:
        events.append(body[start : end + 2])
        start = end + 2
    return events, body[start:]


def event_id(event: bytes) -> int | None:
    """The ``id`` of an encoded event, or ``None``."""
    for line in event.split(b"\n"):
        if line.startswith(b"id: "):
            return int(line[4:])
    return None
