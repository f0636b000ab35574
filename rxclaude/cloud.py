"""Claude on every cloud platform that serves it, behind the same ``Client`` and Observables.

Strategy: a cloud client *is* a :class:`~rxclaude.Client` whose provider is a
:class:`~rxclaude.transport.providers.bedrock.BedrockProvider` or a
:class:`~rxclaude.transport.providers.vertex.VertexProvider`. Everything above the provider is shared:
``messages.stream()`` / ``frames()`` / ``create()``, the :class:`~rxclaude.MessageStream`
streams, every operator, retries before the first byte, timeouts, cancellation and the typed
errors. Bedrock's binary exception frames and Vertex's Google-shaped errors become the same
:class:`~rxclaude.APIError` subclasses as the first-party API's (a mid-stream
``throttlingException`` is a :class:`~rxclaude.RateLimitError`, never a bare ``ValueError``),
and Vertex-only SSE events pass through as :class:`~rxclaude.core.events.UnknownEvent`. Request
validation uses the platform's request cap (Bedrock 20 MB, Vertex 30 MB, api-reference §6).
botocore and google-auth stay optional: they are imported only when a request is signed or a
token refreshed (``pip install 'rxclaude[bedrock]'`` / ``'rxclaude[vertex]'``).

The platforms that serve the first-party Messages API under their own auth -- Microsoft Foundry
(:class:`FoundryClient`), Amazon Bedrock's Messages endpoint (:class:`BedrockMantleClient`),
Claude Platform on AWS (:class:`AnthropicAWSClient`) and Google Cloud, Anthropic-managed
(:class:`GoogleCloudClient`) -- have providers built on
:class:`~rxclaude.transport.providers.platform.PlatformProvider`: first-party body, paths and
SSE, the platform's base URL, authentication (API-key headers, Entra ID or Google bearer
tokens, SigV4 over the exact bytes sent), model naming, Files API where the platform has it,
and its gateway's errors mapped to the same typed classes. azure-identity
(``rxclaude[foundry]``), botocore (``rxclaude[bedrock]``) and google-auth
(``rxclaude[google-cloud]``) are imported on first use only.

Example::

    async with BedrockClient("us-east-1") as client:          # botocore's credential chain
        stream = client.messages.stream(model="us.anthropic.claude-haiku-4-5-20251001-v1:0",
                                        max_tokens=256, messages=[{"role": "user", "content": "Hi"}])
        stream.text.subscribe(print)
        await stream.final_message()

    client = client_for("vertex", project_id="my-project", region="us-east5")   # for a --provider flag
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import aiohttp

from rxclaude.client import Client
from rxclaude.transport.base import Timeouts
from rxclaude.transport.providers.aws import AnthropicAWSProvider
from rxclaude.transport.providers.bedrock import BEDROCK_ANTHROPIC_VERSION, BedrockProvider
from rxclaude.transport.providers.foundry import FOUNDRY_SCOPE, FoundryProvider, TokenProvider
from rxclaude.transport.providers.google_cloud import GoogleCloudProvider
from rxclaude.transport.providers.mantle import BedrockMantleProvider
from rxclaude.transport.providers.vertex import VERTEX_ANTHROPIC_VERSION, VertexProvider

if TYPE_CHECKING:  # typing_extensions is only needed by the type checker (Python 3.11)
    from typing_extensions import Unpack

__all__ = [
    "PROVIDERS",
    "AnthropicAWSClient",
    "BedrockClient",
    "BedrockMantleClient",
    "ClientOptions",
    "FoundryClient",
    "GoogleCloudClient",
    "VertexClient",
    "client_for",
]

PROVIDERS: tuple[str, ...] = ("anthropic", "bedrock", "vertex", "foundry", "bedrock-mantle", "aws", "google-cloud")
"""The names :func:`client_for` accepts (e.g. ``argparse`` ``choices=PROVIDERS``)."""


class ClientOptions(TypedDict, total=False):
    """The :class:`~rxclaude.Client` options a cloud client forwards (all optional).

    Example:
        >>> options: ClientOptions = {"max_retries": 4, "betas": ["context-1m-2025-08-07"]}
    """

    betas: Sequence[str]
    max_retries: int
    timeouts: Timeouts | None
    session: aiohttp.ClientSession | None
    validate: bool


_OPTION_NAMES = frozenset(ClientOptions.__optional_keys__)


def _check_options(owner: str, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"{owner}() got unexpected keyword argument(s) {', '.join(unknown)}; "
            f"the Client options it takes are {', '.join(sorted(_OPTION_NAMES))}"
        )


class BedrockClient(Client):
    """A :class:`~rxclaude.Client` for Claude on Amazon Bedrock (``invoke-with-response-stream``).

    This is the eventstream endpoint the docs now call "legacy"; Bedrock's Messages endpoint
    (first-party body and SSE) is :class:`BedrockMantleClient`.

    Args:
        region: AWS region; else ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's
            region, then ``us-east-1``.
        access_key, secret_key, session_token: explicit AWS keys (SigV4, service ``bedrock``).
        profile: a profile of the shared AWS config/credentials files.
        api_key: a Bedrock API key sent as ``Authorization: Bearer`` instead of SigV4
            (default ``AWS_BEARER_TOKEN_BEDROCK`` when no keys or profile are given).
        base_url: replaces ``https://bedrock-runtime.{region}.amazonaws.com``
            (default ``ANTHROPIC_BEDROCK_BASE_URL``).
        anthropic_version: the request body's ``anthropic_version`` (``bedrock-2023-05-31``).
        **options: :class:`ClientOptions`: ``betas`` (sent as the body's ``anthropic_beta``),
            ``max_retries``, ``timeouts``, ``session``, ``validate`` (20 MB request cap).

    Without keys, profile or API key, botocore's usual chain is used (environment, shared
    files, SSO, instance roles), resolved off the event loop. Credentials never appear in a
    ``repr``, a log line or an exception.

    Example:
        >>> client = BedrockClient("us-west-2", access_key="AKIDEXAMPLE", secret_key="secret")
        >>> client
        BedrockClient(region='us-west-2', auth='sigv4', base_url='https://bedrock-runtime.us-west-2.amazonaws.com')
        >>> BedrockClient("eu-central-1", api_key="bedrock-api-key", max_retries=4).retry.max_retries
        4
    """

    provider: BedrockProvider

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
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = BedrockProvider(
            region,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            profile=profile,
            api_key=api_key,
            base_url=base_url,
            anthropic_version=anthropic_version,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def region(self) -> str:
        """The AWS region requests are signed for."""
        return self.provider.region

    @property
    def base_url(self) -> str:
        """The Bedrock runtime endpoint."""
        return self.provider.base_url

    @property
    def auth(self) -> str:
        """``"sigv4"`` or ``"bearer"`` (Bedrock API key)."""
        return self.provider.auth

    def __repr__(self) -> str:
        return f"BedrockClient(region={self.region!r}, auth={self.auth!r}, base_url={self.base_url!r})"


class VertexClient(Client):
    """A :class:`~rxclaude.Client` for Claude on Google Vertex AI (``:streamRawPredict``).

    Args:
        project_id: the Google Cloud project; else ``ANTHROPIC_VERTEX_PROJECT_ID``, else the
            project of the Application Default Credentials.
        region: ``"global"``, ``"us"``, ``"eu"`` or a region like ``"us-east5"``; else
            ``CLOUD_ML_REGION`` (required one way or the other).
        access_token: a ready OAuth2 access token (never refreshed).
        credentials: google-auth credentials, refreshed off the event loop when empty or
            expired; default ``google.auth.default()`` (cloud-platform scope) on first use.
        base_url: replaces the region's API base, ending in ``/v1``
            (default ``ANTHROPIC_VERTEX_BASE_URL``).
        anthropic_version: the request body's ``anthropic_version`` (``vertex-2023-10-16``).
        **options: :class:`ClientOptions`: ``betas`` (the ``anthropic-beta`` header),
            ``max_retries``, ``timeouts``, ``session``, ``validate`` (30 MB request cap).

    Tokens never appear in a ``repr``, a log line or an exception.

    Example:
        >>> VertexClient("my-project", "us-east5", access_token="ya29.example")
        VertexClient(project_id='my-project', region='us-east5', auth='access_token', base_url='https://us-east5-aiplatform.googleapis.com/v1')
    """

    provider: VertexProvider

    def __init__(
        self,
        project_id: str | None = None,
        region: str | None = None,
        *,
        access_token: str | None = None,
        credentials: Any = None,
        base_url: str | None = None,
        anthropic_version: str = VERTEX_ANTHROPIC_VERSION,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = VertexProvider(
            project_id,
            region,
            access_token=access_token,
            credentials=credentials,
            base_url=base_url,
            anthropic_version=anthropic_version,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def project_id(self) -> str | None:
        """The Google Cloud project (``None`` until the default credentials name one)."""
        return self.provider.project_id

    @property
    def region(self) -> str:
        """The Vertex AI location in every request URL."""
        return self.provider.region

    @property
    def base_url(self) -> str:
        """The Vertex AI API base (ends in ``/v1``)."""
        return self.provider.base_url

    @property
    def auth(self) -> str:
        """``"access_token"``, ``"credentials"`` or ``"default"`` (``google.auth.default``)."""
        return self.provider.auth

    def __repr__(self) -> str:
        return (
            f"VertexClient(project_id={self.project_id!r}, region={self.region!r}, "
            f"auth={self.auth!r}, base_url={self.base_url!r})"
        )


class FoundryClient(Client):
    """A :class:`~rxclaude.Client` for Claude in Microsoft Foundry.

    Args:
        resource: the Foundry resource (``ANTHROPIC_FOUNDRY_RESOURCE``).
        api_key: the resource key (``ANTHROPIC_FOUNDRY_API_KEY``), sent as ``x-api-key`` and ``api-key``.
        token_provider: a callable returning an Entra ID token (sync or async), per request.
        credential: an azure-identity credential; without key or token source,
            ``DefaultAzureCredential`` (``pip install 'rxclaude[foundry]'``).
        base_url: replaces ``https://{resource}.services.ai.azure.com/anthropic``
            (``ANTHROPIC_FOUNDRY_BASE_URL``).
        **options: :class:`ClientOptions` (``betas``, ``max_retries``, ``timeouts``...).

    ``model`` is the deployment name (by default the model id).

    Example:
        >>> FoundryClient(resource="my-resource", api_key="k")
        FoundryClient(base_url='https://my-resource.services.ai.azure.com/anthropic', auth='api_key')
    """

    provider: FoundryProvider

    def __init__(
        self,
        *,
        resource: str | None = None,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        credential: Any = None,
        base_url: str | None = None,
        scope: str = FOUNDRY_SCOPE,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = FoundryProvider(
            resource=resource,
            api_key=api_key,
            token_provider=token_provider,
            credential=credential,
            base_url=base_url,
            scope=scope,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def base_url(self) -> str:
        """The resource's ``/anthropic`` base."""
        return self.provider.base_url

    @property
    def auth(self) -> str:
        """How requests authenticate (see :attr:`FoundryProvider.auth`)."""
        return self.provider.auth

    def __repr__(self) -> str:
        return f"FoundryClient(base_url={self.base_url!r}, auth={self.auth!r})"


