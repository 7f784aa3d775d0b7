"""Translation pairs for contrastive alignment and diagnostics.

Layouts: line-aligned files (Tatoeba: ``tatoeba.spa-eng.spa`` / ``tatoeba.spa-eng.eng``,
found from a folder and the language), a two-column TSV (English first), or a hub dataset
(``format="hub"``: a ``translation`` column of ``{code: text}`` as in the hub's translation
datasets, or one column per language named by ISO code or name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..languages import iso639_1, iso639_3, normalize_language
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


def read_hub_pairs(dataset_id: str, language: str, source_language: str = "english",
                   config_template: str | None = None, split: str = "train") -> TranslationPairs:
    """Pairs from a hub dataset; offline, a one-line error that says to use local files instead."""
    # datasets: slow to import, only for hub or Dataset inputs
    import datasets

    codes = {"language": language, "iso": iso639_1(language), "iso3": iso639_3(language)}
    try:
        config_name = config_template.format(**codes) if config_template else None
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"alignment.pairs.hub_config: invalid template {config_template!r} ({exc}); "
                          "placeholders allowed: {language}, {iso}, {iso3}") from None
    origin = f"hub dataset '{dataset_id}'" + (f" config '{config_name}'" if config_name else "") + f" split '{split}'"
    try:
        dataset = datasets.load_dataset(dataset_id, config_name, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all become one clear message
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"could not load translation pairs from {origin}: {first_line}. Without hub access, "
                        "point alignment.pairs.root at a Tatoeba-style folder or a TSV file") from None
    columns = dataset.column_names
    src_keys = (iso639_1(source_language), iso639_3(source_language), normalize_language(source_language))
    tgt_keys = (codes["iso"], codes["iso3"], language)

    def pick(keys: tuple[str, ...], available) -> str | None:
        return next((key for key in keys if key in available), None)

    if "translation" in columns:
        rows = dataset["translation"]
        first = rows[0] if len(rows) else {}
        src, tgt = pick(src_keys, first), pick(tgt_keys, first)
        if src is None or tgt is None:
            raise DataError(f"{origin}: its 'translation' entries have keys {sorted(first)}, not {src_keys[0]} and "
                            f"{tgt_keys[0]}")
        source, target = [row[src] for row in rows], [row[tgt] for row in rows]
    else:
        src, tgt = pick(src_keys, columns), pick(tgt_keys, columns)
        if src is None or tgt is None:
            raise DataError(f"{origin}: needs a 'translation' column or columns named {src_keys[0]} and "
                            f"{tgt_keys[0]}; columns: {columns}")
        source, target = list(dataset[src]), list(dataset[tgt])
    for number, (a, b) in enumerate(zip(source, target, strict=True), start=1):
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            raise DataError(f"{origin} row {number - 1}: empty or missing text in a translation pair")
    if not source:
        raise DataError(f"{origin}: no translation pairs")
    return TranslationPairs(source, target, language, origin)


def load_pairs(root: str | Path, language: str, source_language: str = "english", format: str = "auto",
               hub_config: str | None = None, split: str = "train") -> TranslationPairs:
    """Pairs for ``language`` from a Tatoeba-style folder, a TSV file, a ``{language}`` path template,
    or (``format="hub"``) a hub dataset id."""
    language = normalize_language(language)
    if format == "hub":
        return read_hub_pairs(str(root), language, source_language, hub_config, split)
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
