"""Claude on Amazon Bedrock: ``invoke-with-response-stream``, SigV4 or API-key auth.

Strategy: the Messages params become a Bedrock body (``model`` moves into the URL, ``stream``
is dropped, ``anthropic_version`` and ``anthropic_beta`` are added), and the request is signed
with botocore's ``SigV4Auth`` for service ``bedrock``.  Credentials come from botocore's
usual chain (explicit keys, environment, profile, SSO, instance roles ...) and are resolved
and frozen in the default executor, because a refresh may block.  The signature covers the
URL path byte for byte, so the model id is quoted except for ``:`` (as the official SDK
does): that form survives URL normalization in aiohttp/yarl unchanged, whereas a ``%3A``
would be unquoted to ``:`` in transit and fail the signature.  A Bedrock API key
(``AWS_BEARER_TOKEN_BEDROCK``) replaces signing with ``Authorization: Bearer``.  botocore
is optional and imported only when needed.

Example::

    provider = BedrockProvider("us-east-1")
    request = await provider.build_request(
        {"model": "us.anthropic.claude-haiku-4-5-20251001-v1:0", "max_tokens": 256,
         "messages": [{"role": "user", "content": "Hi"}]}
    )
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from rxclaude.core import _json
from rxclaude.core.errors import APIError, RxClaudeError, error_class_for, error_from_body
from rxclaude.transport.providers.base import HTTPRequest
from rxclaude.transport.providers.eventstream import EventStreamDecoder, bedrock_error_type

__all__ = ["BEDROCK_ANTHROPIC_VERSION", "BEDROCK_MAX_REQUEST_BYTES", "BedrockProvider"]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
BEDROCK_MAX_REQUEST_BYTES = 20 * 1024 * 1024
"""Bedrock's request cap, 20 MB (api-reference §6; MiB, like ``content.MAX_REQUEST_BYTES``)."""
_INSTALL_HINT = "pip install 'rxclaude[bedrock]'"
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_MESSAGES_PATH = "/v1/messages"


def _import_botocore() -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        import botocore.session
    except ImportError as exc:
        raise ImportError(f"Bedrock SigV4 signing needs botocore: {_INSTALL_HINT}") from exc
    return botocore


