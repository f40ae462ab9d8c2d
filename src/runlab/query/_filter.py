"""A small, safe filter language over runs, shared by the CLI, the REST API and the UI.

    lr >= 1e-4 and optimizer.name == "adam" and status in ["finished", "crashed"]
    and tags has "baseline"

Grammar (keywords are lower case; ``or`` binds loosest, then ``and``, then ``not``)::

    filter     := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := key ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
                | key "in" list | key "not" "in" list | key "has" scalar
    literal    := scalar | list
    list       := "[" [scalar ("," scalar)* [","]] "]"
    scalar     := NUMBER | STRING | "true" | "false" | "null"
    key        := NAME ("." NAME)*

Numbers are ints or floats (``3``, ``-2``, ``0.5``, ``1e-4``); strings use ``"..."`` or ``'...'``
with backslash escapes (``\\n``, ``\\t``, ``\\"``, ...). A NAME starts with a letter or ``_`` and
holds letters, digits, ``_``, ``-`` and ``/`` (segments after the first may start with a digit).

Keys:

- ``config.<path>`` reads the run's config and ``summary.<path>`` its summary; a dotted path walks
  nested dicts (``config.optimizer.name``), and a key stored with dots in its name
  (``summary.val.loss``) is found too.
- ``run.<field>`` reads a built-in field: ``id``, ``name``, ``project``, ``status`` (as readers see
  it, so ``status == "crashed"`` works), ``tags``, ``group``, ``job_type``, ``created_at`` and
  ``runtime`` (seconds since the epoch and seconds).
- A key without a prefix is looked up in the config, then the summary, then the built-in fields:
  ``lr`` is ``config.lr`` when the config has it; ``status`` is the run's status unless the config
  or summary has a ``status`` key (write ``run.status`` to be sure).

Evaluation never raises. A comparison whose key the run lacks is false (``!=`` and ``not in``
included; ``not (x == 1)`` is true for a run without ``x``). Values compare only with values of
the same kind: numbers with numbers (``true`` is not ``1``), strings with strings, booleans with
booleans, lists with lists; ``null`` equals a stored null. Ordering works on numbers and on
strings; any other pair makes the comparison false. ``in`` is true when the value equals one item
of the list, ``not in`` when the key is present and the value equals none. ``has`` is true when
the value is a list (tags are) that holds an item equal to the scalar.

Example:
    >>> from runlab.query._filter import parse
    >>> f = parse("lr >= 1e-4 and (optimizer == 'adam' or not tags has \\"old\\")")
    >>> str(f)
    'lr >= 0.0001 and (optimizer == "adam" or not tags has "old")'
    >>> f.keys
    ('lr', 'optimizer', 'tags')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from runlab._errors import FilterSyntaxError

__all__ = [
    "BUILTIN_FIELDS",
    "And",
    "Compare",
    "Expr",
    "Filter",
    "Key",
    "Not",
    "Or",
    "parse",
    "parse_key",
]

Scalar: TypeAlias = "int | float | str | bool | None"
Value: TypeAlias = "Scalar | tuple[Scalar, ...]"
Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in", "has"]
Scope = Literal["any", "config", "summary", "run"]

BUILTIN_FIELDS = (
    "id",
    "name",
    "project",
    "status",
    "tags",
    "group",
    "job_type",
    "created_at",
    "runtime",
)
"""Run fields a key can name: ``run.<field>``, or unprefixed when config and summary lack it."""

_PREFIXES: tuple[Scope, ...] = ("config", "summary", "run")
_KEYWORDS = frozenset({"and", "or", "not", "in", "has", "true", "false", "null"})
_COMPARE_OPS = ("==", "!=", "<=", ">=", "<", ">")
_OPERATOR_NAMES = "==, !=, <, <=, >, >=, in, not in or has"
_MISSING = object()


# -- syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key: where to look (``scope``) and the dotted path within it."""

    scope: Scope
    path: tuple[str, ...]

    def __str__(self) -> str:
        name = ".".join(self.path)
        return name if self.scope == "any" else f"{self.scope}.{name}"


@dataclass(frozen=True)
class Compare:
    """``key op value``; for ``in`` / ``not in`` the value is a tuple of scalars."""

    key: Key
    op: Op
    value: Value

    def __str__(self) -> str:
        return f"{self.key} {self.op} {_format_value(self.value)}"


@dataclass(frozen=True)
class Not:
    operand: Expr

    def __str__(self) -> str:
        inner = str(self.operand)
        return f"not ({inner})" if isinstance(self.operand, (And, Or)) else f"not {inner}"


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]

    def __str__(self) -> str:
        return " and ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]

    def __str__(self) -> str:
        return " or ".join(str(o) for o in self.operands)


