"""In-memory data: ``datasets.Dataset``/``DatasetDict``, pandas DataFrames and Python lists as :class:`Examples`.

Column names are given as in SetFit: ``column_mapping={"review": "text", "stars": "label", "lang": "language"}``
maps the data's columns to xlingual's ``text``, ``label`` and ``language`` (translation pairs: ``source``,
``target``). Accepted forms of one table: a Dataset, a DataFrame, a mapping of column → list, a list of row
mappings, a ``(texts, labels)`` pair, or a list of texts (unlabeled). Several languages are given by a
``language`` column or as a mapping language → table (a DatasetDict keyed by language included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError, DataError, did_you_mean
from ..labels import LabelScheme
from ..languages import normalize_language
from .examples import Examples, check_text
from .pairs import TranslationPairs

Columns = dict[str, list]


def _kind(data: Any) -> str:
    module = type(data).__module__.split(".")[0]
    if module == "datasets" and type(data).__name__ == "Dataset":
        return "Dataset"
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return "DataFrame"
    return type(data).__name__


def columns_of(data: Any, where: str) -> tuple[Columns, str]:
    """The table's columns as lists, and a description of it for errors and results.json."""
    kind = _kind(data)
    if kind == "Dataset":
        columns = {name: data[name] for name in data.column_names}
        _class_names(data, columns)
    elif kind == "DataFrame":
        columns = {str(name): data[name].tolist() for name in data.columns}
    elif isinstance(data, Mapping) and all(isinstance(v, Sequence) and not isinstance(v, str) for v in data.values()):
        columns = {str(k): list(v) for k, v in data.items()}
    elif isinstance(data, tuple) and len(data) == 2 and all(isinstance(part, Sequence) for part in data):
        columns = {"text": list(data[0]), "label": list(data[1])}
    elif isinstance(data, Sequence) and not isinstance(data, str) and all(isinstance(t, str) for t in data):
        columns = {"text": list(data)}
    elif isinstance(data, Sequence) and not isinstance(data, str) and all(isinstance(r, Mapping) for r in data):
        names = list(dict.fromkeys(k for row in data for k in row))
        columns = {str(name): [row.get(name) for row in data] for name in names}
    else:
        raise DataError(f"{where}: expected a datasets.Dataset, a pandas DataFrame, a mapping of columns, a list of "
                        f"rows, (texts, labels) or a list of texts, got {type(data).__name__}")
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise DataError(f"{where}: columns of different lengths: "
                        f"{ {name: len(values) for name, values in columns.items()} }")
    rows = lengths.pop() if lengths else 0
    return columns, f"in-memory {kind} ({rows} rows)"


def _class_names(dataset: Any, columns: Columns) -> None:
    """A ClassLabel column becomes its class names, which the label scheme matches by name."""
    for name, feature in dataset.features.items():
        names = getattr(feature, "names", None)
        if type(feature).__name__ == "ClassLabel" and names:
            columns[name] = [names[v] if isinstance(v, int) and v >= 0 else v for v in columns[name]]


def _renamed(columns: Columns, mapping: Mapping[str, str] | None, wanted: Sequence[str], where: str) -> Columns:
    """``columns`` with ``mapping`` applied. One mapping serves every table of a call (SetFit's habit), so an
    entry whose column this table lacks is skipped, unless the table then lacks what it maps to and needs
    (``wanted``): that is named as the mapping's column, the one the user wrote."""
    for source, target in (mapping or {}).items():
        if source in columns:
            columns[target] = columns.pop(source)
        elif target in wanted and target not in columns:
            hint = did_you_mean(source, list(columns))
            raise DataError(f"{where}: column_mapping names a column '{source}' (for '{target}') that is not in the "
                            f"data{hint}; columns: {list(columns)}")
    for name in wanted:
        if name not in columns:
            hint = did_you_mean(name, list(columns))
            raise DataError(f"{where}: no '{name}' column{hint}; columns: {list(columns)} (map yours with "
                            f"column_mapping={{'<your column>': '{name}'}})")
    return columns


def _column_names(data: Any, column_mapping: Mapping[str, str] | None, where: str) -> set[str]:
    """The column names a table (or a mapping language → table) has, for :func:`check_column_mapping`."""
    if data is None or isinstance(data, tuple) or (isinstance(data, list) and all(isinstance(t, str) for t in data)):
        return set()  # (texts, labels) and a list of texts carry no names of the user's
    if _by_language(data, column_mapping):
        return {name for table in data.values() for name in _column_names(table, column_mapping, where)}
    if isinstance(data, Sequence) and data and all(isinstance(p, tuple) for p in data):
        return set()  # translation pairs as (english, translation) tuples
    return set(columns_of(data, where)[0])


