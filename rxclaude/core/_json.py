"""Request bodies as JSON bytes: orjson, plus any ``Mapping`` or ``Sequence`` (not only ``dict``
and ``list``), so params built from a ``MappingProxyType`` or a custom container still encode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = ["dumps"]


def dumps(value: Any) -> bytes:
    """``orjson.dumps`` that also takes other mappings and sequences.

    Raises ``TypeError`` (``orjson.JSONEncodeError``) for anything else that is not JSON.

    Example:
        >>> from types import MappingProxyType
        >>> dumps({"a": MappingProxyType({"b": (1, 2)})})
        b'{"a":{"b":[1,2]}}'
    """
    return orjson.dumps(value, default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes | bytearray):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
