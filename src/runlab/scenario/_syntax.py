"""The ``${...}`` expression syntax: a small hand-written tokenizer and parser (no ``eval``).

Grammar inside ``${`` and ``}`` (blanks allowed between tokens)::

    expression := call | resolver | reference
    call       := NAME "(" [arguments] ")"          ${uniform(0, 10)}
    resolver   := NAME ":" [arguments]              ${uniform: 0, 10}   (OmegaConf style)
    reference  := KEY ("." KEY | "[" INT "]")*      ${robot.links[2].mass}
    arguments  := argument ("," argument)* [","]
    argument   := [NAME "="] value
    value      := NUMBER | STRING | list | true | false | null
    list       := "[" [value ("," value)* [","]] "]"

NUMBER is a decimal int or float (``3``, ``-2.5``, ``1e-4``); ``inf`` and ``nan`` are refused.
STRING is quoted with ``'`` or ``"``; a backslash escapes the next character (``\\n``, ``\\t`` and
``\\r`` mean newline, tab and carriage return). ``True``/``False``/``None`` are accepted as well.

A string value of a scenario is read as follows:

* no ``${`` in it: a constant, kept as written;
* exactly one ``${...}`` (blanks around it ignored): a distribution or a reference, and the value
  is what it samples or refers to, with its own type;
* ``${...}`` mixed with other text: a text template. Only references may appear in it; each is
  replaced by its value written as text (``"${robot.name}_v2"``). A distribution inside text is an
  error, because the sampled number would lose its type;
* ``\\${`` is a literal ``${`` and is not parsed (``"cost: \\${5}"`` reads ``"cost: ${5}"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[^\s.\[\](){}$:,'\"=\\]+")
_INDEX = re.compile(r"\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}


class Problem(Exception):
    """A fault found in one value's text, at ``index`` (0-based) where known.

    The scenario turns it into a :class:`~runlab.ScenarioError` that also names the key path.
    """

    def __init__(self, rule: str, index: int | None = None, *, syntax: bool = False) -> None:
        super().__init__(rule)
        self.rule = rule
        self.index = index
        self.syntax = syntax


@dataclass(frozen=True)
class Argument:
    """One argument value and where it starts in the text."""

    value: Any
    index: int


@dataclass(frozen=True)
class Call:
    """``${name(args)}`` or ``${name: args}``; ``index`` is where the name starts."""

    name: str
    index: int
    args: tuple[Argument, ...]
    kwargs: tuple[tuple[str, Argument], ...]


@dataclass(frozen=True)
class Reference:
    """``${a.b[2].c}``: the keys to walk from the scenario's root."""

    keys: tuple[str | int, ...]
    index: int
    source: str


@dataclass(frozen=True)
class Template:
    """Text with references in it; the ``str`` parts are literal text."""

    parts: tuple[str | Reference, ...]


def parse_string(
    text: str, check_name: Callable[[str, int], None] | None = None
) -> Call | Reference | Template | None:
    """Parse a string value; ``None`` means a plain constant (no ``${`` in it).

    ``check_name(name, index)`` is called on each call's name before its arguments are read, so
    that an unknown name is reported as such rather than as a fault in its arguments.

    Raises:
        Problem: the text is malformed, or a distribution is embedded in other text.
    """
    if "${" not in text:
        return None
    parts: list[str | Call | Reference] = []
    starts: list[int] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            if literal:
                parts.append("".join(literal))
                starts.append(-1)
                literal = []
            starts.append(i)
            expr, i = _Parser(text, check_name).expression(i)
            parts.append(expr)
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
        starts.append(-1)
    core = [p for p in parts if not (isinstance(p, str) and not p.strip())]
    if len(core) == 1 and not isinstance(core[0], str):
        return core[0]
    template: list[str | Reference] = []
    for part, start in zip(parts, starts, strict=True):
        if isinstance(part, Call):
            raise Problem(
                f"distribution {part.name}(...) is part of a longer text; a distribution must "
                "be the whole value (only references such as ${robot.name} may sit inside text)",
                start,
            )
        template.append(part)
    return Template(tuple(template))


