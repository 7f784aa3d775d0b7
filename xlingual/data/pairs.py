"""Translation pairs for contrastive alignment and diagnostics.

Layouts: line-aligned files (Tatoeba: ``tatoeba.spa-eng.spa`` / ``tatoeba.spa-eng.eng``,
found from a folder and the language), a two-column TSV (English first), or a hub dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..languages import iso639_3, normalize_language
from .textfile import decode_utf8, read_lines


@dataclass
class TranslationPairs:
    """``source[i]`` (English) translates to ``target[i]`` (in ``language``)."""

    source: list[str]
    target: list[str]
    language: str
    origin: str

    def __len__(self) -> int:
        return len(self.source)

    def head(self, limit: int | None) -> TranslationPairs:
        if limit is None or limit >= len(self):
            return self
        return TranslationPairs(self.source[:limit], self.target[:limit], self.language, f"{self.origin}[:{limit}]")


def read_aligned(source_path: Path, target_path: Path, language: str) -> TranslationPairs:
    """Two line-aligned files; unequal line counts and empty lines are errors naming the file."""
    source, target = read_lines(source_path), read_lines(target_path)
    if len(source) != len(target):
        raise DataError(f"{source_path} has {len(source)} lines but {target_path} has {len(target)}: "
                        "translation pairs must be line-aligned")
    for path, lines in ((source_path, source), (target_path, target)):
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise DataError(f"{path}:{number}: empty line in a translation-pair file")
    if not source:
        raise DataError(f"{target_path}: no translation pairs (the files are empty)")
    return TranslationPairs(source, target, language, f"{target_path.with_suffix('')}.{{eng,{target_path.suffix[1:]}}}")


def read_tsv_pairs(path: Path, language: str) -> TranslationPairs:
    """A TSV whose first column is English and second the translation (no header)."""
    if not path.is_file():
        raise DataError(f"translation-pair file not found: {path}")
    source, target = [], []
    text = decode_utf8(path.read_bytes(), path)
    for number, line in enumerate(text.split("\n"), start=1):
        row = line.rstrip("\r").split("\t")
        if not line.strip():
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise DataError(f"{path}:{number}: expected two non-empty tab-separated columns (English, translation)")
        source.append(row[0])
        target.append(row[1])
    if not source:
        raise DataError(f"{path}: no translation pairs (the file is empty)")
    return TranslationPairs(source, target, language, str(path))


def load_pairs(root: str | Path, language: str, source_language: str = "english") -> TranslationPairs:
    """Pairs for ``language`` from a Tatoeba-style folder, a TSV file, or a ``{language}`` path template."""
    language = normalize_language(language)
    src3, tgt3 = iso639_3(source_language), iso639_3(language)
    text = str(root)
    if "{language}" in text or "{iso3}" in text:
        try:
            path = Path(text.format(language=language, iso3=tgt3))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"alignment.pairs.root: invalid template {text!r} ({type(exc).__name__}: {exc}); "
                              "placeholders allowed: {language}, {iso3}") from None
        return read_tsv_pairs(path, language)
    path = Path(root)
    if path.is_file():
        return read_tsv_pairs(path, language)
    if not path.is_dir():
        raise DataError(f"translation-pair folder not found: {path}")
    stem = path / f"tatoeba.{tgt3}-{src3}"
    source_file, target_file = Path(f"{stem}.{src3}"), Path(f"{stem}.{tgt3}")
    if not target_file.is_file():
        found = sorted({p.name.split(".")[1] for p in path.glob("tatoeba.*-*.*")})
        raise DataError(f"{path}: no translation pairs for '{language}' ({target_file.name}); found: "
                        f"{', '.join(found) or 'none'}")
    return read_aligned(source_file, target_file, language)
