"""JSON calls beside the streams: one request on the client's pool, typed errors, SDK retries.

Used by the Message Batches resource and ``count_tokens``. A call is retried (the client's
:class:`~rxclaude.core.retry.RetryPolicy`) when it fails before the response status or gets a
retryable status; a non-2xx answer becomes the typed error of :mod:`rxclaude.core.errors`.
The whole call runs under ``client.timeouts.total``; the status line under ``first_byte``.

Example::

    body = await rest.call(client, "GET", "/v1/messages/batches", query={"limit": "20"})
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import orjson

from rxclaude.core.errors import (
    APIError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    FirstByteTimeoutError,
    StreamStalledError,
    TransportError,
    UnsupportedFeatureError,
)
from rxclaude.core.retry import RetryPolicy
from rxclaude.transport.base import Timeouts
from rxclaude.transport.http import Transport
from rxclaude.transport.providers.anthropic import AnthropicProvider, api_error_from_http
from rxclaude.transport.providers.base import Provider

__all__ = ["read_json", "Host", "call", "open_response", "read_chunk"]


class Host(Protocol):
    """What a call uses of its client (a :class:`~rxclaude.Client`): connection and policies."""

    provider: Provider
    betas: tuple[str, ...]
    retry: RetryPolicy
    timeouts: Timeouts
    transport: Transport


_ERROR_BODY_LIMIT = 1 << 20


def _provider(client: Host, what: str) -> AnthropicProvider:
    provider = client.provider
    if not isinstance(provider, AnthropicProvider):
        raise UnsupportedFeatureError(f"{what} is a first-party API feature; {provider!r} does not offer it")
    return provider


def _url(provider: AnthropicProvider, path: str, query: Mapping[str, str] | None) -> str:
    url = path if path.startswith(("http://", "https://")) else provider.base_url + path
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    return url


async def open_response(
    client: Host,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: Mapping[str, str] | None = None,
    accept: str = "application/json",
    what: str = "this call",
) -> aiohttp.ClientResponse:
    """Send (with retries) and return the 2xx response; the caller reads and closes it.

    Example::

        response = await rest.open_response(client, "GET", batch.results_url, accept="application/binary")
    """
    provider = _provider(client, what)
    url = _url(provider, path, query)
    data = orjson.dumps(body) if body is not None else None
    headers = provider.headers(client.betas, accept=accept)
    if data is None:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    retry = client.retry
    retries = 0
    while True:
        try:
            response = await _send(client, method, url, headers, data)
        except TransportError as e:
            if retries < retry.max_retries:
                await asyncio.sleep(retry.delay(retries))
                retries += 1
                continue
            raise e from None
        if response.status < 400:
            return response
        try:
            error_body = await response.content.read(_ERROR_BODY_LIMIT)
        except (aiohttp.ClientError, ConnectionError):
            error_body = b""
        finally:
            response.close()
        error = api_error_from_http(response.status, response.headers, error_body)
        if retries < retry.max_retries and retry.should_retry(response.status, response.headers):
            await asyncio.sleep(retry.delay(retries, response.headers))
            retries += 1
            continue
        raise error


async def call(
    client: Host,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: Mapping[str, str] | None = None,
    what: str = "this call",
) -> Mapping[str, Any]:
    """One JSON call: the parsed object of a 2xx answer, or the typed error.

    Example::

        batch = await rest.call(client, "GET", f"/v1/messages/batches/{batch_id}")
    """
    async with asyncio.timeout(client.timeouts.total):
        response = await open_response(client, method, path, body=body, query=query, what=what)
        return await read_json(client, response, what)


async def read_json(client: Host, response: aiohttp.ClientResponse, what: str = "this call") -> Mapping[str, Any]:
    """The whole body of a 2xx answer as a JSON object (the connection is closed after), or an
    :class:`~rxclaude.APIError` that quotes what came instead.

    Example::

        meta = await rest.read_json(client, response, "files.retrieve")
    """
    try:
        chunks = []
        while chunk := await read_chunk(client, response):
            chunks.append(chunk)
    finally:
        response.close()
    raw = b"".join(chunks)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise APIError(
            f"{what}: expected a JSON object, got {raw[:200]!r}",
            status_code=response.status,
            request_id=response.headers.get("request-id"),
            headers=response.headers,
        )
    return parsed


async def read_chunk(client: Host, response: aiohttp.ClientResponse) -> bytes:
    """The next body bytes (``b""`` at the end), within the client's ``idle`` timeout."""
    idle = client.timeouts.idle
    try:
        async with asyncio.timeout(idle):
            return await response.content.readany()
    except TimeoutError:
        raise StreamStalledError(f"no data for idle={idle}s mid-response", timeout=idle) from None
    except (aiohttp.ClientError, ConnectionError) as e:
        raise ConnectionLostError(f"connection lost mid-response: {e}") from None


async def _send(
    client: Host, method: str, url: str, headers: Mapping[str, str], data: bytes | None
) -> aiohttp.ClientResponse:
    timeouts = client.timeouts
    timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=timeouts.connect, sock_read=None)
    try:
        async with asyncio.timeout(timeouts.first_byte):
            return await client.transport.session.request(
                method, url, headers=dict(headers), data=data, timeout=timeout, allow_redirects=False
            )
    except TimeoutError as e:
        if isinstance(e, aiohttp.ServerTimeoutError):
            raise ConnectTimeoutError(
                f"could not connect within {timeouts.connect}s", timeout=timeouts.connect
            ) from None
        raise FirstByteTimeoutError(
            f"no response within first_byte={timeouts.first_byte}s", timeout=timeouts.first_byte
        ) from None
    except aiohttp.ClientConnectorError as e:
        raise ConnectError(f"cannot connect to {e.host}:{e.port}: {e.os_error}") from None
    except aiohttp.ClientError as e:
        raise ConnectionLostError(f"connection failed before the response: {e}") from None
