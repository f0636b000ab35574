"""JSONBuilder: the incremental JSON parser agrees with the partial parser on every prefix and chunking."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxclaude.core.json_builder import JSONBuilder
from rxclaude.core.partial_json import parse_partial_json

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


def reference(prefix: str, trailing: bool) -> Any:
    try:
        return ("ok", parse_partial_json(prefix, "trailing-strings" if trailing else "on", use_jiter=False))
    except ValueError:
        return ("none", None)


def built(builder: JSONBuilder, trailing: bool) -> Any:
    try:
        value = builder.snapshot()
    except ValueError:
        assert not builder.has_value
        return ("none", None)
    assert builder.has_value
    return ("ok", value)


def encode(value: Any, indent: bool, ascii_only: bool) -> str:
    if ascii_only:
        return json.dumps(value, ensure_ascii=True, indent=2 if indent else None)
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans(), st.booleans(), st.booleans())
def test_every_prefix_fed_one_character_at_a_time(value: Any, trailing: bool, indent: bool, ascii_only: bool) -> None:
    raw = encode(value, indent, ascii_only)
    builder = JSONBuilder(trailing_strings=trailing)
    for cut in range(len(raw) + 1):
        if cut:
            builder.feed(raw[cut - 1])
        assert built(builder, trailing) == reference(raw[:cut], trailing), raw[:cut]
    assert builder.close() == json.loads(raw)


@settings(max_examples=300, deadline=None)
@given(json_values, st.data(), st.booleans())
def test_any_chunking_gives_the_same_values(value: Any, data: st.DataObject, trailing: bool) -> None:
    raw = encode(value, False, False)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(raw) - 1)), max_size=8)))
    builder = JSONBuilder(trailing_strings=trailing)
    last = None
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        changed = builder.feed(raw[a:b])
        now = built(builder, trailing)
        assert now == reference(raw[:b], trailing)
        if not changed:  # feed() says "no change" only when the value is indeed the same
            assert now == last or last is None
        last = now
    assert builder.complete or isinstance(json.loads(raw), (int, float, bool, type(None)))
    assert builder.close() == json.loads(raw)


def test_closed_subtrees_are_shared_open_ones_copied() -> None:
    b = JSONBuilder()
    b.feed('{"done": [1, 2], "open": [3')
    one, two = b.snapshot(), b.snapshot()
    assert one == {"done": [1, 2], "open": [3]}
    assert one["done"] is two["done"]  # closed: shared
    assert one["open"] is not two["open"]  # open: each snapshot has its own copy
    one["open"].append(99)
    assert b.snapshot() == {"done": [1, 2], "open": [3]}


@pytest.mark.parametrize(
    "raw",
    ['{"a" 1}', "[1 2]", '{"a": 1,}x', "[tru]", "[01]", '"\x01"', "{1: 2}", "1 2", "]", '{"a": "\\x"}'],
)
def test_invalid_json_is_a_value_error(raw: str) -> None:
    b = JSONBuilder()
    with pytest.raises(ValueError, match="column"):
        b.feed(raw)
        b.close()


@pytest.mark.parametrize("raw", ['{"a": 1', "[", '"abc', "tr", "-", ""])
def test_close_on_unfinished_json_is_a_value_error(raw: str) -> None:
    b = JSONBuilder()
    b.feed(raw)
    with pytest.raises(ValueError, match="ended before"):
        b.close()


def test_a_top_level_number_ends_at_close() -> None:
    b = JSONBuilder()
    b.feed("12")
    b.feed("3")
    assert b.snapshot() == 123 and not b.complete
    assert b.close() == 123


def test_repeated_keys_last_wins() -> None:
    b = JSONBuilder()
    b.feed('{"a": 1, "b": 2, "a": [3')
    assert b.snapshot() == {"b": 2, "a": [3]}
    b.feed("]}")
    assert b.close() == json.loads('{"a": 1, "b": 2, "a": [3]}')


def test_a_long_string_in_many_fragments_is_fed_linearly() -> None:
    """Each fragment is looked at once: 200k fragments of one string cost no re-parse."""
    b = JSONBuilder()
    b.feed('{"text": "')
    for _ in range(200_000):
        assert not b.feed("ab\\n")  # the default view leaves the unfinished string out
    b.feed('"}')
    assert b.close() == {"text": "ab\n" * 200_000}
