"""Atomic writes: a temp file (or folder) in the same folder, then rename.

A run killed at any moment leaves either the old file or the new one, never half of
one, so a results.json that exists is always complete. Folders (checkpoints, exports)
are written into a uniquely named hidden temp folder and renamed into place.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from .errors import NoSpaceError

NO_SPACE = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "the file-size limit (ulimit -f) is reached",
            errno.EDQUOT: "the disk quota is exceeded"}
"""The errors of a full disk, a file-size limit and a quota: a write fails, and so does the run, with one line."""
_RUST_OS_ERROR = re.compile(r"os error (\d+)")  # safetensors' writer reports the errno in its message


def _no_space(path: str | Path, code: int) -> NoSpaceError:
    return NoSpaceError(f"no space left while writing {path} ({NO_SPACE[code]}); the files written before are "
                        "intact: free space, then run again (--resume continues a training run)")


@contextmanager
def no_space_error(path: str | Path) -> Iterator[None]:
    """Turn a full disk (ENOSPC, EFBIG under ``ulimit -f``, EDQUOT) while writing ``path`` into one
    :class:`~xlingual.errors.NoSpaceError` line naming it; every other error passes unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        raise _no_space(path, exc.errno) from None
    except SafetensorError as exc:
        found = _RUST_OS_ERROR.search(str(exc))
        if found is None or int(found.group(1)) not in NO_SPACE:
            raise
        raise _no_space(path, int(found.group(1))) from None


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with no_space_error(path), os.fdopen(fd, "wb") as handle:
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
    # safetensors imports torch: only when weights are written
    from safetensors.torch import save

    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    return atomic_write_bytes(path, data)


# --------------------------------------------------------------------------- folders written whole


def new_temp_dir(target: str | Path) -> Path:
    """A fresh, uniquely named hidden folder beside ``target`` to write it in (nothing existing is touched)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.xlingual-tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the renamed folder private, unlike a plain mkdir
    return folder


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    # non-zero e.g. on a filesystem without RENAME_EXCHANGE: the caller falls back to two renames
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def keep_foreign_files(old: Path, new: Path, ours: set[str]) -> list[str]:
    """Copy into ``new`` every entry of ``old`` that is not one of ``ours`` (a file a user added), before
    ``new`` replaces ``old``: hard links where the filesystem allows (no bytes copied), else copies. The
    originals stay in ``old`` until the swap, so a run killed meanwhile loses nothing."""
    kept = []
    for path in sorted(old.iterdir()):
        if path.name in ours or (new / path.name).exists():
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.copytree(path, new / path.name, symlinks=True)
        else:
            try:
                os.link(path, new / path.name, follow_symlinks=False)
            except OSError:
                shutil.copy2(path, new / path.name, follow_symlinks=False)
        kept.append(path.name)
    return kept


def replace_dir(tmp: str | Path, target: str | Path) -> Path:
    """Move the finished folder ``tmp`` to ``target``; an existing ``target`` is swapped out, then removed.

    The caller has checked that ``target`` is absent, empty, or something it wrote and may replace. A run
    killed at any point leaves either the old folder or the new one at ``target`` (with two renames where
    the kernel cannot exchange, the old one waits in a hidden ``.<name>.xlingual-old-*`` folder meanwhile).
    """

    tmp, target = Path(tmp), Path(target)
    if not target.exists():
        os.rename(tmp, target)
        return target
    if not any(target.iterdir()):
        os.rename(tmp, target)  # rename(2) replaces an empty folder atomically
        return target
    if _exchange(tmp, target):
        shutil.rmtree(tmp)  # tmp now holds the old contents
        return target
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.xlingual-old-"))
    try:
        os.rename(target, old)
    except OSError:
        old.rmdir()  # only the empty placeholder this call made
        raise
    os.rename(tmp, target)
    shutil.rmtree(old)
    return target
