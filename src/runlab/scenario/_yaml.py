"""Reading scenario sources (YAML text or files) and writing scenario YAML.

Only PyYAML's safe loader is used, made strict about duplicate keys (PyYAML otherwise keeps the
last one silently). A ``str`` source is a file path when it is one line ending in ``.yaml`` or
``.yml``; any other ``str`` is YAML text. A :class:`os.PathLike` is always a file path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from runlab._errors import ScenarioError


def read_source(source: str | os.PathLike[str]) -> Any:
    """The plain data of a YAML file or text."""
    if isinstance(source, str) and not is_path(source):
        return parse_yaml(source, "scenario text")
    path = Path(source.strip() if isinstance(source, str) else source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from None
    return parse_yaml(text, str(path))


def is_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith((".yaml", ".yml"))


def parse_yaml(text: str, origin: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed"
        hint = ""
        if "mapping values are not allowed" in problem and "${" in text:
            hint = (
                " (a value containing ': ' must be quoted, e.g. "
                "x: '${uniform: 0, 10}', or written without the blank: ${uniform:0,10})"
            )
        raise ScenarioError(f"{origin}: invalid YAML{where}: {problem}{hint}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{origin}: invalid YAML: {exc}") from None


def dump_yaml(spec: dict[str, Any]) -> str:
    """YAML that reads back equal to ``spec``.

    Text is written as Unicode where PyYAML reads it back unchanged; PyYAML folds some characters
    (such as U+0085 NEL) into blanks when written raw, so such specs are written with escapes.
    """
    import yaml

    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, default_flow_style=False)
    if yaml.safe_load(text) != spec:
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=False, default_flow_style=False)
    return text


@functools.cache
def _strict_loader() -> type[Any]:
    import yaml

    class StrictSafeLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` may override on purpose
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {key!r}",
                        key_node.start_mark,
                    )
            return super().construct_mapping(node, deep=deep)

    return StrictSafeLoader
