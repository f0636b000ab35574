"""AWS Signature Version 4 for the platforms that take it, signed by botocore.

Strategy: :class:`SigV4Signer` holds *where credentials come from* (explicit keys, a profile,
or botocore's default chain: environment, shared files, SSO, instance roles) and resolves
them once, lazily, under a lock; botocore refreshes temporary credentials on
``get_frozen_credentials``.  :meth:`SigV4Signer.sign` is blocking (a refresh may call STS
or the instance metadata service), so providers run it in the default executor.  It calls
botocore's ``SigV4Auth`` steps directly rather than ``add_auth``, which would log the
canonical request, security token included, at DEBUG level.  botocore is an optional extra,
imported on first use.

Example::

    signer = SigV4Signer("bedrock-mantle", "us-east-1", access_key="AKID", secret_key="s")
    headers = await loop.run_in_executor(None, signer.sign, "POST", url, headers, body)
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rxclaude.core.errors import RxClaudeError

__all__ = ["SigV4Signer", "aws_region", "payload_hash"]

_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def aws_region(region: str | None) -> str | None:
    """The region given, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (``None`` if none).

    Example:
        >>> aws_region("eu-west-1")
        'eu-west-1'
    """
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def payload_hash(body: bytes) -> str:
    """The hex SHA-256 SigV4 signs for a body.

    Example:
        >>> payload_hash(b"")[:16]
        'e3b0c44298fc1c14'
    """
    return hashlib.sha256(body).hexdigest()


def _botocore(extra: str) -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        import botocore.session
    except ImportError as exc:
        raise ImportError(f"SigV4 signing needs botocore: pip install 'rxclaude[{extra}]'") from exc
    return botocore


class SigV4Signer:
    """Signs requests for one AWS service and region with botocore.

    Args:
        service: the signing name (``bedrock-mantle``, ``aws-external-anthropic``...).
        region: the region in the credential scope.
        access_key, secret_key, session_token: explicit keys (else ``profile`` or the chain).
        profile: a profile of the shared AWS config and credentials files.
        extra: the rxclaude extra named in the install hint when botocore is missing.

    Keys never appear in ``repr`` or in an exception message.

    Example:
        >>> SigV4Signer("bedrock-mantle", "us-east-1", access_key="AKID", secret_key="s")
        SigV4Signer(service='bedrock-mantle', region='us-east-1', source='keys')
    """

    def __init__(
        self,
        service: str,
        region: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        extra: str = "bedrock",
    ) -> None:
        if (access_key is None) != (secret_key is None):
            raise ValueError("access_key and secret_key must be given together")
        if session_token is not None and access_key is None:
            raise ValueError("session_token needs access_key and secret_key")
        self.service = service
        self.region = region
        self._keys = (access_key, secret_key, session_token) if access_key is not None else None
        self._profile = profile
        self._extra = extra
        self._botocore: Any = _botocore(extra)
        self._credentials: Any = None
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        """Where credentials come from: ``"keys"``, ``"profile"`` or ``"chain"``."""
        if self._keys is not None:
            return "keys"
        return "profile" if self._profile is not None else "chain"

    def __repr__(self) -> str:
        return f"SigV4Signer(service={self.service!r}, region={self.region!r}, source={self.source!r})"

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, *, content_sha256: str | None = None
    ) -> dict[str, str]:
        """The headers plus ``X-Amz-Date``, the security token and ``Authorization`` (blocking).

        ``content_sha256``: the body's hash when ``body`` is not the bytes sent (a streamed
        upload); it is then sent as ``X-Amz-Content-SHA256`` and signed instead.
        """
        botocore = self._botocore
        creds = self._frozen()
        request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        timestamp = datetime.now(UTC).strftime(_TIMESTAMP)
        request.context["timestamp"] = timestamp
        request.headers["X-Amz-Date"] = timestamp
        if content_sha256 is not None:
            request.headers["X-Amz-Content-SHA256"] = content_sha256
        if creds.token:
            request.headers["X-Amz-Security-Token"] = creds.token
        signer = botocore.auth.SigV4Auth(creds, self.service, self.region)
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        signed = signer.signed_headers(signer.headers_to_sign(request))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, SignedHeaders={signed}, Signature={signature}"
        )
        return {name: str(value) for name, value in request.headers.items()}

    def _frozen(self) -> Any:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._resolve()
            credentials = self._credentials
        try:
            return credentials.get_frozen_credentials()
        except Exception as exc:
            raise RxClaudeError(f"could not refresh AWS credentials ({type(exc).__name__})") from exc

    def _resolve(self) -> Any:
        botocore = self._botocore
        if self._keys is not None:
            return botocore.credentials.Credentials(*self._keys)
        try:
            credentials = botocore.session.Session(profile=self._profile).get_credentials()
        except Exception as exc:
            raise RxClaudeError(f"could not load AWS credentials ({type(exc).__name__})") from exc
        if credentials is None:
            raise RxClaudeError(
                "no AWS credentials found: pass access_key/secret_key or profile, or set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            )
        return credentials