class BedrockProvider:
    """Send Messages requests to Amazon Bedrock's ``invoke-with-response-stream``.

    Args:
        region: AWS region; else ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the botocore
            profile's region, then ``us-east-1``.
        access_key: explicit AWS access key id (needs ``secret_key``).
        secret_key: explicit AWS secret access key.
        session_token: STS session token for temporary explicit keys.
        profile: a profile of the shared AWS config/credentials files.
        api_key: a Bedrock API key, sent as ``Authorization: Bearer`` instead of SigV4;
            default ``AWS_BEARER_TOKEN_BEDROCK`` (used only when no explicit keys or profile
            are given).
        base_url: replaces ``https://bedrock-runtime.{region}.amazonaws.com``; default
            ``ANTHROPIC_BEDROCK_BASE_URL``.
        anthropic_version: the body's ``anthropic_version`` (``bedrock-2023-05-31``).

    Credentials never appear in ``repr`` or in exception messages.

    Example:
        >>> p = BedrockProvider("us-west-2", access_key="AKIDEXAMPLE", secret_key="secret")
        >>> p
        BedrockProvider(region='us-west-2', auth='sigv4', base_url='https://bedrock-runtime.us-west-2.amazonaws.com')
    """

    name = "bedrock"
    max_request_bytes: int = BEDROCK_MAX_REQUEST_BYTES
    """The largest request body Bedrock accepts (for :func:`rxclaude.content.validate_request`)."""

    def __init__(
        self,
        region: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        anthropic_version: str = BEDROCK_ANTHROPIC_VERSION,
    ) -> None:
        if (access_key is None) != (secret_key is None):
            raise ValueError("access_key and secret_key must be given together")
        if session_token is not None and access_key is None:
            raise ValueError("session_token needs access_key and secret_key")
        if api_key is not None and access_key is not None:
            raise ValueError("pass api_key (Bearer) or access_key/secret_key (SigV4), not both")
        explicit_sigv4 = access_key is not None or profile is not None
        if api_key is None and not explicit_sigv4:
            api_key = os.environ.get("AWS_BEARER_TOKEN_BEDROCK") or None
        self._api_key = api_key
        self._profile = profile
        self._static_keys = (access_key, secret_key, session_token) if access_key is not None else None
        self._session: Any = None
        self._credentials: Any = None
        self._lock = threading.Lock()
        self._botocore: Any = None if api_key is not None else _import_botocore()
        self.region: str = region or self._default_region()
        base = base_url or os.environ.get("ANTHROPIC_BEDROCK_BASE_URL")
        self.base_url: str = (base or f"https://bedrock-runtime.{self.region}.amazonaws.com").rstrip("/")
        self.anthropic_version = anthropic_version

    @property
    def auth(self) -> str:
        """``"bearer"`` (Bedrock API key) or ``"sigv4"``."""
        return "bearer" if self._api_key is not None else "sigv4"

    def __repr__(self) -> str:
        return f"BedrockProvider(region={self.region!r}, auth={self.auth!r}, base_url={self.base_url!r})"

    def _default_region(self) -> str:
        env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if env:
            return env
        try:
            session = self._botocore_session()
            region = session.get_config_variable("region")
        except Exception:  # no botocore, or a broken profile (the credentials step reports it)
            return "us-east-1"
        return region if isinstance(region, str) and region else "us-east-1"

    def _botocore_session(self) -> Any:
        if self._session is None:
            botocore = self._botocore or _import_botocore()
            self._session = botocore.session.Session(profile=self._profile)
        return self._session

    # -- requests ------------------------------------------------------------------------------

    def url_for(self, model: str) -> str:
        """The ``invoke-with-response-stream`` URL for a model id (quoted, ``:`` kept; ARN ``/`` -> ``%2F``).

        Example:
            >>> BedrockProvider("us-east-1", api_key="k").url_for("anthropic.claude-v1:0")
            'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v1:0/invoke-with-response-stream'
        """
        return f"{self.base_url}/model/{quote(model, safe=':')}/invoke-with-response-stream"

    def body_for(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> dict[str, Any]:
        """The Bedrock JSON body: no ``model``/``stream``, plus ``anthropic_version``/``anthropic_beta``.

        Example:
            >>> BedrockProvider("us-east-1", api_key="k").body_for(
            ...     {"model": "m", "stream": True, "max_tokens": 5}, ["b1"])
            {'max_tokens': 5, 'anthropic_version': 'bedrock-2023-05-31', 'anthropic_beta': ['b1']}
        """
        body = {k: v for k, v in params.items() if k not in ("model", "stream")}
        body.setdefault("anthropic_version", self.anthropic_version)
        if betas:
            existing = body.get("anthropic_beta")
            merged = list(existing) if isinstance(existing, (list, tuple)) else []
            merged.extend(b for b in betas if b not in merged)
            body["anthropic_beta"] = merged
        return body

    def encode(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> bytes:
        """The JSON body (:meth:`body_for`), serialized."""
        return _json.dumps(self.body_for(params, betas))

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = _MESSAGES_PATH,
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The signed streaming request for these Messages params.

        Example::

            request = await BedrockProvider("us-east-1").build_request(
                {"model": "anthropic.claude-haiku-4-5-20251001-v1:0", "max_tokens": 64,
                 "messages": [{"role": "user", "content": "Hi"}]})
        """
        if path.split("?", 1)[0] != _MESSAGES_PATH:
            raise ValueError(f"Bedrock supports only {_MESSAGES_PATH} streaming, not {path!r}")
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("params['model'] must be a Bedrock model id or inference profile")
        url = self.url_for(model)
        if body is None:
            body = self.encode(params, betas)
        headers = {"content-type": "application/json", "accept": "application/vnd.amazon.eventstream"}
        if self._api_key is not None:
            headers["authorization"] = f"Bearer {self._api_key}"
            return HTTPRequest("POST", url, headers, body)
        loop = asyncio.get_running_loop()
        signed = await loop.run_in_executor(None, self._sign, url, headers, body)
        return HTTPRequest("POST", url, signed, body)

    def _sign(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """SigV4-sign with botocore (blocking: may refresh credentials)."""
        botocore = self._botocore or _import_botocore()
        creds = self._frozen_credentials()
        request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        timestamp = datetime.now(UTC).strftime(_SIGV4_TIMESTAMP)
        request.context["timestamp"] = timestamp
        request.headers["X-Amz-Date"] = timestamp
        if creds.token:
            request.headers["X-Amz-Security-Token"] = creds.token
        # SigV4Auth.add_auth would log the canonical request (security token included) at
        # DEBUG level, so its public steps are called directly instead.
        signer = botocore.auth.SigV4Auth(creds, "bedrock", self.region)
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        signed_headers = signer.signed_headers(signer.headers_to_sign(request))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return {name: str(value) for name, value in request.headers.items()}

    def _frozen_credentials(self) -> Any:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._resolve_credentials()
            credentials = self._credentials
        try:
            return credentials.get_frozen_credentials()
        except Exception as exc:
            raise RxClaudeError(f"could not refresh AWS credentials ({type(exc).__name__})") from exc

    def _resolve_credentials(self) -> Any:
        botocore = self._botocore or _import_botocore()
        if self._static_keys is not None:
            access_key, secret_key, token = self._static_keys
            return botocore.credentials.Credentials(access_key, secret_key, token)
        try:
            credentials = self._botocore_session().get_credentials()
        except Exception as exc:
            raise RxClaudeError(f"could not load AWS credentials ({type(exc).__name__})") from exc
        if credentials is None:
            raise RxClaudeError(
                "no AWS credentials found: pass access_key/secret_key or profile, set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use a Bedrock API key"
            )
        return credentials

    # -- responses -----------------------------------------------------------------------------

    def new_decoder(self) -> EventStreamDecoder:
        """A fresh eventstream decoder for one response body."""
        return EventStreamDecoder()

    def error_from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """Type a Bedrock HTTP error from ``x-amzn-ErrorType`` and ``{"message": ...}``.

        Example:
            >>> e = BedrockProvider("us-east-1", api_key="k").error_from_response(
            ...     429, {"x-amzn-ErrorType": "ThrottlingException:http://x/"}, b'{"message":"Slow"}')
            >>> type(e).__name__, e.type, e.message, e.retryable
            ('RateLimitError', 'rate_limit_error', 'Slow', True)
        """
        parsed: Any
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        request_id = _header(headers, "x-amzn-RequestId") or _header(headers, "request-id")
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = error_from_body(parsed, status_code=status, headers=headers)
            error.request_id = error.request_id or request_id
            return error
        raw_type = _header(headers, "x-amzn-ErrorType")
        if not raw_type and isinstance(parsed, dict):
            raw_type = parsed.get("__type") if isinstance(parsed.get("__type"), str) else None
        name = raw_type.split(":", 1)[0].split("#")[-1] if raw_type else None
        error_type = bedrock_error_type(name) or name
        message: Any = None
        if isinstance(parsed, dict):
            message = parsed.get("message", parsed.get("Message"))
        if not isinstance(message, str):
            text = body.decode("utf-8", "replace").strip()
            message = text[:500] if text and parsed is None else f"HTTP {status}"
        cls = error_class_for(error_type, status)
        return cls(
            message,
            type=error_type,
            status_code=status,
            request_id=request_id,
            body=parsed,
            headers=headers,
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value
