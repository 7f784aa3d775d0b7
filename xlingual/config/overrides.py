"""Reading recipe files and ``--set key=value`` overrides: strict YAML (no duplicate keys), JSON, dotted paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from ..errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (not the last one wins)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hashable = key in seen
            except TypeError:  # an unhashable key: construct_mapping reports it
                break
            if hashable:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, Any]:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return problem, mark


# What PyYAML (and json) raise, besides YAMLError, for well-formed text with an impossible value: a date such as
# 2020-13-45, ``!!bool maybe``, ``!!int``, ``!!timestamp`` with no value (AttributeError inside PyYAML), an
# integer of 5000 digits, nesting too deep to parse.
_YAML_VALUE_ERRORS = (ValueError, LookupError, TypeError, ArithmeticError, RecursionError, AttributeError)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicate = next((key for key in keys if keys.count(key) > 1), None)
    if duplicate is not None:
        raise _DuplicateJsonKey(f"duplicate key '{duplicate}'")
    return dict(pairs)


class _DuplicateJsonKey(ValueError):
    pass


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``section.key=value`` override in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. training.learning_rate=2e-5")
    dotted, raw = assignment.split("=", 1)
    parts = [p for p in dotted.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {assignment!r}: the key is empty")
    try:
        value = _yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:  # e.g. data.drop_labels=[NONE: an unclosed list is a mistake, not text
        problem, mark = _yaml_problem(exc)
        where = f" at character {mark.column + 1}" if mark is not None and mark.line == 0 else ""
        raise ConfigError(f"--set {dotted.strip()}: invalid YAML value {raw!r}{where}: {problem} (quote text "
                          f"that is not YAML, e.g. {dotted.strip()}='\"...\"')") from None
    except _YAML_VALUE_ERRORS:  # e.g. 2020-13-45, a YAML date with no such month: keep the text
        value = raw
    if isinstance(value, dict) and not raw.lstrip().startswith("{"):
        # "query: " parses as the mapping {query: None}; a mapping on the command line needs braces,
        # so this was meant as text (e5's text_prefix) and is kept verbatim, trailing space included
        value = raw
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def override_list(overrides: str | Sequence[str] | None) -> list[str]:
    """``--set`` overrides as a list: one string is one override (not a sequence of characters)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    items = list(overrides)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"overrides: each must be a 'KEY=VALUE' string, got {type(item).__name__} {item!r}")
    return items
