"""What the real Messages API refuses, with its real status, error type and message.

Checked by :class:`~rxclaude.testing.MockServer` after the field checks, in this order:

* an unknown or retired model: 404 ``not_found_error``, ``"model: <id>"`` (platform ids of
  the form ``[geo.]anthropic.<id>``, as on Bedrock's Messages endpoint, name ``<id>``);
* ``max_tokens`` above the model's output limit: 400, ``"max_tokens: N > LIMIT, which is the
  maximum allowed number of output tokens for <id>"``;
* ``thinking.type == "enabled"`` with ``budget_tokens`` below 1024, or not below ``max_tokens``;
* a conversation ending in an assistant turn, on a model without prefill (Claude 4.6 and later).

The wording is the API's, as seen in its answers (quoted in public bug reports) and the docs.
The model table is :mod:`rxclaude.core.models`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from rxclaude.core.models import PREFILL_ERROR, find_model

__all__ = ["BUDGET_ERROR", "Refusal", "refusal_for"]

BUDGET_ERROR: Final = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)
"""The API's 400 message when ``thinking.budget_tokens >= max_tokens``."""

_MIN_BUDGET: Final = 1024
_GEO_PREFIXES: Final = frozenset({"us", "eu", "jp", "apac", "au", "global"})


def _first_party(model: str) -> str:
    """The first-party id inside a Bedrock Messages (mantle) id: ``[geo.]anthropic.<id>``."""
    head, dot, rest = model.partition(".")
    if dot and head in _GEO_PREFIXES:
        model = rest
    return model.removeprefix("anthropic.")


class Refusal(NamedTuple):
    """An error answer: HTTP status, ``error.type`` and ``error.message``."""

    status: int
    error_type: str
    message: str


def _invalid(message: str) -> Refusal:
    return Refusal(400, "invalid_request_error", message)


def refusal_for(body: Mapping[str, Any], *, count_tokens: bool = False) -> Refusal | None:
    """The API's answer to a well-formed body it still refuses, or ``None`` when it is accepted.

    ``count_tokens`` checks only what ``/v1/messages/count_tokens`` checks (the model).

    Example:
        >>> refusal_for({"model": "claude-nope", "max_tokens": 8, "messages": []}).status
        404
    """
    model = str(body.get("model"))
    info = find_model(_first_party(model))
    if info is None or info.is_retired():
        return Refusal(404, "not_found_error", f"model: {model}")
    if count_tokens:
        return None
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > info.max_output_tokens:
        return _invalid(
            f"max_tokens: {max_tokens} > {info.max_output_tokens}, which is the maximum allowed number "
            f"of output tokens for {model}"
        )
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            return _invalid("thinking.enabled.budget_tokens: Field required")
        if budget < _MIN_BUDGET:
            return _invalid(f"thinking.enabled.budget_tokens: Input should be greater than or equal to {_MIN_BUDGET}")
        if isinstance(max_tokens, int) and budget >= max_tokens:
            return _invalid(BUDGET_ERROR)
    messages = body.get("messages")
    if not info.prefill and isinstance(messages, list) and messages:
        last = messages[-1]
        if isinstance(last, Mapping) and last.get("role") == "assistant":
            return _invalid(PREFILL_ERROR)
    return None
