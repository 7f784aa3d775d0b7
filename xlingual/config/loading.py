"""Loading a recipe: the file, then the overrides, then conversion and validation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .overrides import (
    _YAML_VALUE_ERRORS,
    _DuplicateJsonKey,
    _json_object,
    _yaml_load,
    _yaml_problem,
    apply_override,
    override_list,
)
from .recipe import RecipeConfig


def load_recipe_dict(path: str | Path | None, overrides: str | Sequence[str] = ()) -> dict[str, Any]:
    """Read a recipe file into plain data and apply overrides (no type checks yet)."""
    overrides = override_list(overrides)
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"recipe {path} is a folder; give a recipe YAML file (see recipes/)")
        if not path.is_file():
            raise ConfigError(f"recipe file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            loaded = _yaml_load(text) if path.suffix != ".json" else json.loads(text, object_pairs_hook=_json_object)
        except yaml.YAMLError as exc:
            problem, mark = _yaml_problem(exc)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}:{where} invalid YAML: {problem}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {exc.lineno} invalid JSON: {exc.msg}") from None
        except _DuplicateJsonKey as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
        except _YAML_VALUE_ERRORS as exc:
            raise ConfigError(f"{path}: invalid value in the recipe ({type(exc).__name__}: {exc})") from None
        if loaded is None or loaded == {}:
            raise ConfigError(f"{path}: the recipe is empty; start from one in recipes/ (every setting at its "
                              "default is rarely what you want)")
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a recipe must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
        data.setdefault("name", path.stem)
    for assignment in overrides:
        apply_override(data, assignment)
    return data


def load_recipe(path: str | Path | None, overrides: str | Sequence[str] = ()) -> RecipeConfig:
    """Load a recipe YAML/JSON file, apply ``--set`` overrides, and validate it. One override may be given as a
    string (``"training.epochs=3"``), several as a list."""
    data = load_recipe_dict(path, overrides)
    try:
        return RecipeConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None
