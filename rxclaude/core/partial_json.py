"""Parse the JSON of a tool block while it is still arriving, as the official SDK does.

Strategy: a complete buffer goes through orjson (fast, strict). A truncated one goes through
``jiter.from_json(partial_mode=...)`` when the optional ``jiter`` is installed, else through the
small recursive-descent parser below, which gives the same answers on every prefix of valid
JSON (a property test holds the two together):

* an unfinished string, number (``1.``, ``-``), literal (``tr``), key, or key without a value is
  dropped; ``"trailing-strings"`` mode keeps an unfinished string instead;
* unfinished arrays and objects keep what they hold so far;
* at top level an unfinished scalar (or nothing at all) is an error.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import orjson

__all__ = ["PartialMode", "StringTracker", "last_string", "parse_partial_json", "split_string_body", "with_last_string"]

PartialMode = Literal["on", "trailing-strings"]


def _import_jiter() -> Any:
    try:  # pragma: no cover - depends on the environment
        from jiter import from_json
    except ImportError:  # pragma: no cover
        return None
    return from_json


_jiter_from_json: Any = _import_jiter()

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING_BODY = re.compile(r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_LITERALS = {"true": True, "false": False, "null": None}


_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
_STRUCTURE = re.compile(r'["{}\[\]:,]')
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}$")


class StringTracker:
    """Where JSON text fed fragment by fragment stands with respect to its strings.

    ``inside``: the text ends inside a string; ``is_key``: that string is an object key;
    ``opened_at``: where its body starts in the last fragment (``None`` if it began earlier).
    Linear in the text: it jumps between quotes, brackets, colons and commas, and over each
    escaped character. For valid JSON only. ``tool_input`` uses it to skip re-parsing a buffer
    that only grows inside an unfinished string.

    Example:
        >>> t = StringTracker(); t.feed('{"a": "x'), t.inside, t.is_key  # (a string ended, ...)
        (True, True, False)
        >>> t.feed('y"}'), t.inside
        (True, False)
    """

    __slots__ = ("_escaped", "_expect_key", "_stack", "inside", "is_key", "opened_at")

    def __init__(self) -> None:
        self.inside = False
        self.is_key = False
        self.opened_at: int | None = None
        self._escaped = False  # the text ended with the backslash of an escape
        self._stack: list[str] = []  # the open containers, "{" or "["
        self._expect_key = False  # in an object, where its next key goes

    def feed(self, text: str) -> bool:
        """Take the next fragment; return whether a string ended in it."""
        i, n = 0, len(text)
        inside, escaped, expect_key, stack = self.inside, self._escaped, self._expect_key, self._stack
        ended = False
        opened_at = None
        while i < n:
            if escaped:  # the character after a backslash never ends the string
                i += 1
                escaped = False
            elif inside:
                m = _QUOTE_OR_BACKSLASH.search(text, i)
                if m is None:
                    break
                i = m.end()
                if text[i - 1] == '"':
                    inside, ended = False, True
                else:
                    escaped = True
            else:
                m = _STRUCTURE.search(text, i)
                if m is None:
                    break
                i = m.end()
                c = text[i - 1]
                if c == '"':
                    inside, opened_at, self.is_key, expect_key = True, i, expect_key, False
                elif c == "{" or c == "[":
                    stack.append(c)
                    expect_key = c == "{"
                elif c == ",":
                    expect_key = bool(stack) and stack[-1] == "{"
                elif c == ":":
                    expect_key = False
                else:  # "}" or "]"
                    if stack:
                        stack.pop()
                    expect_key = False
        self.inside, self._escaped, self._expect_key = inside, escaped, expect_key
        self.opened_at = opened_at if inside else None
        return ended


def split_string_body(raw: str) -> tuple[str, str]:
    r"""Split the raw body of an unfinished JSON string into the part that decodes now and an
    unfinished escape at its end (a ``\u`` escape of a high surrogate waits for its pair, as
    the partial parsers leave it out).

    Example:
        >>> split_string_body('ab\\u00'), split_string_body('ab\\n')
        (('ab', '\\u00'), ('ab\\n', ''))
    """
    done, pending = _cut_escape(raw, unfinished=True)
    if pending:  # a high surrogate's escape just before the unfinished one waits too
        done, before = _cut_escape(done, unfinished=False)
        pending = before + pending
    return done, pending


def _cut_escape(raw: str, *, unfinished: bool) -> tuple[str, str]:
    r"""Cut off the escape ``raw`` ends with when it is a high surrogate's (``\uD800`` to
    ``\uDBFF``) or, with ``unfinished=True``, when it is incomplete (a lone backslash, or
    ``\u`` with fewer than four digits)."""
    j = raw.rfind("\\")
    if j < 0 or j < len(raw) - 6:
        return raw, ""
    k = j
    while k and raw[k - 1] == "\\":
        k -= 1
    if (j - k) % 2:  # this backslash is itself escaped
        return raw, ""
    escape = raw[j:]
    if _HIGH_SURROGATE.match(escape) or (unfinished and (len(escape) == 1 or (escape[1] == "u" and len(escape) < 6))):
        return raw[:j], escape
    return raw, ""


def last_string(value: Any) -> str | None:
    """``value``'s last leaf in document order if it is a string, else ``None`` (copies nothing).

    Example:
        >>> last_string({"a": 1, "b": ["x", "y"]}), last_string({"a": [1]})
        ('y', None)
    """
    while True:
        if type(value) is str:
            return value
        if type(value) is dict and value:
            value = value[next(reversed(value))]
        elif type(value) is list and value:
            value = value[-1]
        else:
            return None


def with_last_string(value: Any, old: str, new: str) -> Any:
    """``value`` with its last leaf in document order -- a string equal to ``old`` -- now
    ``new``, copying only the containers on the way; ``None`` if there is no such leaf.

    Example:
        >>> with_last_string({"a": 1, "b": ["x", "y"]}, "y", "yz")
        {'a': 1, 'b': ['x', 'yz']}
    """
    if type(value) is str:
        return new if value == old else None
    if type(value) is dict and value:
        key = next(reversed(value))
        child = with_last_string(value[key], old, new)
        if child is None:
            return None
        copy = dict(value)
        copy[key] = child
        return copy
    if type(value) is list and value:
        child = with_last_string(value[-1], old, new)
        return None if child is None else [*value[:-1], child]
    return None


class _Incomplete(Exception):
    """The input ended inside a value; ``partial`` is what survives (``_NOTHING`` if none)."""

    def __init__(self, partial: Any) -> None:
        self.partial = partial


_NOTHING = object()


def parse_partial_json(data: str | bytes, mode: PartialMode = "on", *, use_jiter: bool = True) -> Any:
    """Parse JSON that may be cut off at any byte; raise ``ValueError`` if it is not JSON.

    Example:
        >>> parse_partial_json('{"city": "Par')
        {}
        >>> parse_partial_json('{"city": "Par', "trailing-strings")
        {'city': 'Par'}
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    if use_jiter and _jiter_from_json is not None:
        raw = data.encode() if isinstance(data, str) else data
        return _jiter_from_json(raw, partial_mode=True if mode == "on" else mode)
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    return _Parser(text, mode == "trailing-strings").parse()


