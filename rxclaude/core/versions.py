"""API versions and the request shapes each accepts, checked before sending.

Strategy: the ``anthropic-version`` header selects request types only; responses and stream
events are the same under every version. ``2023-06-01`` takes ``user`` and ``assistant``
messages; ``2026-10-21`` (what the official SDKs send since Python 2.17 / TypeScript 1.17)
also takes ``role: "system"`` messages, whose content is a string or text blocks.
:func:`check_request` refuses what the API would answer 400 to, with the place and the fix:
a message role the version lacks, or a malformed ``thinking`` (``enabled`` needs
``budget_tokens`` >= 1024; ``adaptive`` takes an optional ``display``). ``output_config``
(``effort``, ``format``) is left to the API (the mock checks it as the API does). An unknown
(future) version is not second-guessed: only the parts every version shares are checked.

Example:
    >>> check_request({"messages": [{"role": "system", "content": "Be brief."}]}, "2026-10-21")
    >>> request_problem({"messages": [{"role": "system", "content": "x"}]}, "2023-06-01")[:60]
    "messages[0].role: 'system' messages need anthropic-version 2"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rxclaude.core.errors import RequestShapeError

__all__ = [
    "API_VERSIONS",
    "AUTH_SCHEMES",
    "DEFAULT_VERSION",
    "EFFORTS",
    "LATEST_VERSION",
    "check_request",
    "request_problem",
]

DEFAULT_VERSION = "2023-06-01"
LATEST_VERSION = "2026-10-21"
API_VERSIONS = (DEFAULT_VERSION, LATEST_VERSION)
AUTH_SCHEMES = ("x-api-key", "bearer")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
_ROLES = {DEFAULT_VERSION: ("user", "assistant"), LATEST_VERSION: ("user", "assistant", "system")}
_THINKING = ("enabled", "disabled", "adaptive")
_DISPLAY = ("summarized", "omitted")


def request_problem(params: Mapping[str, Any], version: str) -> str | None:
    """What the API would refuse in these Messages params under ``version``, or ``None``."""
    messages = params.get("messages")
    roles = _ROLES.get(version)
    if isinstance(messages, Sequence) and not isinstance(messages, (str, bytes)):
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping):
                return f"messages[{i}]: Input should be a valid dictionary"
            role = message.get("role")
            if roles is not None and role not in roles:
                if role == "system":
                    return (
                        f"messages[{i}].role: 'system' messages need anthropic-version {LATEST_VERSION} "
                        f'(this request uses {version}): pass Client(anthropic_version="{LATEST_VERSION}") '
                        "or use the top-level system parameter"
                    )
                allowed = " or ".join(repr(r) for r in roles)
                return f"messages[{i}].role: Input should be {allowed}"
            if role == "system":
                problem = _system_content(message.get("content"))
                if problem is not None:
                    return f"messages[{i}].content: {problem}"
    return _thinking_problem(params)


def _system_content(content: Any) -> str | None:
    if isinstance(content, str):
        return None
    if isinstance(content, Sequence) and not isinstance(content, bytes):
        for j, block in enumerate(content):
            if not isinstance(block, Mapping) or block.get("type") != "text":
                return f"[{j}]: a system message holds only text blocks"
        return None
    return "a system message's content is a string or a list of text blocks"


def _thinking_problem(params: Mapping[str, Any]) -> str | None:
    thinking = params.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, Mapping) or thinking.get("type") not in _THINKING:
        return f"thinking.type: Input should be {', '.join(repr(t) for t in _THINKING)}"
    kind = thinking["type"]
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            return "thinking.enabled.budget_tokens: Field required (an integer)"
        if budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    elif kind == "adaptive":
        display = thinking.get("display")
        if display is not None and display not in _DISPLAY:
            return f"thinking.adaptive.display: Input should be {' or '.join(repr(d) for d in _DISPLAY)}"
    return None


def check_request(params: Mapping[str, Any], version: str) -> None:
    """Raise :class:`~rxclaude.RequestShapeError` for what the API would refuse (see above)."""
    problem = request_problem(params, version)
    if problem is not None:
        raise RequestShapeError(problem)
