"""Reader for the UMSAB folder layout: ``<root>/<language>/<split>_{text,labels}.txt``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import DataError
from ..labels import LabelScheme
from ..languages import dataset_names
from .examples import Examples, check_text
from .textfile import read_lines


def language_folder(root: Path, language: str, names: Mapping[str, str] | None = None) -> Path:
    """The folder of ``language`` under ``root``: its ``data.language_names`` entry, else ``spanish``, ``es``
    or ``spa``."""
    if not root.is_dir():
        raise DataError(f"data folder not found: {root} (set data.root to the folder holding one folder per language)")
    candidates = dataset_names(language, names)
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    hint = ("" if not found or (names and language in names)
            else f"; if one of them is {language}, map it with data.language_names, e.g. {{{language}: NAME}}")
    raise DataError(f"{root}: no folder for language '{language}' (found: {', '.join(found) or 'nothing'}); "
                    f"looked for {', '.join(candidates)}{hint}")


def read_umsab(root: str | Path, language: str, split: str, scheme: LabelScheme | None,
               names: Mapping[str, str] | None = None) -> Examples:
    """Read one language and split; ``scheme=None`` reads texts only (labels never opened)."""
    return read_text_label_files(language_folder(Path(root), language, names), split, scheme, language)


def read_text_label_files(folder: Path, split: str, scheme: LabelScheme | None, language: str) -> Examples:
    """``<folder>/<split>_text.txt`` with the line-aligned ``<split>_labels.txt`` (unless ``scheme`` is None)."""
    if not folder.is_dir():
        raise DataError(f"data folder not found: {folder}")
    text_path = folder / f"{split}_text.txt"
    if not text_path.is_file():
        found = sorted(p.name for p in folder.glob("*_text.txt"))
        raise DataError(f"{text_path}: split '{split}' not found (found: {', '.join(found) or 'no *_text.txt files'})")
    texts = read_lines(text_path)
    for number, text in enumerate(texts, start=1):
        check_text(text, f"{text_path}:{number}")
    if scheme is None:
        return Examples(texts, None, language, split, str(text_path))
    label_path = folder / f"{split}_labels.txt"
    raw_labels = read_lines(label_path)
    if len(raw_labels) != len(texts):
        raise DataError(
            f"{text_path} has {len(texts)} lines but {label_path} has {len(raw_labels)}: the files must be line-aligned"
        )
    kept_texts, labels = [], []
    for number, (text, raw) in enumerate(zip(texts, raw_labels, strict=True), start=1):
        label = scheme.encode(raw, f"{label_path}:{number}")
        if label is not None:
            kept_texts.append(text)
            labels.append(label)
    return Examples(kept_texts, labels, language, split, f"{folder}/{split}_{{text,labels}}.txt")
