"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A run killed at any moment leaves either the old file or the new one, never half of
one, so a results.json that exists is always complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def looks_local(name: str) -> bool:
    """A model name that means a folder on this machine (a path, or something that exists) rather than a hub id."""
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


def json_ready(value: Any) -> Any:
    """Plain, strict JSON data: NaN and infinity as null, numpy scalars and arrays as Python numbers and lists,
    tuples as lists, paths as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):  # numpy scalar or array
        return json_ready(value.tolist())
    return value


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def atomic_save_tensors(tensors: dict, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """A safetensors file written atomically (tensors made contiguous on the CPU first)."""
    from safetensors.torch import save

    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    return atomic_write_bytes(path, data)
