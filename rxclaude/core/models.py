"""The Claude model table: the one place that knows model ids, limits and lifecycle dates.

Sources (read December 2026): the ``Model`` literal in the official SDK 2.17
(``anthropic/types/model.py``), its ``_data/deprecated_models.py`` and
``models_to_warn_with_thinking_enabled.py``, and the docs' models overview, model pages and
model deprecations page. Everything else in rxclaude (CLI default, docstrings, README, the mock
server's refusals) reads from here.

* ``max_output_tokens`` is the largest ``max_tokens`` the Messages API accepts for the model.
* ``prefill``: whether a request may end with an assistant turn. Claude 4.6 and later answer
  400 (:data:`PREFILL_ERROR`).
* ``thinking``: the ``thinking.type`` values the model takes. ``"enabled"`` (a
  ``budget_tokens`` below ``max_tokens``) is the older manual mode; ``"adaptive"`` lets the
  model decide (steered by ``effort``).
* ``deprecated`` / ``retired``: ISO dates on the first-party API. A request to a retired model
  fails with 404 ``not_found_error``, like one to an id that never existed.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterator
from typing import Final

from rxclaude.core.errors import RxClaudeError

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "PREFILL_ERROR",
    "ModelInfo",
    "UnknownModelError",
    "current_models",
    "find_model",
    "lookup_model",
]

PREFILL_ERROR: Final = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
"""The API's 400 message for a request ending in an assistant turn, on models without prefill."""


class UnknownModelError(RxClaudeError, LookupError):
    """A model id that is not in the table, or that is retired."""


@dataclasses.dataclass(frozen=True, slots=True)
class ModelInfo:
    """One row of the model table.

    Example:
        >>> lookup_model("claude-haiku-4-5-20251001").max_output_tokens
        64000
    """

    id: str
    max_output_tokens: int
    prefill: bool
    thinking: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    deprecated: str | None = None
    retired: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        """The undated id and every alias (dated snapshots)."""
        return (self.id, *self.aliases)

    def is_retired(self, today: _dt.date | None = None) -> bool:
        """Whether requests to this model fail on ``today`` (default: the current UTC date)."""
        if self.retired is None:
            return False
        return (today or _dt.datetime.now(_dt.UTC).date()) >= _dt.date.fromisoformat(self.retired)

    def is_current(self, today: _dt.date | None = None) -> bool:
        """Neither deprecated nor retired on ``today`` (a retired model's deprecation date may be unknown)."""
        day = today or _dt.datetime.now(_dt.UTC).date()
        if self.is_retired(day):
            return False
        return self.deprecated is None or day < _dt.date.fromisoformat(self.deprecated)


_ADAPTIVE: Final = ("adaptive",)
_BOTH: Final = ("adaptive", "enabled")
_ENABLED: Final = ("enabled",)

MODELS: Final[tuple[ModelInfo, ...]] = (
    # newest first, as in the SDK's Model literal. Max output per the docs' model pages
    # (the Mythos pages were not found: 128K like the rest of the family is assumed).
    ModelInfo("claude-fable-5-2", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-mythos-5-2", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-haiku-5-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-sonnet-5-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-fable-5-1", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-opus-5-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-mythos-5-1", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-sonnet-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-fable-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-mythos-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-opus-5", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-opus-4-8", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-opus-4-7", 128_000, False, _ADAPTIVE),
    ModelInfo("claude-mythos-preview", 128_000, False, _BOTH, retired="2026-06-30"),
    ModelInfo("claude-opus-4-6", 128_000, False, _BOTH),
    ModelInfo("claude-sonnet-4-6", 128_000, False, _BOTH),
    ModelInfo("claude-haiku-4-5", 64_000, True, _ENABLED, aliases=("claude-haiku-4-5-20251001",)),
    ModelInfo(
        "claude-opus-4-5",
        64_000,
        True,
        _ENABLED,
        aliases=("claude-opus-4-5-20251101",),
        deprecated="2026-11-23",
        retired="2027-01-22",
    ),
    ModelInfo(
        "claude-sonnet-4-5",
        64_000,
        True,
        _ENABLED,
        aliases=("claude-sonnet-4-5-20250929",),
        retired="2026-11-30",
    ),
    ModelInfo(
        "claude-sonnet-4-0",
        64_000,
        True,
        _ENABLED,
        aliases=("claude-sonnet-4-20250514",),
        retired="2026-06-15",
    ),
    ModelInfo(
        "claude-opus-4-0",
        32_000,
        True,
        _ENABLED,
        aliases=("claude-opus-4-20250514",),
        retired="2026-06-15",
    ),
)
"""Every model the table knows, newest first (retired ones kept so that errors can say so)."""

DEFAULT_MODEL: Final = "claude-sonnet-5-5"
"""The model rxclaude's CLI, docs and examples use: the newest Sonnet."""

_BY_ID: Final[dict[str, ModelInfo]] = {name: info for info in MODELS for name in info.ids}


def find_model(model: str) -> ModelInfo | None:
    """The table row for ``model`` (an id or a dated alias), or ``None``.

    Example:
        >>> find_model("claude-sonnet-5-5").prefill
        False
    """
    return _BY_ID.get(model)


def lookup_model(model: str, *, today: _dt.date | None = None) -> ModelInfo:
    """The row for a model that takes requests on ``today``; :class:`UnknownModelError` otherwise.

    Example:
        >>> lookup_model("claude-sonnet-4-5")
        Traceback (most recent call last):
        ...
        rxclaude.core.models.UnknownModelError: claude-sonnet-4-5 was retired on 2026-11-30
    """
    info = _BY_ID.get(model)
    if info is None:
        raise UnknownModelError(f"unknown model {model!r}")
    if info.is_retired(today):
        raise UnknownModelError(f"{model} was retired on {info.retired}")
    return info


def current_models(today: _dt.date | None = None) -> Iterator[ModelInfo]:
    """The models neither deprecated nor retired on ``today``, newest first.

    Example:
        >>> next(current_models()).id
        'claude-fable-5-2'
    """
    return (info for info in MODELS if info.is_current(today))