Expr: TypeAlias = "Compare | Not | And | Or"


def _format_value(value: Value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = (
            value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\t", "\\t")
            .replace("\r", "\\r")
        )
        return f'"{escaped}"'
    return repr(value)


# -- the filter ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A parsed filter: ``matches(run)`` tests a run, ``str()`` gives its canonical text.

    Calling the filter is ``matches``, so it serves as a predicate (``filter(f, runs)``).
    """

    text: str
    expr: Expr

    def __str__(self) -> str:
        return str(self.expr)

    def __call__(self, run: Any) -> bool:
        return self.matches(run)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the filter reads, in order of first appearance."""
        seen: dict[str, None] = {}
        _collect_keys(self.expr, seen)
        return tuple(seen)

    def matches(self, run: Any) -> bool:
        """Whether ``run`` (a ``RunView`` or anything with its attributes) passes the filter."""
        return _evaluate(self.expr, _Fields(run))


def _collect_keys(expr: Expr, seen: dict[str, None]) -> None:
    if isinstance(expr, Compare):
        seen.setdefault(str(expr.key), None)
    elif isinstance(expr, Not):
        _collect_keys(expr.operand, seen)
    else:
        for operand in expr.operands:
            _collect_keys(operand, seen)


class _Fields:
    """Reads a run's values once per evaluation (``RunView.config`` copies on every access)."""

    __slots__ = ("_config", "_run", "_summary")

    def __init__(self, run: Any) -> None:
        self._run = run
        self._config: Mapping[str, Any] | None = None
        self._summary: Mapping[str, Any] | None = None

    def _mapping(self, name: Literal["config", "summary"]) -> Mapping[str, Any]:
        record = getattr(self._run, "record", None)
        source = record if record is not None and hasattr(record, name) else self._run
        value = getattr(source, name, None)
        return value if isinstance(value, Mapping) else {}

    def config(self) -> Mapping[str, Any]:
        if self._config is None:
            self._config = self._mapping("config")
        return self._config

    def summary(self) -> Mapping[str, Any]:
        if self._summary is None:
            self._summary = self._mapping("summary")
        return self._summary

    def builtin(self, name: str) -> Any:
        value: Any = getattr(self._run, name, _MISSING)
        if value is _MISSING:
            return _MISSING
        if name == "status":
            return str(getattr(value, "value", value))
        if name == "tags":
            return list(value or ())
        return value

    def get(self, key: Key) -> Any:
        """The value of ``key``, or ``_MISSING``."""
        if key.scope in ("any", "config"):
            found = _lookup(self.config(), key.path)
            if found is not _MISSING or key.scope == "config":
                return found
        if key.scope in ("any", "summary"):
            found = _lookup(self.summary(), key.path)
            if found is not _MISSING or key.scope == "summary":
                return found
        if len(key.path) == 1 and key.path[0] in BUILTIN_FIELDS:
            return self.builtin(key.path[0])
        return _MISSING


def _lookup(mapping: Mapping[str, Any], path: Sequence[str]) -> Any:
    # A flat key with dots wins over walking nested dicts, so both layouts are found.
    joined = ".".join(path)
    if joined in mapping:
        return mapping[joined]
    if len(path) > 1:
        head = mapping.get(path[0], _MISSING)
        if isinstance(head, Mapping):
            return _lookup(head, path[1:])
    return _MISSING


def resolve(run: Any, key: Key) -> tuple[bool, Any]:
    """``(True, value)`` when ``run`` has ``key`` (as filters look it up), else ``(False, None)``.

    Example:
        >>> from types import SimpleNamespace
        >>> resolve(SimpleNamespace(config={"opt": {"lr": 0.1}}), parse_key("opt.lr"))
        (True, 0.1)
    """
    value = _Fields(run).get(key)
    return (False, None) if value is _MISSING else (True, value)


def _evaluate(expr: Expr, fields: _Fields) -> bool:
    if isinstance(expr, Compare):
        value = fields.get(expr.key)
        return value is not _MISSING and _compare(value, expr.op, expr.value)
    if isinstance(expr, Not):
        return not _evaluate(expr.operand, fields)
    if isinstance(expr, And):
        return all(_evaluate(o, fields) for o in expr.operands)
    return any(_evaluate(o, fields) for o in expr.operands)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    return "other"


def _equal(left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right) or kind == "other":
        return False
    if kind == "list":
        return len(left) == len(right) and all(
            _equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(value: Any, op: Op, literal: Value) -> bool:
    if op == "==":
        return _equal(value, literal)
    if op == "!=":
        return _kind(value) == _kind(literal) != "other" and not _equal(value, literal)
    if op == "in":
        assert isinstance(literal, tuple)
        return any(_equal(value, item) for item in literal)
    if op == "not in":
        assert isinstance(literal, tuple)
        return not any(_equal(value, item) for item in literal)
    if op == "has":
        return isinstance(value, (list, tuple)) and any(_equal(v, literal) for v in value)
    kind = _kind(value)
    if kind != _kind(literal) or kind not in ("number", "string"):
        return False
    return _ORDERINGS[op](value, literal)


# -- tokenizer -------------------------------------------------------------------------------

TokenKind = Literal["number", "string", "name", "op", "(", ")", "[", "]", ",", "end"]


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    text: str
    pos: int
    value: Any = None


_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_/\-]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_/\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_HINTS = {
    "=": "unexpected '=': write '==' to compare",
    "!": "unexpected '!': write '!=' or 'not'",
    "&": "unexpected '&': write 'and'",
    "|": "unexpected '|': write 'or'",
}


def _error(text: str, pos: int, message: str) -> FilterSyntaxError:
    return FilterSyntaxError(message, text=text, column=pos + 1)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "()[],":
            tokens.append(_Token(char, char, pos))  # type: ignore[arg-type]
            pos += 1
        elif char in "\"'":
            pos = _read_string(text, pos, tokens)
        elif text.startswith(("==", "!=", "<=", ">="), pos):
            tokens.append(_Token("op", text[pos : pos + 2], pos))
            pos += 2
        elif char in "<>":
            tokens.append(_Token("op", char, pos))
            pos += 1
        elif (match := _NUMBER.match(text, pos)) is not None:
            end = match.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                raise _error(text, pos, f"malformed number {text[pos : end + 1]!r}")
            raw = match.group()
            number: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if isinstance(number, float) and not math.isfinite(number):
                raise _error(text, pos, f"number {raw!r} is out of range")
            tokens.append(_Token("number", raw, pos, number))
            pos = end
        elif (match := _NAME.match(text, pos)) is not None:
            pos = _read_name(text, match, tokens)
        else:
            hint = _HINTS.get(char, f"unexpected character {char!r}")
            raise _error(text, pos, hint)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            tokens.append(_Token("string", text[start : pos + 1], start, "".join(chars)))
            return pos + 1
        if char == "\\" and pos + 1 < len(text):
            escaped = text[pos + 1]
            chars.append(_ESCAPES.get(escaped, escaped))
            pos += 2
        else:
            chars.append(char)
            pos += 1
    raise _error(text, start, f"unterminated string: no closing {quote}")


def _read_name(text: str, match: re.Match[str], tokens: list[_Token]) -> int:
    start, pos = match.start(), match.end()
    while pos < len(text) and text[pos] == ".":
        segment = _SEGMENT.match(text, pos + 1)
        if segment is None:
            raise _error(text, pos + 1, f"expected a key name after '{text[start : pos + 1]}'")
        pos = segment.end()
    tokens.append(_Token("name", text[start:pos], start))
    return pos


# -- parser ----------------------------------------------------------------------------------


def _describe(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: TokenKind) -> bool:
        # A method rather than ``self.token.kind == ...`` so mypy does not narrow across advances.
        return self.token.kind == kind

    def is_word(self, word: str) -> bool:
        return self.at("name") and self.token.text == word

    def fail(self, message: str, token: _Token | None = None) -> FilterSyntaxError:
        return _error(self.text, (token or self.token).pos, message)

    def parse(self) -> Expr:
        if self.at("end"):
            raise self.fail("empty filter: expected a condition such as lr >= 1e-4")
        expr = self.or_expr()
        if not self.at("end"):
            raise self.fail(
                f"unexpected {_describe(self.token)} after a complete condition; "
                "join conditions with 'and' or 'or'"
            )
        return expr

    def or_expr(self) -> Expr:
        operands = [self.and_expr()]
        while self.is_word("or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(_splice(operands, Or))

    def and_expr(self) -> Expr:
        operands = [self.not_expr()]
        while self.is_word("and"):
            self.advance()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(_splice(operands, And))

    def not_expr(self) -> Expr:
        if self.is_word("not"):
            self.advance()
            return Not(self.not_expr())
        if self.at("("):
            opening = self.advance()
            expr = self.or_expr()
            if not self.at(")"):
                raise self.fail(
                    f"expected ')' to close the '(' at column {opening.pos + 1}, "
                    f"got {_describe(self.token)}"
                )
            self.advance()
            return expr
        return self.comparison()

    def key(self) -> Key:
        token = self.token
        if token.kind != "name" or token.text in _KEYWORDS:
            raise self.fail(f"expected a key such as lr or config.lr, got {_describe(token)}")
        self.advance()
        return _make_key(token.text, lambda message: self.fail(message, token))

    def comparison(self) -> Compare:
        key = self.key()
        token = self.token
        if token.kind == "op":
            self.advance()
            op: Op = token.text  # type: ignore[assignment]
            value = self.value(f"'{op}'", scalar_only=False)
            if isinstance(value, tuple) and op not in ("==", "!="):
                raise self.fail(f"'{op}' needs a number or a string, not a list", token)
            return Compare(key, op, value)
        if self.is_word("in") or self.is_word("not"):
            self.advance()
            if token.text == "not":
                if not self.is_word("in"):
                    raise self.fail(f"expected 'in' after 'not', got {_describe(self.token)}")
                self.advance()
            op = "in" if token.text == "in" else "not in"
            if not self.at("["):
                raise self.fail(f"'{op}' needs a list such as [1, 2], got {_describe(self.token)}")
            return Compare(key, op, self.list_literal())
        if self.is_word("has"):
            self.advance()
            return Compare(key, "has", self.value("'has'", scalar_only=True))
        raise self.fail(
            f"expected an operator ({_OPERATOR_NAMES}) after '{key}', got {_describe(token)}"
        )

    def value(self, after: str, *, scalar_only: bool) -> Value:
        if self.at("[") and not scalar_only:
            return self.list_literal()
        return self.scalar(after)

    def scalar(self, after: str) -> Scalar:
        token = self.token
        if token.kind in ("number", "string"):
            self.advance()
            value: Scalar = token.value
            return value
        if token.kind == "name" and token.text in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[token.text]
        expected = "a number, a string, true, false or null"
        if token.kind == "[":
            raise self.fail(f"{after} needs {expected}, not a list")
        if token.kind == "name" and token.text not in _KEYWORDS:
            raise self.fail(
                f"expected {expected} after {after}, got {token.text!r} "
                f'(quote strings: "{token.text}")'
            )
        raise self.fail(f"expected {expected} after {after}, got {_describe(token)}")

    def list_literal(self) -> tuple[Scalar, ...]:
        opening = self.advance()
        items: list[Scalar] = []
        while not self.at("]"):
            items.append(self.scalar("'[' or ','" if not items else "','"))
            if self.at(","):
                self.advance()
            elif not self.at("]"):
                raise self.fail(
                    f"expected ',' or ']' in the list opened at column {opening.pos + 1}, "
                    f"got {_describe(self.token)}"
                )
        self.advance()
        return tuple(items)


def _splice(operands: list[Expr], kind: type[And | Or]) -> tuple[Expr, ...]:
    # ``a and (b and c)`` is ``a and b and c``: one canonical tree for each meaning.
    flat: list[Expr] = []
    for operand in operands:
        flat.extend(operand.operands if isinstance(operand, kind) else (operand,))
    return tuple(flat)


def _make_key(text: str, fail: Callable[[str], FilterSyntaxError]) -> Key:
    parts = tuple(text.split("."))
    head = parts[0]
    if len(parts) > 1 and head in _PREFIXES:
        scope: Scope = head
        path = parts[1:]
        if scope == "run" and (len(path) > 1 or path[0] not in BUILTIN_FIELDS):
            raise fail(
                f"unknown run field {'.'.join(path)!r}; use one of {', '.join(BUILTIN_FIELDS)}"
            )
        return Key(scope, path)
    return Key("any", parts)


def parse(text: str) -> Filter:
    """Parse a filter expression (grammar in this module's docstring).

    Raises:
        FilterSyntaxError: the text is not a valid filter; the message names the column and
            draws a caret under it.
    """
    return Filter(text, _Parser(text).parse())


def parse_key(text: str) -> Key:
    """Parse one key (``lr``, ``config.optimizer.name``, ``run.status``) as filters read it.

    Raises:
        FilterSyntaxError: ``text`` is not a key.
    """
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    match = _NAME.match(stripped)
    if match is None or stripped in _KEYWORDS:
        raise _error(text, offset, f"expected a key such as lr or config.lr, got {stripped!r}")
    tokens: list[_Token] = []
    end = _read_name(stripped, match, tokens)
    if end != len(stripped):
        raise _error(text, offset + end, f"unexpected {stripped[end]!r} in a key")

    def fail(message: str) -> FilterSyntaxError:
        return _error(text, offset, message)

    return _make_key(stripped, fail)
