"""Whether a typed wire value holds the JSON types its class declares.

Strategy: the wire is untrusted (a proxy, a recording, a fuzzer). ``block_from_dict`` and
friends keep whatever JSON they are given, so a ``text`` that is an object or an
``output_tokens`` that is a string would only fail later, far away, as a bare ``TypeError``
(joining text, adding usage). The parser asks :func:`shape_problem` once per typed value and
turns an answer into a :class:`~rxclaude.MalformedEventError`. Each class's checks are read
once from its field declarations (``str``, ``int``, ``bool``, ``X | None``); fields declared
``Any`` (tool ``input``, result ``content``) are JSON the library never computes with.

Example:
    >>> from rxclaude.core.blocks import TextBlock
    >>> shape_problem(TextBlock(text={"not": "text"}))
    'text is dict, not str'
    >>> shape_problem(TextBlock(text="fine")) is None
    True
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from rxclaude.core.values import Value

__all__ = ["shape_problem"]

_NONE = type(None)
_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "str | None": (str, _NONE),
    "int | None": (int, _NONE),
    "bool | None": (bool, _NONE),
}
_Spec = tuple[tuple[tuple[str, tuple[type, ...]], ...], tuple[str, ...]]
_SPECS: dict[type, _Spec] = {}


def _spec(cls: type) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        scalars: list[tuple[str, tuple[type, ...]]] = []
        nested: list[str] = []
        for f in fields(cls):
            if f.name in ("extra", "absent", "type", "raw"):
                continue
            annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            allowed = _SCALARS.get(annotation)
            if allowed is not None:
                scalars.append((f.name, allowed))
            elif annotation != "Any":
                nested.append(f.name)  # a value, or a tuple of values, built by from_dict
        spec = _SPECS[cls] = (tuple(scalars), tuple(nested))
    return spec


def shape_problem(value: Any) -> str | None:
    """``None`` if every declared scalar field (recursively) has its JSON type, else what is wrong.

    ``value`` may be a tuple of values (each is checked).
    """
    if isinstance(value, tuple):
        for item in value:
            problem = shape_problem(item)
            if problem is not None:
                return problem
        return None
    if not isinstance(value, Value):
        return None
    scalars, nested = _spec(type(value))
    for name, allowed in scalars:
        v = getattr(value, name)
        if type(v) not in allowed:  # exact: JSON true is not an int
            return f"{name} is {type(v).__name__}, not {allowed[0].__name__}"
    for name in nested:
        problem = shape_problem(getattr(value, name))
        if problem is not None:
            return f"{name}.{problem}"
    return None
