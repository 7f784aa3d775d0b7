"""Paths in a recipe as typed and as resolved, so a run folder works from any directory.

Recipes use relative paths (``../shared/data/umsab``) and config.yaml keeps them as typed. A
relative path means something only next to the directory the run started in, so ``train``
records each local path also resolved against that directory (``paths.json`` in the run
folder and ``paths`` in results.json). ``evaluate`` reads config.yaml with those resolved
paths put back, and resolves its own ``--set`` paths against the directory it runs in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import apply_override, load_recipe_dict, override_list
from .layout import CONFIG

PATHS_FILE = "paths.json"


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value


def local_path_keys(data: dict[str, Any]) -> list[str]:
    """The dotted keys of a recipe (as plain data) that hold local paths or path templates."""
    keys = []
    if (_get(data, "data.format") or "umsab") != "hub":
        keys += ["data.root", "data.dev_root"]
    keys.append("alignment.unlabeled_target.root")
    keys.append("data.pseudo_labeled.root")
    keys.append("data.code_switch.dictionaries")
    if (_get(data, "alignment.pairs.format") or "auto") != "hub":
        keys.append("alignment.pairs.root")
    name = _get(data, "model.name")
    if isinstance(name, str) and Path(name).exists():  # a local encoder folder, not a hub id
        keys.append("model.name")
    return [key for key in keys if isinstance(_get(data, key), str) and _get(data, key)]


def resolve(path: str, base: str | Path) -> str:
    """``path`` made absolute against ``base`` (templates keep their ``{placeholders}``)."""
    return os.path.normpath(os.path.join(str(base), os.path.expanduser(path)))


def record_paths(data: dict[str, Any], base: str | Path | None = None) -> dict[str, Any]:
    """``{"cwd": ..., "paths": {key: {"typed": ..., "resolved": ...}}}`` for every local path in ``data``."""
    base = str(Path(base or os.getcwd()).resolve())
    return {"cwd": base, "paths": {key: {"typed": _get(data, key), "resolved": resolve(_get(data, key), base)}
                                   for key in local_path_keys(data)}}


def apply_recorded(data: dict[str, Any], record: dict[str, Any] | None) -> None:
    """Put the resolved form back into ``data`` (a run's config.yaml) wherever it still holds the typed form."""
    for key, entry in ((record or {}).get("paths") or {}).items():
        if isinstance(entry, dict) and _get(data, key) == entry.get("typed") and entry.get("resolved"):
            _set(data, key, entry["resolved"])


def yaml_comment(record: dict[str, Any]) -> str:
    """The same record as comment lines for the end of config.yaml (read by people; ignored by the loader)."""
    lines = [f"# Relative paths above are relative to {record['cwd']} (where the run started); resolved:"]
    lines += [f"#   {key}: {entry['resolved']}" for key, entry in record["paths"].items()]
    return "\n".join(lines) + "\n" if record["paths"] else ""


def run_recipe_data(run: str | Path, overrides: str | Sequence[str] = ()) -> dict[str, Any]:
    """A run's config.yaml as plain data with its recorded local paths (paths.json) put back, then ``overrides``
    applied: the run's paths resolve against where it started, the overrides' against the working directory."""
    run = Path(run)
    data = load_recipe_dict(run / CONFIG)
    paths = run / PATHS_FILE
    apply_recorded(data, json.loads(paths.read_text(encoding="utf-8")) if paths.is_file() else None)
    for assignment in override_list(overrides):
        apply_override(data, assignment)
    return data
