"""Reader for CSV, TSV and JSON-lines files with configurable text, label and language columns.

Parsed with the standard library rather than ``datasets``' builders so that every bad
row is reported with its file and line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, did_you_mean
from ..labels import LabelScheme
from ..languages import ColumnLanguages, dataset_names
from .examples import Examples, check_text
from .textfile import decode_utf8


def resolve_template(template: str, language: str, split: str, names: Mapping[str, str] | None = None) -> Path:
    """Fill ``{language}`` (trying the ``data.language_names`` entry, then ``spanish``, ``es``, ``spa``)
    and ``{split}`` in a path template."""
    try:
        if "{language}" not in template:
            return Path(template.format(split=split))
        candidates = [Path(template.format(language=name, split=split)) for name in dataset_names(language, names)]
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"data.root: invalid path template {template!r} ({type(exc).__name__}: {exc}); "
                          "placeholders allowed: {language}, {split}") from None
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(f"data file not found for language '{language}', split '{split}': {candidates[0]}")


def _decode(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    return decode_utf8(path.read_bytes(), path)


def iter_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, row)`` for each record of a CSV, TSV or JSONL file."""
    text = _decode(path)
    if fmt == "jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
            except (ValueError, RecursionError) as exc:  # an integer of 5000 digits, nesting too deep
                raise DataError(f"{path}:{number}: invalid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
            yield number, row
        return
    delimiter = "\t" if fmt == "tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        if reader.fieldnames is None:
            raise DataError(f"{path}: the file is empty (a header row is needed)")
        for row in reader:
            if None in row:
                raise DataError(f"{path}:{reader.line_num}: more fields than the header has")
            if None in row.values():
                raise DataError(f"{path}:{reader.line_num}: fewer fields than the header has "
                                f"({sum(v is not None for v in row.values())} of {len(row)})")
            yield reader.line_num, row
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed {fmt.upper()} ({exc})") from None


def _column(row: dict[str, Any], column: str, path: Path, number: int, what: str) -> Any:
    if column not in row:
        raise DataError(
            f"{path}:{number}: no '{column}' column ({what}){did_you_mean(column, row)}; "
            f"columns: {', '.join(map(str, row))} (set data.{what})"
        )
    return row[column]


def read_tabular(
    template: str,
    fmt: str,
    language: str,
    split: str,
    scheme: LabelScheme | None,
    text_column: str = "text",
    label_column: str = "label",
    language_column: str | None = None,
    split_column: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Examples:
    """Read one language and split; ``scheme=None`` drops labels at load time.

    ``split_column`` keeps the rows whose value there is ``split`` (one file with several splits);
    ``names`` is ``data.language_names`` (the dataset's names of languages, in file names and the
    language column)."""
    if "{language}" not in template and language_column is None:
        raise ConfigError(
            "data.root: a single file for all languages needs data.language_column, "
            "or put {language} in the path template"
        )
    path = resolve_template(template, language, split, names)
    texts: list[str] = []
    labels: list[int] = []
    row_language = ColumnLanguages(language_column or "", names)
    for number, row in iter_rows(path, fmt):
        where = f"{path}:{number}"
        if split_column is not None and str(_column(row, split_column, path, number, "split_column")) != split:
            continue
        if language_column is not None and "{language}" not in template:
            value = _column(row, language_column, path, number, "language_column")
            if row_language(value, where) != language:
                continue
        text = _column(row, text_column, path, number, "text_column")
        if not isinstance(text, str):
            raise DataError(f"{where}: the text in column '{text_column}' is {type(text).__name__}, not a string")
        check_text(text, where)
        if scheme is not None:
            label = scheme.encode(_column(row, label_column, path, number, "label_column"), where)
            if label is None:
                continue
            labels.append(label)
        texts.append(text)
    if not texts:
        where = f" (rows with '{split}' in column '{split_column}')" if split_column else ""
        raise DataError(f"{path}: no examples for language '{language}', split '{split}'{where}")
    return Examples(texts, labels if scheme is not None else None, language, split, str(path))