class _Parser:
    __slots__ = ("i", "s", "trailing_strings")

    def __init__(self, s: str, trailing_strings: bool) -> None:
        self.s = s
        self.i = 0
        self.trailing_strings = trailing_strings

    def parse(self) -> Any:
        try:
            value = self.value()
        except _Incomplete as e:
            if e.partial is _NOTHING:
                raise ValueError(f"EOF while parsing a value at column {self.i}") from None
            return e.partial
        return value

    def ws(self) -> None:
        m = _WS.match(self.s, self.i)  # matches always (maybe empty)
        if m is not None:
            self.i = m.end()

    def value(self) -> Any:
        self.ws()
        s, i = self.s, self.i
        if i >= len(s):
            raise _Incomplete(_NOTHING)
        c = s[i]
        if c == "{":
            return self.object()
        if c == "[":
            return self.array()
        if c == '"':
            return self.string()
        if c == "-" or c.isdigit():
            return self.number()
        for word, val in _LITERALS.items():
            if s.startswith(word, i):
                self.i = i + len(word)
                return val
            if word.startswith(s[i:]):
                raise _Incomplete(_NOTHING)
        raise ValueError(f"expected value at column {i}")

    def number(self) -> Any:
        s, i = self.s, self.i
        m = _NUMBER.match(s, i)
        if m is None:
            if len(s) - i <= 1:  # a lone '-'
                raise _Incomplete(_NOTHING)
            raise ValueError(f"invalid number at column {i}")
        end = m.end()
        if end == len(s):
            self.i = end
            return json.loads(m.group())
        nxt = s[end]
        if nxt in ".eE+-" or (nxt.isdigit()):
            # '1.' / '1e' / '1e+' at the very end is unfinished; elsewhere it is an error.
            rest = s[end:]
            if re.fullmatch(r"\.?[eE]?[+-]?", rest) or re.fullmatch(r"[0-9]*\.?[0-9]*[eE]?[+-]?", rest):
                raise _Incomplete(_NOTHING)
            raise ValueError(f"invalid number at column {i}")
        self.i = end
        return json.loads(m.group())

    def string(self) -> str:
        s, start = self.s, self.i
        m = _STRING_BODY.match(s, start + 1)  # matches always (maybe empty)
        end = m.end() if m is not None else start + 1
        if end < len(s) and s[end] == '"':
            self.i = end + 1
            return json.loads(s[start : end + 1])
        if end < len(s) and not (s[end] == "\\" and len(s) - end < 6):
            raise ValueError(f"invalid string at column {end}")
        if self.trailing_strings:  # (a high surrogate's escape waits for its pair, as in jiter)
            raise _Incomplete(json.loads('"' + split_string_body(s[start + 1 : end])[0] + '"'))
        raise _Incomplete(_NOTHING)

    def array(self) -> list[Any]:
        out: list[Any] = []
        self.i += 1
        self.ws()
        if self.i < len(self.s) and self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            try:
                out.append(self.value())
            except _Incomplete as e:
                if e.partial is not _NOTHING:
                    out.append(e.partial)
                raise _Incomplete(out) from None
            self.ws()
            if self.i >= len(self.s):
                raise _Incomplete(out)
            c = self.s[self.i]
            self.i += 1
            if c == "]":
                return out
            if c != ",":
                raise ValueError(f"expected ',' or ']' at column {self.i - 1}")

    def object(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        s = self.s
        self.i += 1
        self.ws()
        if self.i < len(s) and s[self.i] == "}":
            self.i += 1
            return out
        while True:
            self.ws()
            if self.i >= len(s):
                raise _Incomplete(out)
            if s[self.i] != '"':
                raise ValueError(f"expected a key at column {self.i}")
            try:
                key = self.string()
            except _Incomplete:
                raise _Incomplete(out) from None
            self.ws()
            if self.i >= len(s):
                raise _Incomplete(out)
            if s[self.i] != ":":
                raise ValueError(f"expected ':' at column {self.i}")
            self.i += 1
            try:
                out[key] = self.value()
            except _Incomplete as e:
                if e.partial is not _NOTHING:
                    out[key] = e.partial
                raise _Incomplete(out) from None
            self.ws()
            if self.i >= len(s):
                raise _Incomplete(out)
            c = s[self.i]
            self.i += 1
            if c == "}":
                return out
            if c != ",":
                raise ValueError(f"expected ',' or '}}' at column {self.i - 1}")
