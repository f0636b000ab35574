"""Structured outputs: the request's ``output_config.format``, and checking the reply against it.

Strategy: a schema is either a type (a pydantic model, a ``TypedDict``, ``list[Model]``...,
anything ``pydantic.TypeAdapter`` takes) or a JSON schema (a ``dict``). Both extras load only
when such a schema is given: ``pip install 'rxclaude[structured]'`` (pydantic, jsonschema).
A type's final value is ``TypeAdapter.validate_json`` of the raw text (as the official SDK's
``parsed_output``); a JSON schema's is the parsed JSON, checked by ``jsonschema``. Every
failure is an :class:`~rxclaude.OutputValidationError` carrying the raw text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rxclaude.core.errors import ContentError, OutputValidationError

__all__ = ["OutputValidator", "PartialOutput", "output_format", "output_validator"]

_T = TypeVar("_T")

_INSTALL_HINT = "pip install 'rxclaude[structured]'"


@dataclass(frozen=True, slots=True)
class PartialOutput(Generic[_T]):
    """A structured output as it grows: ``value`` is the JSON so far (dicts, lists, ...) while
    ``done`` is false; once ``done``, the complete value -- validated and typed (a model
    instance) when a schema was given.

    Example:
        >>> PartialOutput({"city": "Paris"}, done=False).value["city"]
        'Paris'
    """

    value: Any
    done: bool = False


class OutputValidator(Protocol):
    """Checks a complete structured output; returns the typed value or raises
    :class:`~rxclaude.OutputValidationError`."""

    def validate(self, raw: str, value: Any) -> Any:
        """``raw``: the whole text; ``value``: it, parsed as JSON."""
        ...


def output_validator(schema: Any) -> OutputValidator | None:
    """The validator for ``schema``: a type (pydantic), a JSON schema ``dict``, or the
    ``{"type": "json_schema", "schema": ...}`` format itself; ``None`` for ``None``.

    Raises ``ImportError`` (with the extra to install) when the needed library is missing,
    :class:`~rxclaude.ContentError` when a JSON schema is itself invalid.

    Example:
        >>> output_validator(None) is None
        True
    """
    if schema is None:
        return None
    if isinstance(schema, Mapping):
        return _JSONSchema(_unwrap(schema))
    return _Pydantic(schema)


def output_format(schema: Any) -> dict[str, Any]:
    """The request's ``output_config["format"]`` for a type or a JSON schema.

    A type's schema comes from pydantic; in both, every object gets
    ``"additionalProperties": false``, which the API requires. Other keywords are left as they
    are (the API refuses some, such as ``minimum``: validate those here, after the reply).

    Example:
        >>> output_format({"type": "object", "properties": {"n": {"type": "integer"}}})["schema"]
        {'type': 'object', 'properties': {'n': {'type': 'integer'}}, 'additionalProperties': False}
    """
    raw = _unwrap(schema) if isinstance(schema, Mapping) else _type_adapter(schema).json_schema()
    return {"type": "json_schema", "schema": _closed(raw)}


def _unwrap(schema: Mapping[str, Any]) -> dict[str, Any]:
    if schema.get("type") == "json_schema" and isinstance(schema.get("schema"), Mapping):
        return dict(schema["schema"])
    return dict(schema)


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object schema, copied."""
    if isinstance(schema, Mapping):
        out = {k: _closed(v) for k, v in schema.items()}
        if out.get("type") == "object" or "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _type_adapter(schema: Any) -> Any:
    try:
        from pydantic import TypeAdapter
    except ImportError as e:
        raise ImportError(f"a typed structured output needs pydantic: {_INSTALL_HINT}") from e
    return TypeAdapter(schema)


class _Pydantic:
    __slots__ = ("_adapter", "_error")

    def __init__(self, schema: Any) -> None:
        self._adapter = _type_adapter(schema)
        from pydantic import ValidationError

        self._error = ValidationError

    def validate(self, raw: str, value: Any) -> Any:
        try:
            return self._adapter.validate_json(raw)
        except self._error as e:
            errors = tuple(f"{'/'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}" for err in e.errors())
            raise OutputValidationError(
                f"the output does not match its schema: {'; '.join(errors)}", raw=raw, value=value, errors=errors
            ) from None


class _JSONSchema:
    __slots__ = ("_validator",)

    def __init__(self, schema: dict[str, Any]) -> None:
        try:
            import jsonschema
        except ImportError as e:
            raise ImportError(f"checking a JSON schema needs jsonschema: {_INSTALL_HINT}") from e
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise ContentError(f"not a valid JSON schema: {e.message}") from None
        self._validator = cls(schema)

    def validate(self, raw: str, value: Any) -> Any:
        found = sorted(self._validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
        if found:
            errors = tuple(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found)
            raise OutputValidationError(
                f"the output does not match its schema: {'; '.join(errors)}", raw=raw, value=value, errors=errors
            )
        return value
