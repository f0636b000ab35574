"""The shared part of the platforms that serve the first-party Messages API under their own auth.

Strategy: Microsoft Foundry, Amazon Bedrock's Messages endpoint ("mantle"), Claude Platform on
AWS and Google Cloud (Anthropic-managed) all take the first-party request body at
``{base_url}/v1/messages`` and answer first-party SSE.  What differs is the base URL, how a
request is authenticated (API-key headers, a bearer token, or a SigV4 signature over the
exact bytes sent), a header or two, the model naming, whether the Files API is there, and
the shape of the errors their gateways answer before Anthropic's API is reached (AWS's
``x-amzn-ErrorType``, Google's ``{"error": {"status": ...}}``, Azure's ``{"error":
{"code": ...}}``).  :class:`PlatformProvider` does everything common; a subclass sets
``name``, ``platform``, ``files_api`` and implements :meth:`~PlatformProvider.authorize`
(async: token refreshes and signing run off the event loop) and
:meth:`~PlatformProvider.check_model`.  Every error lands on the same typed classes as the
first-party API's, so retries, operators, fan-out and the relay work unchanged.

Example::

    provider = FoundryProvider(resource="my-resource", api_key=key)
    request = await provider.build_request({"model": "claude-sonnet-4-5", "max_tokens": 64,
                                            "messages": [{"role": "user", "content": "Hi"}]})
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from rxclaude.core import _json
from rxclaude.core.errors import APIError, error_class_for, error_from_body
from rxclaude.core.sse import SSEDecoder
from rxclaude.transport.providers.anthropic import DEFAULT_VERSION, user_agent
from rxclaude.transport.providers.base import HTTPRequest
from rxclaude.transport.providers.eventstream import bedrock_error_type

__all__ = [
    "GOOGLE_STATUS_TYPES",
    "PlatformProvider",
    "bedrock_model_hint",
    "first_party_model_hint",
]

GOOGLE_STATUS_TYPES: dict[str, str] = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "UNAVAILABLE": "service_unavailable_error",
    "INTERNAL": "api_error",
    "UNKNOWN": "api_error",
    "DATA_LOSS": "api_error",
}
"""google.rpc.Code names -> Anthropic ``error.type`` (as for Vertex AI)."""

_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|jp|au|ca|us-gov|global)\.")
_BEDROCK_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")


def first_party_model_hint(model: str) -> str | None:
    """Why ``model`` is not a first-party model id (and what it likely should be), else ``None``.

    Example:
        >>> print(first_party_model_hint("us.anthropic.claude-haiku-4-5-20251001-v1:0"))  # doctest: +ELLIPSIS
        'us.anthropic.claude-haiku-4-5-20251001-v1:0' is an Amazon Bedrock model id; here it is ...
        >>> first_party_model_hint("claude-sonnet-4-5") is None
        True
    """
    if model.startswith("arn:"):
        return f"{model!r} is an AWS ARN, not a model id"
    bare = _GEO_PREFIX.sub("", model)
    if bare.startswith("anthropic."):
        guess = _BEDROCK_SUFFIX.sub("", bare.removeprefix("anthropic."))
        return f"{model!r} is an Amazon Bedrock model id; here it is {guess!r}"
    if "@" in model:
        name, _, date = model.partition("@")
        guess = f"{name}-{date}" if date.isdigit() else name
        return f"{model!r} is a Vertex AI model id; here it is {guess!r}"
    if not model.strip() or any(c.isspace() or c in "/?#%" for c in model):
        return f"{model!r} is not a model id"
    return None


def bedrock_model_hint(model: str) -> str | None:
    """Why ``model`` is not an Amazon Bedrock model id, inference profile or ARN, else ``None``.

    Example:
        >>> print(bedrock_model_hint("claude-opus-4-7"))  # doctest: +ELLIPSIS
        'claude-opus-4-7' is a first-party model id; on Amazon Bedrock it is 'anthropic.claude-opus-4-7' ...
        >>> bedrock_model_hint("global.anthropic.claude-opus-4-7") is None
        True
    """
    if model.startswith("arn:aws") and ":bedrock:" in model:
        return None
    bare = _GEO_PREFIX.sub("", model)
    if (
        bare.startswith("anthropic.")
        and len(bare) > len("anthropic.")
        and not any(c.isspace() or c in "/?#%@" for c in bare)
    ):
        return None
    if "@" in model:
        name = model.partition("@")[0]
        return f"{model!r} is a Vertex AI model id; on Amazon Bedrock it is like 'anthropic.{name}'"
    if model.startswith("claude-"):
        return (
            f"{model!r} is a first-party model id; on Amazon Bedrock it is 'anthropic.{model}' "
            f"(or an inference profile such as 'us.anthropic.{model}')"
        )
    return f"{model!r} is not an Amazon Bedrock model id (e.g. 'anthropic.claude-opus-4-7')"


class PlatformProvider:
    """A provider for a platform that speaks the first-party Messages API (see the module doc).

    Subclasses set :attr:`name`, :attr:`platform`, :attr:`files_api` and :attr:`base_url`, and
    implement :meth:`authorize` and :meth:`check_model`.
    """

    name: str = "platform"
    platform: str = "a platform"
    """The platform's name in messages, e.g. ``"Microsoft Foundry"``."""
    files_api: bool = False
    """Whether the platform serves the Files API (``/v1/files``)."""
    signs_body: bool = False
    """Whether :meth:`authorize` signs the body (SigV4): a streamed upload is hashed first."""
    base_url: str
    anthropic_version: str = DEFAULT_VERSION
    default_headers: Mapping[str, str] = {}

    # -- what subclasses provide ----------------------------------------------------------------

    async def authorize(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """``headers`` with this platform's authentication added (may refresh or sign off-loop).

        ``content_sha256``: for a body sent as a stream (uploads), its hash to sign instead.
        """
        raise NotImplementedError

    def check_model(self, model: object) -> None:
        """Raise :class:`~rxclaude.ModelIdError` unless ``model`` is named the platform's way."""
        raise NotImplementedError

    # -- requests --------------------------------------------------------------------------------

    def headers(self, betas: Sequence[str] = (), *, accept: str = "text/event-stream") -> dict[str, str]:
        """The unauthenticated headers of one request: version, content type, accept, betas."""
        headers = {
            "anthropic-version": self.anthropic_version,
            "content-type": "application/json",
            "accept": accept,
            "user-agent": user_agent(),
        }
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        headers.update(self.default_headers)
        return headers

    def encode(self, params: Mapping[str, Any], betas: Sequence[str] = ()) -> bytes:
        """The first-party JSON body with ``"stream": true``, after the model-id check."""
        self.check_model(params.get("model"))
        return _json.dumps({**params, "stream": True})

    async def build_request(
        self,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] = (),
        path: str = "/v1/messages",
        body: bytes | None = None,
    ) -> HTTPRequest:
        """The authenticated streaming request for these Messages params."""
        if body is None:
            body = self.encode(params, betas)
        url = self.base_url + path
        headers = await self.authorize("POST", url, self.headers(betas), body)
        return HTTPRequest("POST", url, headers, body)

    def new_decoder(self) -> SSEDecoder:
        """A fresh SSE decoder (the platforms answer first-party SSE)."""
        return SSEDecoder()

    # -- errors ------------------------------------------------------------------------------------

    def error_from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """Type an error: Anthropic-shaped, else the gateway's shape (AWS, Google, Azure), else the status.

        Example:
            >>> p = PlatformProvider()
            >>> e = p.error_from_response(429, {"x-amzn-ErrorType": "ThrottlingException"}, b'{"message":"Slow"}')
            >>> type(e).__name__, e.message
            ('RateLimitError', 'Slow')
            >>> type(p.error_from_response(429, {}, b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}')).__name__
            'RateLimitError'
        """
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        request_id = (
            _header(headers, "request-id")
            or _header(headers, "x-request-id")
            or _header(headers, "x-amzn-RequestId")
            or _header(headers, "apim-request-id")
        )
        if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
            parsed = parsed[0]  # Google sometimes wraps the error in a list
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            typed = error_from_body(parsed, status_code=status, headers=headers)
            typed.request_id = typed.request_id or request_id
            return typed
        error_type: str | None = None
        message: Any = None
        aws_type = _header(headers, "x-amzn-ErrorType")
        if not aws_type and isinstance(parsed, dict) and isinstance(parsed.get("__type"), str):
            aws_type = parsed["__type"]
        if aws_type:
            name = aws_type.split(":", 1)[0].split("#")[-1]
            error_type = bedrock_error_type(name) or name
        if isinstance(error, dict):
            message = error.get("message")
            google_status = error.get("status")
            if error_type is None and isinstance(google_status, str):
                error_type = GOOGLE_STATUS_TYPES.get(google_status, google_status)
        elif isinstance(parsed, dict):
            message = parsed.get("message", parsed.get("Message"))
        if not isinstance(message, str) or not message:
            text = body[:500].decode("utf-8", "replace").strip()
            message = f"HTTP {status}" + (f": {text}" if text and parsed is None else "")
        cls = error_class_for(error_type, status)
        return cls(message, type=error_type, status_code=status, request_id=request_id, body=parsed, headers=headers)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value
