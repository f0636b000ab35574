"""Build a JSON value from text fed fragment by fragment, in time and memory linear in the text.

Strategy: a small push parser. Containers are built in place as they open (``{`` appends a dict
to its parent at once), so no fragment is ever parsed twice; the only text kept between
fragments is an unfinished number or literal (a few characters) and the decoded pieces of an
unfinished string. :meth:`JSONBuilder.snapshot` copies just the containers still open (the right
spine of the tree); closed subtrees are shared, never copied. A snapshot equals what
:func:`~rxclaude.core.partial_json.parse_partial_json` gives for the text so far (a property
test holds them together): unfinished keys, literals and numbers such as ``1.`` are left out,
an unfinished string too unless ``trailing_strings``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rxclaude.core.partial_json import split_string_body

__all__ = ["JSONBuilder"]

_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"[-+.0-9a-zA-Z]*")  # the characters a number or a literal can hold
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
_LITERALS = {"true": True, "false": False, "null": None}
_MISSING: Any = object()

# what comes next
_VALUE = 0  # a value (top level, after ':' or after ',' in an array)
_VALUE_OR_CLOSE = 1  # just after '['
_KEY = 2  # after ',' in an object
_KEY_OR_CLOSE = 3  # just after '{'
_COLON = 4
_COMMA_OR_CLOSE = 5
_END = 6  # the top-level value is complete: only whitespace may follow


class JSONBuilder:
    """A JSON value growing as its text arrives; each character is looked at once.

    Example:
        >>> b = JSONBuilder(); b.feed('{"a": [1, "x'), b.snapshot()
        (True, {'a': [1]})
        >>> b = JSONBuilder(trailing_strings=True); b.feed('{"a": [1, "x'), b.snapshot()
        (True, {'a': [1, 'x']})
        >>> b.feed('y"]}'), b.close()
        (True, {'a': [1, 'xy']})
    """

    __slots__ = (
        "_escaped",
        "_expect",
        "_has_top",
        "_in_string",
        "_is_key",
        "_keys",
        "_pending",
        "_scalar",
        "_stack",
        "_str_parts",
        "_top",
        "column",
        "trailing_strings",
    )

    def __init__(self, *, trailing_strings: bool = False) -> None:
        self.trailing_strings = trailing_strings  # snapshots show an unfinished string value
        self._stack: list[Any] = []  # open containers, outermost first
        self._keys: list[str | None] = []  # per open container: the key its next value goes to
        self._top: Any = None
        self._has_top = False
        self._expect = _VALUE
        self._scalar = ""  # an unfinished number or literal
        self._in_string = False
        self._is_key = False
        self._escaped = False  # the text ended with the backslash of an escape
        self._str_parts: list[str] = []  # the decoded pieces of the unfinished string
        self._pending = ""  # its undecoded tail (an unfinished escape)
        self.column = 0  # characters taken in so far (for error messages)

    # -- feeding --------------------------------------------------------------------------------

    def feed(self, text: str) -> bool:
        """Take the next fragment; return whether :meth:`snapshot` may show a new value.

        Raises ``ValueError`` as soon as the text cannot be the start of JSON.
        """
        changed = False
        i, n = 0, len(text)
        while i < n:
            if self._in_string:
                i, grew = self._string(text, i)
                changed = changed or grew
                continue
            if self._scalar:
                m = _SCALAR.match(text, i)
                end = m.end()  # type: ignore[union-attr]
                if end == n:
                    changed = self._grow_scalar(self._scalar + text[i:]) or changed
                    i = n
                    break
                before = self._scalar_value(self._scalar)
                token, self._scalar = self._scalar + text[i:end], ""
                value = self._finish_scalar(token, i)
                i = end
                if value != before or type(value) is not type(before):  # else it was shown already
                    changed = True
                continue
            i = _WS.match(text, i).end()  # type: ignore[union-attr]
            if i >= n:
                break
            c = text[i]
            expect = self._expect
            if expect <= _VALUE_OR_CLOSE:
                if c == "]" and expect == _VALUE_OR_CLOSE:
                    self._close()
                    i += 1
                    continue
                i += 1
                if c == "{":
                    self._open({}, _KEY_OR_CLOSE)
                elif c == "[":
                    self._open([], _VALUE_OR_CLOSE)
                elif c == '"':
                    self._start_string(is_key=False)
                    changed = changed or self.trailing_strings
                    continue
                elif c == "-" or c.isdigit() or c in "tfn":
                    m = _SCALAR.match(text, i - 1)
                    end = m.end()  # type: ignore[union-attr]
                    if end == n:
                        changed = self._grow_scalar(text[i - 1 :]) or changed
                        i = n
                        break
                    self._finish_scalar(text[i - 1 : end], i - 1)
                    i = end
                else:
                    raise self._error("expected a value", i - 1)
                changed = True
            elif expect <= _KEY_OR_CLOSE:
                i += 1
                if c == '"':
                    self._start_string(is_key=True)
                elif c == "}" and expect == _KEY_OR_CLOSE:
                    self._close()
                else:
                    raise self._error("expected a key", i - 1)
            elif expect == _COLON:
                if c != ":":
                    raise self._error("expected ':'", i)
                i += 1
                self._expect = _VALUE
            elif expect == _COMMA_OR_CLOSE:
                top = self._stack[-1]
                if c == ",":
                    self._expect = _KEY if type(top) is dict else _VALUE
                elif c == ("}" if type(top) is dict else "]"):
                    self._close()
                else:
                    raise self._error("expected ',' or a closing bracket", i)
                i += 1
            else:
                raise self._error("extra data after the value", i)
        self.column += n
        return changed

    def _error(self, what: str, i: int) -> ValueError:
        return ValueError(f"{what} at column {self.column + i}")

    def _attach(self, value: Any) -> None:
        stack = self._stack
        if not stack:
            self._top, self._has_top = value, True
            self._expect = _END
            return
        top = stack[-1]
        if type(top) is list:
            top.append(value)
        else:
            key = self._keys[-1]
            if key in top:  # a repeated key: the last one wins, and moves to the end
                del top[key]
            top[key] = value
            self._keys[-1] = None
        self._expect = _COMMA_OR_CLOSE

    def _open(self, container: Any, expect: int) -> None:
        self._attach(container)
        self._stack.append(container)
        self._keys.append(None)
        self._expect = expect

    def _close(self) -> None:
        self._stack.pop()
        self._keys.pop()
        self._expect = _COMMA_OR_CLOSE if self._stack else _END

    def _grow_scalar(self, token: str) -> bool:
        if len(token) > 400:
            raise self._error("a number or literal too long", 0)
        before = self._scalar_value(self._scalar) if self._scalar else _MISSING
        self._scalar = token
        after = self._scalar_value(token)
        return after is not before and after != before

    def _finish_scalar(self, token: str, i: int) -> Any:
        value = self._scalar_value(token)
        if value is _MISSING:
            raise self._error(f"invalid number or literal {token[:20]!r}", i)
        self._attach(value)
        return value

    @staticmethod
    def _scalar_value(token: str) -> Any:
        """The value of a complete number or literal, else ``_MISSING`` (``1.``, ``tr``, ``-``)."""
        if token in _LITERALS:
            return _LITERALS[token]
        if _NUMBER.fullmatch(token):
            return json.loads(token)
        return _MISSING

    def _start_string(self, *, is_key: bool) -> None:
        self._in_string, self._is_key = True, is_key
        self._str_parts, self._pending, self._escaped = [], "", False

    def _string(self, text: str, i: int) -> tuple[int, bool]:
        """Go on with the unfinished string from ``text[i]``; return where it stopped and
        whether the decoded string grew."""
        start, n, escaped = i, len(text), self._escaped
        closed = False
        while i < n:
            if escaped:
                i += 1
                escaped = False
                continue
            m = _QUOTE_OR_BACKSLASH.search(text, i)
            if m is None:
                i = n
                break
            i = m.end()
            if text[i - 1] == '"':
                closed = True
                break
            escaped = True
        self._escaped = escaped
        body = self._pending + text[start : i - 1 if closed else i]
        if closed:
            done, self._pending = body, ""
        else:
            done, self._pending = split_string_body(body)
        if done:
            try:
                piece = json.loads('"' + done + '"')
            except ValueError:
                raise self._error("invalid string", start) from None
            self._str_parts.append(piece)
        if not closed:
            return i, bool(done) and not self._is_key and self.trailing_strings
        self._in_string = False
        value = "".join(self._str_parts)
        self._str_parts = []
        if self._is_key:
            self._keys[-1] = value
            self._expect = _COLON
            return i, False
        self._attach(value)
        return i, True

    # -- reading --------------------------------------------------------------------------------

    @property
    def has_value(self) -> bool:
        """Whether :meth:`snapshot` has anything to show."""
        if self._has_top:
            return True
        if self._in_string and not self._is_key and self.trailing_strings:
            return True
        if self._scalar:
            return self._scalar_value(self._scalar) is not _MISSING
        return False

    @property
    def complete(self) -> bool:
        """Whether the text so far is one whole JSON value (nothing left open)."""
        return self._expect == _END and not self._in_string

    def snapshot(self) -> Any:
        """The value so far, as new containers where they are still open (closed ones shared).

        Raises ``ValueError`` when there is nothing to show yet (see :attr:`has_value`).
        """
        leaf = _MISSING
        if self._scalar:
            leaf = self._scalar_value(self._scalar)
        elif self._in_string and not self._is_key and self.trailing_strings:
            done = "".join(self._str_parts)
            self._str_parts = [done] if done else []  # joined once per snapshot, not per piece
            leaf = done
        stack = self._stack
        if not stack:
            if self._has_top:
                return self._top
            if leaf is _MISSING:
                raise ValueError("no JSON value yet")
            return leaf
        child: Any = _MISSING
        for depth in range(len(stack) - 1, -1, -1):
            container = stack[depth]
            if type(container) is list:
                copy: Any = list(container)
                if child is not _MISSING:
                    copy[-1] = child
                elif leaf is not _MISSING:
                    copy.append(leaf)
            else:
                copy = dict(container)
                if child is not _MISSING:
                    copy[next(reversed(copy))] = child
                elif leaf is not _MISSING and self._keys[depth] is not None:
                    copy[self._keys[depth]] = leaf
            child = copy
        return child

    def close(self) -> Any:
        """The complete value; ``ValueError`` if the text is not one whole JSON value."""
        if self._scalar and not self._stack and self._scalar_value(self._scalar) is not _MISSING:
            token, self._scalar = self._scalar, ""
            self._finish_scalar(token, 0)
        if not self.complete:
            raise ValueError(f"the JSON ended before the value was complete (column {self.column})")
        return self._top
