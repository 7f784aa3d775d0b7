"""Plain data ⇄ typed sections: the conversion engine every section goes through, and shared checks.

A section type may convert itself (LossConfig, whose objective settings sit flat beside the common keys):
it defines ``__config_convert__(value, key)`` (a classmethod) and ``__config_plain__()``.
"""

from __future__ import annotations

import copy
import dataclasses
import string
import types
import typing
from typing import Any, Literal

from ..errors import ConfigError, did_you_mean


class Section:
    """Base of the recipe's sections. :meth:`validate` checks a section and returns a normalised copy (full
    language names, defaults filled in); the section it is called on never changes. A section's own rules
    are its ``_normalize``, which runs on that copy."""

    def validate(self):
        checked = copy.deepcopy(self)
        checked._normalize()
        return checked

    def _normalize(self) -> None:
        """Check this section's values and normalise them in place (only ever on a copy)."""


# --------------------------------------------------------------------------- checks


def check_template(template: str, key: str, fields: tuple[str, ...]) -> None:
    """Refuse a path template with unbalanced braces or a ``{placeholder}`` other than ``fields``."""
    allowed = ", ".join("{" + name + "}" for name in fields)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{key}: invalid template {template!r} ({exc}); placeholders allowed: {allowed}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields or spec or conversion:
            raise ConfigError(
                f"{key}: unknown placeholder {{{name}}} in {template!r}{did_you_mean(name, fields)}; "
                f"placeholders allowed: {allowed} (write {{{{ and }}}} for literal braces)"
            )


def _check_positive(section: Any, where: str, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(section, name)
        if value is not None and value < 1:
            raise ConfigError(f"{where}.{name}: must be a positive integer or null, got {value}")


# --------------------------------------------------------------------------- parsing


def _plain(value: Any) -> Any:
    """A config object as plain data (what YAML holds): dataclasses as mappings, losses flat."""
    if hasattr(value, "__config_plain__"):
        return _plain(value.__config_plain__())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``."""
    where = key or "recipe"
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if value is None:
        raise ConfigError(f"{where}: must not be null")
    if hasattr(tp, "__config_convert__") and not isinstance(value, tp):
        return tp.__config_convert__(value, where)
    if dataclasses.is_dataclass(tp):
        names = [f.name for f in dataclasses.fields(tp)]
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of settings such as {{{names[0]}: ...}}, got "
                              f"{type(value).__name__} {value!r}")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for name, sub in value.items():
            sub_key = f"{key}.{name}" if key else str(name)
            if name not in names:
                prefix = f"{key}." if key else ""
                suggestion = did_you_mean(name, names)
                hint = suggestion.replace("'", f"'{prefix}", 1) if suggestion else ""
                raise ConfigError(f"unknown key '{sub_key}'{hint}; valid keys here: {', '.join(names)}")
            kwargs[name] = _convert(hints[name], sub, sub_key)
        return tp(**kwargs)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if isinstance(value, bool):  # YAML 1.1 reads a bare no/off/yes/on as a bool: take the word back
            words = [w for w in (("no", "off", "false") if not value else ("yes", "on", "true")) if w in allowed]
            value = words[0] if words else value
        if value not in allowed:
            raise ConfigError(
                f"{where}: '{value}' is not one of {', '.join(map(str, allowed))}{did_you_mean(value, allowed)}"
            )
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list such as [a, b], got {type(value).__name__} {value!r}")
        return [_convert(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_type, item_type = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping such as {{key: value}}, got {type(value).__name__} "
                              f"{value!r}")
        return {_convert(key_type, k, where): _convert(item_type, v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        try:
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError
            return int(as_float)
        except (ValueError, OverflowError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
        try:
            result = float(value)
        except (ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return result
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # a bug in xlingual, not user input
