"""Structured outputs in the mock: check ``output_config`` and strict tools as the API does, and
split a JSON answer into the ``text_delta`` pieces a structured reply streams.

Example::

    server.enqueue(Reply.structured({"city": "Paris", "temperature": 21}))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_structured", "json_pieces"]

_CUTS = (4, 7, 2, 9, 5, 3, 11, 6)
_FORMAT_KEYS = {"type", "schema"}
_EFFORTS = ("low", "medium", "high", "xhigh", "max")  # (other keys: betas such as task_budget)


def json_pieces(text: str) -> list[str]:
    """``text`` cut into short pieces of varied length (as structured replies stream), never empty.

    Example::

        "".join(json_pieces('{"a": 1}')) == '{"a": 1}'
    """
    out: list[str] = []
    i = g = 0
    while i < len(text):
        n = _CUTS[g % len(_CUTS)]
        out.append(text[i : i + n])
        i += n
        g += 1
    return out


def check_structured(body: Mapping[str, Any]) -> str | None:
    """The API's 400 message for a bad ``output_config`` or strict tool schema, else ``None``.

    Example::

        check_structured({"output_config": {"format": {"type": "json", "schema": {}}}})
        # "output_config.format.type: Input should be 'json_schema'"
    """
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, Mapping):
            return "output_config: Input should be a valid dictionary"
        effort = config.get("effort")
        if effort is not None and effort not in _EFFORTS:
            return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        fmt = config.get("format")
        if fmt is not None:
            problem = _check_format(fmt)
            if problem is not None:
                return problem
    tools = body.get("tools")
    if isinstance(tools, list):
        for i, tool in enumerate(tools):
            if isinstance(tool, Mapping) and tool.get("strict") is True:
                problem = _check_schema(tool.get("input_schema"), f"tools.{i}.input_schema")
                if problem is not None:
                    return problem
    return None


def _check_format(fmt: Any) -> str | None:
    if not isinstance(fmt, Mapping):
        return "output_config.format: Input should be a valid dictionary"
    if "type" not in fmt:
        return "output_config.format.type: Field required"
    if fmt["type"] != "json_schema":
        return "output_config.format.type: Input should be 'json_schema'"
    for key in fmt:
        if key not in _FORMAT_KEYS:
            return f"output_config.format.{key}: Extra inputs are not permitted"
    if "schema" not in fmt:
        return "output_config.format.schema: Field required"
    return _check_schema(fmt["schema"], "output_config.format.schema")


def _check_schema(schema: Any, where: str) -> str | None:
    if not isinstance(schema, Mapping):
        return f"{where}: Input should be a valid dictionary"
    return _closed_objects(schema, where)


def _closed_objects(schema: Any, where: str) -> str | None:
    """Every object schema must say ``"additionalProperties": false``."""
    if isinstance(schema, Mapping):
        if (schema.get("type") == "object" or "properties" in schema) and schema.get(
            "additionalProperties"
        ) is not False:
            return f"{where}: For 'object' type, 'additionalProperties' must be explicitly set to false"
        for key, value in schema.items():
            if key in ("const", "enum", "default", "examples", "description", "title"):
                continue
            problem = _closed_objects(value, f"{where}.{key}")
            if problem is not None:
                return problem
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            problem = _closed_objects(value, f"{where}.{i}")
            if problem is not None:
                return problem
    return None
