"""Reading plain text files line by line, with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError


def decode_utf8(raw: bytes, path: Path) -> str:
    """UTF-8 text without a byte-order mark; a DataError names the file and line of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({exc.reason}); re-encode the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file without line endings; a missing final newline is fine."""
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a text file")
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    lines = decode_utf8(path.read_bytes(), path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
