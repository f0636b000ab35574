"""The pure-Python partial JSON parser agrees with jiter (the SDK's) on every prefix."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxclaude.core.partial_json import parse_partial_json

jiter = pytest.importorskip("jiter")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.text(alphabet='é👋\n\\"', max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


def jiter_or_error(prefix: bytes, mode: Any) -> Any:
    try:
        return ("ok", jiter.from_json(prefix, partial_mode=True if mode == "on" else mode))
    except ValueError:
        return ("error", None)


def ours_or_error(prefix: bytes, mode: Any) -> Any:
    try:
        return ("ok", parse_partial_json(prefix, mode, use_jiter=False))
    except ValueError:
        return ("error", None)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["on", "trailing-strings"]), st.booleans(), st.booleans())
def test_every_prefix_matches_jiter(value: Any, mode: Any, indent: bool, ascii_only: bool) -> None:
    if ascii_only:  # every non-ASCII character as a \uXXXX escape, emoji as surrogate pairs
        raw = json.dumps(value, ensure_ascii=True, indent=2 if indent else None).encode()
    else:
        raw = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0)
    for cut in range(len(raw) + 1):
        prefix = raw[:cut]
        try:
            prefix.decode("utf-8")
        except UnicodeDecodeError:
            continue  # tool JSON is joined from whole strings: never cut inside a character
        assert ours_or_error(prefix, mode) == jiter_or_error(prefix, mode), prefix


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1', {"a": 1}),
        ('{"a": "x', {}),
        ('["a", "b', ["a"]),
        ('{"a": [1, {"b": "c', {"a": [1, {}]}),
        ('{"a": tr', {}),
        ('{"a": 1.', {}),
        ('{"a": -', {}),
        ("{", {}),
    ],
)
def test_known_partials(raw: str, expected: Any) -> None:
    assert parse_partial_json(raw, use_jiter=False) == expected


@pytest.mark.parametrize("raw", ["", "  ", '"abc', "-", "tr", '{"a" 1}', "[1 2]", "{1: 2}", "nope"])
def test_not_json_is_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_partial_json(raw, use_jiter=False)