def render(value: Any) -> str:
    """Write a literal value (number, string, bool, None, list) in the argument syntax.

    >>> print(render([1, -2.5e-07, "a", None, True]))
    [1, -2.5e-07, 'a', null, true]
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write a non-finite number ({value!r}) as a literal")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        return f"'{escaped}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render(v) for v in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} as a literal")


class _Parser:
    """Recursive descent over one string; ``pos`` indexes into the whole value text."""

    def __init__(self, text: str, check_name: Callable[[str, int], None] | None) -> None:
        self.text = text
        self.pos = 0
        self.check_name = check_name

    # -- expressions --------------------------------------------------------------------------

    def expression(self, start: int) -> tuple[Call | Reference, int]:
        """Parse ``${...}`` starting at ``start`` (the ``$``); return it and the index after."""
        self.pos = start + 2
        self._blank()
        if self._peek() == "}":
            raise Problem(
                "empty ${}: expected a distribution such as uniform(0, 1) "
                "or a reference such as robot.mass",
                self.pos,
                syntax=True,
            )
        head = self.pos
        ref = self._reference()
        self._blank()
        nxt = self._peek()
        if nxt in ("(", ":"):
            if self.check_name is not None:
                self.check_name(ref.source, head)
            self.pos += 1
            closer = ")" if nxt == "(" else "}"
            args, kwargs = self._arguments(closer)
            if closer == ")":
                self._expect(")")
                self._blank()
            self._expect("}")
            return Call(ref.source, head, args, kwargs), self.pos
        self._expect("}", "'}', '(' or ':'" if len(ref.keys) == 1 else "'}'")
        return ref, self.pos

    def _reference(self) -> Reference:
        start = self.pos
        keys: list[str | int] = [self._key()]
        while True:
            c = self._peek()
            if c == ".":
                self.pos += 1
                keys.append(self._key())
            elif c == "[":
                self.pos += 1
                self._blank()
                m = _INDEX.match(self.text, self.pos)
                if m is None:
                    self._fail("a list index (0, 1, 2, ...)")
                self.pos = m.end()
                self._blank()
                self._expect("]")
                keys.append(int(m.group()))
            else:
                return Reference(tuple(keys), start, self.text[start : self.pos])

    def _key(self) -> str:
        m = _KEY.match(self.text, self.pos)
        if m is None:
            self._fail("a distribution name or a key")
        self.pos = m.end()
        return m.group()

    # -- arguments ----------------------------------------------------------------------------

    def _arguments(
        self, closer: str
    ) -> tuple[tuple[Argument, ...], tuple[tuple[str, Argument], ...]]:
        args: list[Argument] = []
        kwargs: list[tuple[str, Argument]] = []
        self._blank()
        while self._peek() != closer:
            start = self.pos
            name = _NAME.match(self.text, self.pos)
            after = self._skip_blank(name.end()) if name else -1
            if name and self.text.startswith("=", after):
                self.pos = after + 1
                if any(k == name.group() for k, _ in kwargs):
                    raise Problem(f"keyword argument {name.group()!r} given twice", start)
                kwargs.append((name.group(), Argument(self._value(), start)))
            else:
                if kwargs:
                    raise Problem("positional argument after keyword arguments", start, syntax=True)
                args.append(Argument(self._value(), start))
            self._blank()
            if self._peek() == ",":
                self.pos += 1
                self._blank()
            elif self._peek() != closer:
                self._fail(f"',' or '{closer}'")
        return tuple(args), tuple(kwargs)

    def _value(self) -> Any:
        self._blank()
        c = self._peek()
        start = self.pos
        if c == "[":
            return self._list()
        if c in ("'", '"'):
            return self._string()
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            if self._peek() and self._peek() in _WORD_CHARS:
                self.pos = start
                self._fail("a number")
            return _number(number.group(), start)
        word = _NAME.match(self.text, self.pos)
        if word:
            w = word.group()
            if w in _CONSTANTS:
                self.pos = word.end()
                return _CONSTANTS[w]
            if w.lower() in ("inf", "infinity", "nan"):
                raise Problem(f"non-finite number {w!r} is not allowed", start)
            raise Problem(f"unquoted text {w!r}; quote strings, e.g. '{w}'", start, syntax=True)
        self._fail("a value (number, 'string', [list], true, false or null)")

    def _list(self) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self._blank()
        while self._peek() != "]":
            items.append(self._value())
            self._blank()
            if self._peek() == ",":
                self.pos += 1
                self._blank()
            elif self._peek() != "]":
                self._fail("',' or ']'")
        self.pos += 1
        return items

    def _string(self) -> str:
        start = self.pos
        quote = self.text[start]
        out: list[str] = []
        i = start + 1
        while i < len(self.text):
            ch = self.text[i]
            if ch == quote:
                self.pos = i + 1
                return "".join(out)
            if ch == "\\" and i + 1 < len(self.text):
                out.append(_ESCAPES.get(self.text[i + 1], self.text[i + 1]))
                i += 2
            else:
                out.append(ch)
                i += 1
        raise Problem(f"unterminated string: no closing {quote}", start, syntax=True)

    # -- characters ---------------------------------------------------------------------------

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_blank(self, i: int) -> int:
        while i < len(self.text) and self.text[i].isspace():
            i += 1
        return i

    def _blank(self) -> None:
        self.pos = self._skip_blank(self.pos)

    def _expect(self, char: str, expected: str | None = None) -> None:
        if self._peek() != char:
            self._fail(expected or f"'{char}'")
        self.pos += 1

    def _fail(self, expected: str) -> NoReturn:
        c = self._peek()
        found = repr(c) if c else "the end of the text"
        raise Problem(f"expected {expected}, found {found}", self.pos, syntax=True)


def _number(token: str, index: int) -> int | float:
    if "." not in token and "e" not in token and "E" not in token:
        try:
            return int(token)
        except ValueError:  # past Python's limit on int digits
            raise Problem(f"integer with {len(token)} digits is too long", index) from None
    value = float(token)
    if not math.isfinite(value):
        raise Problem(f"number {token} is too large (not finite)", index)
    return value