def check_column_mapping(column_mapping: Mapping[str, str] | None, tables: Mapping[str, Any]) -> None:
    """Refuse a ``column_mapping`` entry that names a column none of the call's tables has (a typo would
    otherwise be skipped in silence, and a ``language`` column fall back to the default language)."""
    if not column_mapping:
        return
    found = {name for where, table in tables.items() for name in _column_names(table, column_mapping, where)}
    if not found:
        return  # nothing but (texts, labels) and lists of texts: the mapping has nothing to name
    for source, target in column_mapping.items():
        if source not in found and target not in found:
            shown = "; ".join(f"{where}: {sorted(_column_names(table, column_mapping, where))}"
                              for where, table in tables.items() if table is not None)
            raise DataError(f"column_mapping names a column '{source}' (for '{target}') that is not in the data"
                            f"{did_you_mean(source, found)}; columns: {shown}")


def examples_by_language(data: Any, split: str, scheme: LabelScheme | None, column_mapping: Mapping[str, str] | None,
                         default_language: str | None, where: str) -> dict[str, Examples]:
    """Examples per language: from a ``language`` column, a mapping language → table, or ``default_language``.

    ``scheme=None`` reads texts only (unlabeled text: labels are never read)."""
    if _by_language(data, column_mapping):
        result: dict[str, Examples] = {}
        for language, table in data.items():
            language = normalize_language(str(language), field=f"{where} key")
            result.update(examples_by_language(table, split, scheme, column_mapping, language, f"{where}[{language}]"))
        return result
    columns, origin = columns_of(data, where)
    wanted = ["text"] + (["label"] if scheme is not None else [])
    columns = _renamed(columns, column_mapping, wanted, where)
    if "language" in columns:
        languages = [normalize_language(str(value), field=f"{where} language column") for value in columns["language"]]
    elif default_language is not None:
        languages = [default_language] * len(columns["text"])
    else:
        raise DataError(f"{where}: say which language each row is in: a 'language' column, or a mapping "
                        "language → data")
    rows: dict[str, tuple[list[str], list[int]]] = {}
    for index, language in enumerate(languages):
        row_where = f"{where} row {index}"
        text = columns["text"][index]
        if not isinstance(text, str):
            raise DataError(f"{row_where}: the text is {type(text).__name__} {text!r}, not a string")
        texts, labels = rows.setdefault(language, ([], []))
        if scheme is not None:
            label = scheme.encode(columns["label"][index], row_where)
            if label is None:
                continue
            labels.append(label)
        texts.append(check_text(text, row_where))
    if not rows:
        raise DataError(f"{where}: no examples")
    return {language: Examples(texts, labels if scheme is not None else None, language, split, origin)
            for language, (texts, labels) in rows.items()}


def _by_language(data: Any, column_mapping: Mapping[str, str] | None) -> bool:
    """A mapping language → table (a DatasetDict keyed by language included), rather than a mapping of columns."""
    if not isinstance(data, Mapping) or not data:
        return False
    columns = {"text", "label", "language", "source", "target", *(column_mapping or {})}
    if any(str(key) in columns for key in data):
        return False
    try:
        for key in data:
            normalize_language(str(key))
    except ConfigError:
        return False
    return True


def pairs_by_language(data: Any, column_mapping: Mapping[str, str] | None, where: str) -> dict[str, TranslationPairs]:
    """Translation pairs per language from a mapping language → table with ``source`` (English) and ``target``
    columns, or → a list of (english, translation) tuples."""
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected a mapping language → pairs, e.g. {{'spanish': [('I love it', 'Me "
                        "encanta')]}}")
    result = {}
    for language, table in data.items():
        language = normalize_language(str(language), field=f"{where} key")
        here = f"{where}[{language}]"
        if isinstance(table, Sequence) and table and all(isinstance(p, tuple) and len(p) == 2 for p in table):
            columns, origin = {"source": [p[0] for p in table], "target": [p[1] for p in table]}, \
                f"in-memory list ({len(table)} pairs)"
        else:
            columns, origin = columns_of(table, here)
            columns = _renamed(columns, column_mapping, ["source", "target"], here)
        source = [check_text(str(t), f"{here} row {i}") for i, t in enumerate(columns["source"])]
        target = [check_text(str(t), f"{here} row {i}") for i, t in enumerate(columns["target"])]
        if not source:
            raise DataError(f"{here}: no pairs")
        result[language] = TranslationPairs(source, target, language, origin)
    return result
