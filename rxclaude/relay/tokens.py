"""Signed, expiring viewer tokens: one stream id, one expiry, an HMAC-SHA256 over both.

A token reads ``v1.<expiry>.<signature>``: ``expiry`` is a Unix time in whole seconds and
``signature`` the URL-safe base64 (no padding) of ``HMAC-SHA256(secret, "v1\\n<stream id>\\n<expiry>")``.
It carries no secret and names no stream (the stream is in the URL, and the signature binds the
token to it), so it can sit in a query string. The secret comes from ``RXCLAUDE_RELAY_SECRET``
unless one is passed; it must be at least 16 bytes long.

Example:
    >>> token = make_token("chat-42", secret="0123456789abcdef0123", ttl=60, now=1_000)
    >>> verify_token(token, "chat-42", secret="0123456789abcdef0123", now=1_030)
    >>> verify_token(token, "chat-43", secret="0123456789abcdef0123", now=1_030)
    Traceback (most recent call last):
    ...
    rxclaude.core.errors.TokenError: the token is not valid for this stream
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Final

from rxclaude.core.errors import TokenError

__all__ = ["DEFAULT_TOKEN_TTL", "MIN_SECRET_BYTES", "SECRET_ENV", "make_token", "relay_secret", "verify_token"]

SECRET_ENV: Final = "RXCLAUDE_RELAY_SECRET"
"""The environment variable the relay secret is read from."""
MIN_SECRET_BYTES: Final = 16
"""The shortest secret accepted (in UTF-8 bytes)."""
DEFAULT_TOKEN_TTL: Final = 3600.0
"""How long a token is valid by default (seconds)."""
_VERSION: Final = "v1"
_MAX_TOKEN = 256


def relay_secret(secret: str | bytes | None = None) -> bytes:
    """The secret to sign with: ``secret`` if given, else ``$RXCLAUDE_RELAY_SECRET``.

    Raises :class:`~rxclaude.TokenError` when there is none or it is shorter than 16 bytes.

    Example:
        >>> relay_secret("0123456789abcdef")
        b'0123456789abcdef'
    """
    if secret is None:
        secret = os.environ.get(SECRET_ENV, "")
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise TokenError(f"the relay secret must be at least {MIN_SECRET_BYTES} bytes (set {SECRET_ENV})")
    return raw


def _signature(secret: bytes, stream_id: str, expiry: int) -> str:
    mac = hmac.new(secret, f"{_VERSION}\n{stream_id}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def make_token(
    stream_id: str, *, secret: str | bytes | None = None, ttl: float = DEFAULT_TOKEN_TTL, now: float | None = None
) -> str:
    """A viewer token for ``stream_id`` that expires ``ttl`` seconds from now.

    Example:
        >>> make_token("chat-42", secret="0123456789abcdef", ttl=60, now=0)[:6]  # version, expiry, signature
        'v1.60.'
    """
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")
    expiry = int((time.time() if now is None else now) + ttl)
    return f"{_VERSION}.{expiry}.{_signature(relay_secret(secret), stream_id, expiry)}"


def verify_token(token: str, stream_id: str, *, secret: str | bytes | None = None, now: float | None = None) -> None:
    """Check that ``token`` was made for ``stream_id`` with this secret and has not expired.

    Raises :class:`~rxclaude.TokenError` (with a reason that reveals nothing about the secret).

    Example:
        >>> old = make_token("chat-42", secret="0123456789abcdef", ttl=1, now=0)
        >>> verify_token(old, "chat-42", secret="0123456789abcdef", now=5)
        Traceback (most recent call last):
        ...
        rxclaude.core.errors.TokenError: the token has expired
    """
    key = relay_secret(secret)
    parts = token.split(".") if len(token) <= _MAX_TOKEN else []
    if len(parts) != 3 or parts[0] != _VERSION or not (parts[1].isascii() and parts[1].isdigit()):
        raise TokenError("the token is malformed")
    expiry = int(parts[1])
    if not hmac.compare_digest(_signature(key, stream_id, expiry).encode(), parts[2].encode("ascii", "replace")):
        raise TokenError("the token is not valid for this stream")
    if expiry <= (time.time() if now is None else now):
        raise TokenError("the token has expired")