class BedrockMantleClient(Client):
    """A :class:`~rxclaude.Client` for Amazon Bedrock's Messages endpoint (``bedrock-mantle``).

    Args:
        region: AWS region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
        access_key, secret_key, session_token, profile: SigV4 credentials (service
            ``bedrock-mantle``); else botocore's chain (``pip install 'rxclaude[bedrock]'``).
        api_key: a Bedrock API key (bearer); default ``AWS_BEARER_TOKEN_BEDROCK`` or
            ``ANTHROPIC_AWS_API_KEY`` when no keys or profile are given.
        base_url: replaces ``https://bedrock-mantle.{region}.api.aws/anthropic``
            (``ANTHROPIC_BEDROCK_MANTLE_BASE_URL``).
        **options: :class:`ClientOptions`.

    Model ids are Bedrock's (``anthropic.claude-opus-4-7``, ``us.anthropic.…``); the Files API
    is not served here (:class:`~rxclaude.UnsupportedFeatureError`).  The eventstream endpoint
    (``invoke-with-response-stream``) stays :class:`~rxclaude.BedrockClient`.

    Example:
        >>> BedrockMantleClient("us-east-1", api_key="k")
        BedrockMantleClient(region='us-east-1', auth='bearer', base_url='https://bedrock-mantle.us-east-1.api.aws/anthropic')
    """

    provider: BedrockMantleProvider

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
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = BedrockMantleProvider(
            region,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            profile=profile,
            api_key=api_key,
            base_url=base_url,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def region(self) -> str | None:
        """The AWS region requests are signed for."""
        return self.provider.region

    @property
    def base_url(self) -> str:
        """The endpoint's ``/anthropic`` base."""
        return self.provider.base_url

    @property
    def auth(self) -> str:
        """``"sigv4"`` or ``"bearer"``."""
        return self.provider.auth

    def __repr__(self) -> str:
        return f"BedrockMantleClient(region={self.region!r}, auth={self.auth!r}, base_url={self.base_url!r})"


class AnthropicAWSClient(Client):
    """A :class:`~rxclaude.Client` for Claude Platform on AWS.

    Args:
        region: AWS region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
        workspace_id: the workspace (``ANTHROPIC_AWS_WORKSPACE_ID``), sent as
            ``anthropic-workspace-id``.
        access_key, secret_key, session_token, profile: SigV4 credentials (service
            ``aws-external-anthropic``); else botocore's chain.
        api_key: a workspace API key (bearer); default ``ANTHROPIC_AWS_API_KEY`` when no keys
            or profile are given.
        base_url: replaces ``https://aws-external-anthropic.{region}.api.aws``
            (``ANTHROPIC_AWS_BASE_URL``).
        **options: :class:`ClientOptions`.

    Example:
        >>> AnthropicAWSClient("us-west-2", workspace_id="wrkspc_1", api_key="k")
        AnthropicAWSClient(region='us-west-2', workspace_id='wrkspc_1', auth='bearer', base_url='https://aws-external-anthropic.us-west-2.api.aws')
    """

    provider: AnthropicAWSProvider

    def __init__(
        self,
        region: str | None = None,
        *,
        workspace_id: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = AnthropicAWSProvider(
            region,
            workspace_id=workspace_id,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            profile=profile,
            api_key=api_key,
            base_url=base_url,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def region(self) -> str | None:
        """The AWS region requests are signed for."""
        return self.provider.region

    @property
    def base_url(self) -> str:
        """The regional endpoint."""
        return self.provider.base_url

    @property
    def auth(self) -> str:
        """``"sigv4"`` or ``"bearer"``."""
        return self.provider.auth

    def __repr__(self) -> str:
        return (
            f"AnthropicAWSClient(region={self.region!r}, workspace_id={self.provider.workspace_id!r}, "
            f"auth={self.auth!r}, base_url={self.base_url!r})"
        )


class GoogleCloudClient(Client):
    """A :class:`~rxclaude.Client` for Claude on Google Cloud (Anthropic-managed).

    Args:
        project: the project (``ANTHROPIC_GOOGLE_CLOUD_PROJECT``, ``GOOGLE_CLOUD_PROJECT``, or ADC's).
        location: the location (``ANTHROPIC_GOOGLE_CLOUD_LOCATION``, default ``global``).
        workspace_id: the workspace (``ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID``).
        access_token, token_provider, credentials: the token source; default Application
            Default Credentials, refreshed off the event loop (``pip install 'rxclaude[google-cloud]'``).
        base_url: replaces the derived ``https://claude.googleapis.com/...`` base
            (``ANTHROPIC_GOOGLE_CLOUD_BASE_URL``).
        **options: :class:`ClientOptions`.

    Example:
        >>> GoogleCloudClient("my-project", workspace_id="wrkspc_1", access_token="t").provider.base_url
        'https://claude.googleapis.com/v1/projects/my-project/locations/global/workspaces/wrkspc_1/invoke'
    """

    provider: GoogleCloudProvider

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        *,
        workspace_id: str | None = None,
        access_token: str | None = None,
        token_provider: Callable[[], str | Awaitable[str]] | None = None,
        credentials: Any = None,
        base_url: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_options(type(self).__name__, options)
        provider = GoogleCloudProvider(
            project,
            location,
            workspace_id=workspace_id,
            access_token=access_token,
            token_provider=token_provider,
            credentials=credentials,
            base_url=base_url,
        )
        super().__init__(provider=provider, **options)
        self.provider = provider

    @property
    def auth(self) -> str:
        """``"access_token"``, ``"token_provider"``, ``"credentials"`` or ``"default"``."""
        return self.provider.auth

    def __repr__(self) -> str:
        p = self.provider
        return f"GoogleCloudClient(project={p.project!r}, location={p.location!r}, auth={self.auth!r})"


def client_for(
    provider: str,
    *,
    region: str | None = None,
    project_id: str | None = None,
    base_url: str | None = None,
    **options: Any,
) -> Client:
    """A client for a provider named by a string (for a CLI ``--provider`` flag).

    Args:
        provider: one of :data:`PROVIDERS` (case-insensitive): ``"anthropic"``, ``"bedrock"``,
            ``"vertex"``, ``"foundry"``, ``"bedrock-mantle"``, ``"aws"``, ``"google-cloud"``.
        region: the AWS region, or Vertex's / Google Cloud's location; not for
            ``"anthropic"`` and ``"foundry"``.
        project_id: the Google Cloud project; only for ``"vertex"`` and ``"google-cloud"``.
        base_url: the endpoint override of any provider.
        **options: any other keyword of the chosen class: :class:`~rxclaude.Client`
            (``api_key``, ``betas``, ``max_retries``, ``timeouts``...), :class:`BedrockClient`
            (``profile``, ``api_key``...) or :class:`VertexClient` (``access_token``...).

    ``None`` means "not given", so a CLI can pass its flags through unconditionally; an option
    that does not apply to the provider (``project_id`` for Bedrock) is a ``ValueError``.
    Everything else comes from each provider's environment variables and credential chain.

    Example:
        >>> client_for("bedrock", region="us-west-2", api_key="k")
        BedrockClient(region='us-west-2', auth='bearer', base_url='https://bedrock-runtime.us-west-2.amazonaws.com')
        >>> client_for("Vertex", region="global", project_id="p", access_token="t").region
        'global'
    """
    name = provider.strip().lower()
    if name not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    if name == "anthropic":
        _not_for(name, region=region, project_id=project_id)
        return Client(base_url=base_url, **options)
    if name == "bedrock":
        _not_for(name, project_id=project_id)
        return BedrockClient(region, base_url=base_url, **options)
    if name == "foundry":
        _not_for(name, region=region, project_id=project_id)
        return FoundryClient(base_url=base_url, **options)
    if name == "bedrock-mantle":
        _not_for(name, project_id=project_id)
        return BedrockMantleClient(region, base_url=base_url, **options)
    if name == "aws":
        _not_for(name, project_id=project_id)
        return AnthropicAWSClient(region, base_url=base_url, **options)
    if name == "google-cloud":
        return GoogleCloudClient(project_id, region, base_url=base_url, **options)
    return VertexClient(project_id, region, base_url=base_url, **options)


def _not_for(provider: str, **given: str | None) -> None:
    extra = [k for k, v in given.items() if v is not None]
    if extra:
        raise ValueError(f"{', '.join(extra)} does not apply to provider {provider!r}")
