"""Check an AWS SigV4 signature the way AWS does, with botocore's own signer.

Strategy: parse ``Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=..,
Signature=..``; check the credential scope names the expected service and region and a key
we know, that ``X-Amz-Date`` agrees with the scope's date and is within five minutes of now,
that ``host`` and ``x-amz-date`` are signed, and that an ``X-Amz-Content-SHA256`` header
matches the body; then rebuild the request from exactly the signed headers, the raw path and
query and the body, have botocore's ``SigV4Auth`` compute the signature for the received
timestamp, and compare in constant time.  The answer names the AWS exception the real
service would raise (``InvalidSignatureException``...), or ``None`` when the signature holds.

Example::

    problem = verify_sigv4("POST", "/anthropic/v1/messages", headers, body,
                           service="bedrock-mantle", region="us-east-1", keys={"AKID": "secret"})
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import StreamReader, web

from rxclaude.testing.platform import PlatformMockServer
from rxclaude.testing.replies import Reply
from rxclaude.testing.server import RecordedRequest

__all__ = ["SigV4MockServer", "SigV4Problem", "verify_sigv4"]

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/(?P<service>[a-z0-9-]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9-]+(?:;[a-z0-9-]+)*),"
    r" ?Signature=(?P<signature>[0-9a-f]{64})$"
)
_MAX_SKEW = 300.0


@dataclass(frozen=True, slots=True)
class SigV4Problem:
    """Why a request is refused: the AWS exception name, its HTTP status and message.

    Example:
        >>> SigV4Problem("InvalidSignatureException", 403, "bad").status
        403
    """

    exception: str
    status: int
    message: str


def verify_sigv4(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    service: str,
    region: str,
    keys: Mapping[str, str],
    now: datetime | None = None,
) -> SigV4Problem | None:
    """``None`` if the request is signed for ``service``/``region`` by a key in ``keys``.

    ``raw_path`` is the path and query as received; ``headers`` the received headers
    (case-insensitive lookups are done here); ``keys`` maps access key ids to secrets.
    """
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    if not auth:
        return SigV4Problem("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    match = _AUTH.match(auth.strip())
    if match is None:
        return SigV4Problem(
            "IncompleteSignatureException",
            403,
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        )
    if match["service"] != service:
        return SigV4Problem(
            "InvalidSignatureException",
            403,
            f"Credential should be scoped to correct service: '{service}'.",
        )
    if match["region"] != region:
        return SigV4Problem(
            "InvalidSignatureException",
            403,
            f"Credential should be scoped to a valid region, not '{match['region']}'.",
        )
    secret = keys.get(match["key"])
    if secret is None:
        return SigV4Problem(
            "UnrecognizedClientException", 403, "The security token included in the request is invalid."
        )
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return SigV4Problem("IncompleteSignatureException", 403, "Missing or malformed X-Amz-Date header.")
    if amz_date[:8] != match["date"]:
        return SigV4Problem("InvalidSignatureException", 403, "Date in Credential scope does not match X-Amz-Date.")
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > _MAX_SKEW:
        return SigV4Problem("InvalidSignatureException", 403, "Signature expired: the request time is too skewed.")
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return SigV4Problem("InvalidSignatureException", 403, "'Host' and 'X-Amz-Date' must be signed headers.")
    missing = [h for h in signed if h not in lower]
    if missing:
        return SigV4Problem("InvalidSignatureException", 403, f"Signed header(s) not in the request: {missing}.")
    claimed = lower.get("x-amz-content-sha256")
    if claimed is not None and not hmac.compare_digest(claimed, hashlib.sha256(body).hexdigest()):
        return SigV4Problem(
            "InvalidSignatureException",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    request = botocore.awsrequest.AWSRequest(
        method=method.upper(),
        url=f"http://{lower['host']}{raw_path}",
        headers={h: lower[h] for h in signed},
        data=body,
    )
    request.context["timestamp"] = amz_date
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(match["key"], secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if signer.signed_headers(signer.headers_to_sign(request)) != match["signed"] or not hmac.compare_digest(
        expected, match["signature"]
    ):
        return SigV4Problem(
            "InvalidSignatureException",
            403,
            "The request signature we calculated does not match the signature you provided.",
        )
    return None


class SigV4MockServer(PlatformMockServer):
    """A platform mock behind AWS auth: a SigV4 signature for ``service``/``region``, or a bearer key.

    Refusals are AWS-shaped: ``x-amzn-ErrorType`` plus ``{"message": ...}``.

    Args:
        service: the signing name the credential scope must carry.
        region: the region the credential scope must carry.
        keys: access key id -> secret key of the identities allowed to sign.
        api_keys: bearer API keys accepted instead of a signature.
        **options: :class:`~rxclaude.testing.platform.PlatformMockServer` options.
    """

    def __init__(
        self,
        *,
        service: str,
        region: str,
        keys: Mapping[str, str],
        api_keys: tuple[str, ...] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.service = service
        self.region = region
        self.keys = dict(keys)
        self.api_keys = set(api_keys)
        self.signed_requests = 0
        self._raw_bodies: dict[int, bytes] = {}
        self.app.middlewares.insert(0, self._signed_multipart)

    @web.middleware
    async def _signed_multipart(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Keep the raw bytes of a signed multipart body: the signature covers them, and the Files
        handler must still parse them (it gets a copy of the request whose body reads them again)."""
        signed = request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
        if not (signed and request.content_type.startswith("multipart/")):
            return await handler(request)
        again = request.clone()  # (before the read: aiohttp clones only unread requests)
        raw = await request.read()
        reader = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
        reader.feed_data(raw)
        reader.feed_eof()
        again._payload = reader  # aiohttp's only way to hand a handler a body to read again
        self._raw_bodies[id(again)] = raw
        try:
            return await handler(again)
        finally:
            self._raw_bodies.pop(id(again), None)

    def authenticate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """A bearer API key, or a valid SigV4 signature over the exact bytes received."""
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            if any(hmac.compare_digest(token, k) for k in self.api_keys):
                return None
            return self.gateway_error(record, 403, "UnrecognizedClientException", "Invalid API key.")
        problem = verify_sigv4(
            request.method,
            request.raw_path,
            request.headers,
            self._raw_bodies.get(id(request), record.body),
            service=self.service,
            region=self.region,
            keys=self.keys,
        )
        if problem is not None:
            return self.gateway_error(record, problem.status, problem.exception, problem.message)
        self.signed_requests += 1
        return None

    def gateway_error(self, record: RecordedRequest, status: int, kind: str, message: str) -> web.Response:
        """AWS's shape: ``x-amzn-ErrorType: Name:...`` and ``{"message": ...}``."""
        name = "ResourceNotFoundException" if kind == "NotFound" else kind
        headers = {
            "content-type": "application/json",
            "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.coral.service/",
            "x-amzn-RequestId": record.request_id,
        }
        return web.Response(status=status, body=orjson.dumps({"message": message}), headers=headers)

    def throttling_reply(self, retry_after: str | None = None) -> Reply:
        """AWS's 429 ``ThrottlingException`` (as a gateway in front of the API answers it)."""
        headers = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.service/"}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        return Reply.json(
            {"message": "Too many requests, please wait before trying again."}, status=429, headers=headers
        )

    def unavailable_reply(self) -> Reply:
        """AWS's 503 ``ServiceUnavailableException``."""
        return Reply.json(
            {"message": "The service is unavailable. Please try again later."},
            status=503,
            headers={"x-amzn-ErrorType": "ServiceUnavailableException:http://internal.amazon.com/coral/"},
        )
