"""A scenario spec compiled into a tree of nodes, and the resolution of its references.

A spec is nested mappings and lists. Mapping keys are non-empty strings without ``.``, ``[`` or
``]`` (those write key paths such as ``robot.links[2].mass``). Leaves are constants (str, int,
float, bool, None; ``inf`` and ``nan`` are kept as written), distributions, references or text
templates (see :mod:`runlab.scenario._syntax`). Tuples are read as lists and NumPy scalars as
Python numbers.

References are absolute key paths. They may point at a constant, a distribution (its sampled
value), a whole subtree (copied, with its own references resolved), another reference (chains are
followed), or into a vector distribution's draw by index (``${start[0]}`` of a ``uniform_3d``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runlab._errors import ScenarioError
from runlab.scenario._distributions import Distribution, bind, check_name
from runlab.scenario._syntax import Call, Problem, Reference, parse_string

MAX_DEPTH = 100
_FORBIDDEN_IN_KEYS = ".[]"


@dataclass(frozen=True)
class ParamNode:
    dist: Distribution


@dataclass(frozen=True)
class RefNode:
    path: str
    text: str
    ref: Reference


@dataclass(frozen=True)
class TemplateNode:
    path: str
    text: str
    parts: tuple[str | Reference, ...]


@dataclass(frozen=True)
class Placeholder:
    """Stands in for a sampled value while references are checked, before any sampling."""

    shape: tuple[int, ...]
    name: str


@dataclass
class Compiled:
    spec: dict[str, Any]  # the spec as plain data, strings as written
    root: dict[str, Any]  # the same shape, leaves replaced by nodes
    parameters: dict[str, Distribution] = field(default_factory=dict)


def format_path(keys: tuple[str | int, ...] | list[str | int]) -> str:
    """``("robot", "links", 2, "mass")`` → ``"robot.links[2].mass"``."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def key_error(
    path: str, text: str | None, rule: str, index: int | None = None, *, syntax: bool = False
) -> ScenarioError:
    """A ScenarioError naming the key path, the value text, the rule and the column."""
    column = None if index is None else index + 1
    message = f"scenario key {path or '(root)'}"
    if text is not None:
        message += f" = {text!r}"
    if syntax:
        message += f": syntax error at column {column}: {rule}"
    else:
        message += f": {rule}" + (f" (column {column})" if column is not None else "")
    if column is not None and text is not None and "\n" not in text:
        message += f"\n    {text}\n    {' ' * (column - 1)}^"
    return ScenarioError(message, path=path or None, text=text, column=column)


def compile_spec(spec: Mapping[Any, Any]) -> Compiled:
    """Check a spec and compile it; references are checked by a dry resolution."""
    compiled = Compiled({}, {})
    for key, value in spec.items():
        _check_key(key, ())
        compiled.spec[key], compiled.root[key] = _walk(value, (key,), compiled, 1)
    dry = {p: Placeholder(d.shape, d.name) for p, d in compiled.parameters.items()}
    Resolver(compiled.root, dry).resolve()
    return compiled


def _check_key(key: Any, parent: tuple[str | int, ...]) -> None:
    where = format_path(parent)
    if not isinstance(key, str):
        hint = ""
        if isinstance(key, bool) or key is None:
            hint = " (YAML reads unquoted yes/no/on/off/true/false/null keys so; quote the key)"
        raise key_error(
            where, None, f"keys must be strings, got {key!r} ({type(key).__name__}){hint}"
        )
    if not key or any(c in key for c in _FORBIDDEN_IN_KEYS):
        raise key_error(
            where,
            None,
            f"key {key!r} is not allowed: keys must be non-empty and must not contain "
            "'.', '[' or ']' (they write key paths; nest mappings instead of dotted keys)",
        )


