"""One writer per folder: a lock held while a process writes a run folder, an evaluation or an export.

Two ``xlingual train`` commands (or a train and a soup, or two sweep jobs) pointed at one folder would
interleave their files. The lock is ``filelock``'s (the one ``huggingface_hub`` uses): an OS lock on
``<folder>/.xlingual-lock``, which the kernel releases when its process dies, even by ``kill -9``. Beside
it, ``.xlingual-lock.json`` names the holder (pid, host, command, start time) so that a second writer is
told who has the folder; a holder record left by a process that is gone is reported as taken over.
Locks on network filesystems are only as good as the filesystem's own locking.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from .errors import RunFolderError
from .io import atomic_write_json
from .run_folder import LOCK, LOCK_HOLDER

logger = logging.getLogger("xlingual")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _holder_text(record: dict) -> str:
    return (f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {record.get('started', '?')}: "
            f"{record.get('command') or '?'}")


def _read_holder(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _paths(folder: Path, lock_dir: str | Path | None, name: str | None) -> tuple[Path, Path]:
    base = Path(lock_dir) if lock_dir is not None else folder
    # beside a folder: ".<name>.xlingual.lock", not ".<name>.xlingual-*", which names an interrupted write's leftovers
    lock_path = base / (f".{name}.xlingual.lock" if name else LOCK)
    holder_path = lock_path.with_name(lock_path.name + ".json") if name else base / LOCK_HOLDER
    return lock_path, holder_path


def _refusal(folder: Path, holder_path: Path) -> RunFolderError:
    holder = _read_holder(holder_path)
    who = _holder_text(holder) if holder else "another process"
    return RunFolderError(f"{folder} is being written by {who}; wait until it finishes, or choose another folder")


def check_unlocked(folder: str | Path, *, lock_dir: str | Path | None = None, name: str | None = None) -> None:
    """Refuse at once if another process holds ``folder``'s lock (before any data or model is read); creates
    nothing where no lock file exists."""
    folder = Path(folder)
    lock_path, holder_path = _paths(folder, lock_dir, name)
    if not lock_path.is_file():
        return
    lock = filelock.FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _refusal(folder, holder_path) from None
    lock.release()


@contextmanager
def folder_lock(folder: str | Path, command: str = "", *, lock_dir: str | Path | None = None,
                name: str | None = None) -> Iterator[None]:
    """Hold the write lock of ``folder`` for the ``with`` block, or refuse with one line naming the holder.

    The lock files live in ``folder`` (created if missing), or in ``lock_dir`` as ``.<name>.xlingual.lock``
    for a folder that is replaced whole by a rename (an export). ``command`` is what the holder record says.
    """
    folder = Path(folder)
    lock_path, holder_path = _paths(folder, lock_dir, name)
    created = not lock_path.parent.exists()
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _refusal(folder, holder_path) from None
    try:
        previous = _read_holder(holder_path)
        if previous:  # a holder that released cleanly removes its record: this one died while writing
            if previous.get("host") != socket.gethostname():
                gone = "ran on another host (whether it still runs cannot be told from here; its lock was free)"
            else:
                gone = "is no longer running" if not _alive(previous.get("pid")) else "released its lock"
            logger.warning("%s: took over the lock of %s, which %s (what it was writing may be unfinished)",
                           folder, _holder_text(previous), gone)
        atomic_write_json(holder_path, {"pid": os.getpid(), "host": socket.gethostname(),
                                        "command": command or " ".join(sys.argv),
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        yield
    finally:
        holder_path.unlink(missing_ok=True)
        lock.release()
        if created and [p.name for p in lock_path.parent.iterdir()] == [lock_path.name]:
            lock_path.unlink(missing_ok=True)  # nothing was written: the folder this lock made goes again
            lock_path.parent.rmdir()
