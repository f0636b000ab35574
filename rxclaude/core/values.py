"""The frozen value base shared by every wire value: ``FrozenDict``, JSON round-trip, fast init.

Strategy: each known JSON object becomes a frozen, slotted dataclass whose fields are the
documented keys; keys we do not know yet are kept in ``extra`` and come back out of
``to_dict()``, so nothing the API sends is lost.  Unknown event, block, delta and citation
*types* become ``Unknown*`` values carrying the raw JSON.  JSON sub-trees we do not model
(tool ``input``, server-tool result ``content``, ``stop_details`` ...) stay plain JSON values;
treat them as read-only.
"""

from __future__ import annotations

import copy
from dataclasses import MISSING, fields
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar, cast

__all__ = [
    "Timestamped",
    "EMPTY",
    "FrozenDict",
    "Value",
    "fast_init",
    "fast_init_module",
    "finish",
    "jsonify",
]


class FrozenDict(dict[str, Any]):
    """A read-only ``dict`` for ``extra`` fields (hashable by identity, JSON-serializable)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("rxclaude values are immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return FrozenDict(copy.deepcopy(dict(self), memo))


EMPTY = FrozenDict()
V = TypeVar("V", bound="Value")


class Value:
    """Shared JSON round-trip for the dataclasses below (fields + ``extra``)."""

    __slots__ = ()
    extra: FrozenDict  # every subclass has the field: what the API sent that is not modelled
    _known: ClassVar[frozenset[str]] = frozenset()
    _optional: ClassVar[frozenset[str]] = frozenset()  # fields dropped from to_dict() when absent

    @classmethod
    def from_dict(cls: type[V], d: dict[str, Any]) -> V:
        """Build from a JSON object; unknown keys go to ``extra``."""
        known = cls._known
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known and k != "type"}
        if extra:
            kwargs["extra"] = FrozenDict(extra)
        if cls._optional:
            absent = frozenset(n for n in cls._optional if n not in d)
            if absent:
                kwargs["absent"] = absent
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object this value stands for (a fresh, deep copy)."""
        out: dict[str, Any] = {}
        absent = getattr(self, "absent", ())
        for f in fields(cast(Any, self)):  # every Value subclass is a dataclass
            name = f.name
            if name in ("extra", "absent") or name in absent:
                continue
            out[name] = jsonify(getattr(self, name))
        for k, v in self.extra.items():
            out[k] = copy.deepcopy(v)
        return out


def jsonify(value: Any) -> Any:
    if isinstance(value, Value):
        return value.to_dict()
    if isinstance(value, tuple):
        return [jsonify(v) for v in value]
    if isinstance(value, (dict, list)):
        return copy.deepcopy(value)
    return value


def finish(cls: type[V]) -> type[V]:
    """Record a value class's known and optional field names (class decorator, after ``@dataclass``)."""
    all_fields = fields(cast(Any, cls))
    names = {f.name for f in all_fields}
    cls._known = frozenset(names - {"extra", "type", "absent"})
    if "absent" in names:
        cls._optional = frozenset(f.name for f in all_fields if f.default is None)
    return cls


def fast_init(cls: type) -> None:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots directly.

    The generated frozen ``__init__`` calls ``object.__setattr__`` per field, which costs about
    2x more than writing through the slot descriptors; events are built millions of times.
    Semantics are unchanged: same signature, same defaults, still frozen afterwards.
    """
    fs = fields(cls)
    if any(f.default_factory is not MISSING or not f.init for f in fs):
        return
    ns: dict[str, Any] = {}
    params, body = [], []
    for f in fs:
        slot = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        ns[f"_set_{f.name}"] = slot.__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            ns[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010


def fast_init_module(namespace: dict[str, Any], module: str) -> None:
    """Apply :func:`fast_init` to every dataclass defined in ``module``."""
    for obj in list(namespace.values()):
        if isinstance(obj, type) and obj.__module__ == module and "__dataclass_fields__" in obj.__dict__:
            fast_init(obj)


_T = TypeVar("_T")


class Timestamped(NamedTuple, Generic[_T]):
    """A value and when it arrived, in seconds since subscription."""

    value: _T
    t: float