def _walk(
    value: Any, keys: tuple[str | int, ...], compiled: Compiled, depth: int
) -> tuple[Any, Any]:
    if depth > MAX_DEPTH:
        raise key_error(format_path(keys), None, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        node: dict[str, Any] = {}
        for k, v in value.items():
            _check_key(k, keys)
            plain[k], node[k] = _walk(v, (*keys, k), compiled, depth + 1)
        return plain, node
    if isinstance(value, (list, tuple)):
        pairs = [_walk(v, (*keys, i), compiled, depth + 1) for i, v in enumerate(value)]
        return [p for p, _ in pairs], [n for _, n in pairs]
    if isinstance(value, str):
        text = str.__str__(value)  # a str subclass (an enum member, say) is kept as its text
        return text, _compile_string(text, format_path(keys), compiled)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _walk(value.tolist(), keys, compiled, depth)
    if value is None or type(value) in (bool, int, float):
        return value, value
    raise key_error(
        format_path(keys),
        None,
        f"unsupported value {value!r} ({type(value).__name__}); allowed: str, int, float, "
        "bool, None, lists and mappings of these",
    )


def _compile_string(text: str, path: str, compiled: Compiled) -> Any:
    try:
        parsed = parse_string(text, check_name)
        if parsed is None:
            return text
        if isinstance(parsed, Call):
            dist = bind(parsed, text, path)
            compiled.parameters[path] = dist
            return ParamNode(dist)
    except Problem as problem:
        raise key_error(path, text, problem.rule, problem.index, syntax=problem.syntax) from None
    if isinstance(parsed, Reference):
        return RefNode(path, text, parsed)
    if all(isinstance(p, str) for p in parsed.parts):
        return "".join(p for p in parsed.parts if isinstance(p, str))
    return TemplateNode(path, text, parsed.parts)


class Resolver:
    """Builds the resolved tree from sampled values, following references.

    Two stacks catch cycles: ``resolving`` holds the references whose values are being built,
    ``locating`` those being walked through on the way to another key. They are kept apart so
    that ``a: ${d}`` with ``d: {p: 1, q: ${a.p}}`` resolves (``a.p`` only needs where ``a``
    points, not its value) while ``a: ${b}``, ``b: ${a}`` does not.
    """

    def __init__(self, root: dict[str, Any], values: Mapping[str, Any]) -> None:
        self.root = root
        self.values = values
        self.memo: dict[str, Any] = {}
        self.resolving: list[str] = []
        self.locating: list[str] = []

    def resolve(self) -> dict[str, Any]:
        return {k: self.value(v) for k, v in self.root.items()}

    def value(self, node: Any) -> Any:
        kind = type(node)  # exact types: this runs for every value of every episode
        if kind is ParamNode:
            return self.values[node.dist.path]  # a fresh draw, placed once in the tree
        if kind is dict:
            return {k: self.value(v) for k, v in node.items()}
        if kind is list:
            return [self.value(v) for v in node]
        if kind is RefNode or kind is TemplateNode:
            return copy.deepcopy(self.follow(node))
        return node

    def follow(self, node: RefNode | TemplateNode) -> Any:
        """The value of a reference or template, computed once per resolution."""
        if node.path in self.memo:
            return self.memo[node.path]
        _enter(self.resolving, node)
        try:
            if isinstance(node, RefNode):
                result = self.lookup(node.ref, node)
            else:
                result = "".join(
                    p if isinstance(p, str) else _text(self.lookup(p, node)) for p in node.parts
                )
        finally:
            self.resolving.pop()
        self.memo[node.path] = result
        return result

    def lookup(self, ref: Reference, origin: RefNode | TemplateNode) -> Any:
        node, plain = self.locate(ref, origin)
        return node if plain else self.value(node)

    def locate(self, ref: Reference, origin: RefNode | TemplateNode) -> tuple[Any, bool]:
        """Walk ``ref``'s keys: the spec node reached, or (flag True) resolved data."""
        node: Any = self.root
        plain = False
        for depth, key in enumerate(ref.keys):
            if not plain:
                node, plain = self.through(node)
            try:
                node = _step(node, key, format_path(ref.keys[:depth]))
            except Problem as problem:
                raise key_error(
                    origin.path, origin.text, f"reference {ref.source}: {problem.rule}", ref.index
                ) from None
        return node, plain

    def through(self, node: Any) -> tuple[Any, bool]:
        """Pass a parameter, reference or template met inside a key path."""
        if isinstance(node, ParamNode):
            return self.values[node.dist.path], True
        if isinstance(node, TemplateNode):
            return self.follow(node), True
        if not isinstance(node, RefNode):
            return node, False
        if node.path in self.memo:
            return self.memo[node.path], True
        _enter(self.locating, node)
        try:
            target, plain = self.locate(node.ref, node)
            return (target, plain) if plain else self.through(target)
        finally:
            self.locating.pop()


def _enter(stack: list[str], node: RefNode | TemplateNode) -> None:
    if node.path in stack:
        cycle = [*stack[stack.index(node.path) :], node.path]
        raise key_error(
            node.path,
            node.text,
            f"reference cycle {' -> '.join(cycle)}: a value cannot depend on itself",
        )
    stack.append(node.path)


def _step(node: Any, key: str | int, where: str) -> Any:
    here = where or "the scenario root"
    if isinstance(node, dict):
        if isinstance(key, int) or key not in node:
            keys = ", ".join(list(node)[:20]) or "none"
            missing = f"[{key}]" if isinstance(key, int) else repr(key)
            raise Problem(f"unknown key {missing} in {here} (its keys: {keys})")
        return node[key]
    index = key if isinstance(key, int) else (int(key) if key.isdigit() else None)
    if isinstance(node, list):
        if index is None or index >= len(node):
            raise Problem(f"{here} is a list of {len(node)} items; {key!r} is not an index in it")
        return node[index]
    if isinstance(node, Placeholder):
        if not node.shape:
            raise Problem(
                f"{here} is a single draw of {node.name}; only list-valued draws "
                "(_1d/_2d/_3d forms or size=) can be indexed"
            )
        if index is None or index >= node.shape[0]:
            raise Problem(f"{here} draws {node.shape[0]} values; {key!r} is not an index in it")
        return Placeholder(node.shape[1:], node.name)
    kind = "str" if isinstance(node, TemplateNode) else type(node).__name__
    raise Problem(f"{here} is a {kind} value, not a mapping or list")


def _text(value: Any) -> str:
    """A referenced value written into a text template."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=lambda _: "", allow_nan=True)
