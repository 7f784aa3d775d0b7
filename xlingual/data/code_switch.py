"""Dictionary code-switching of source-language training text (CoSDA-ML; Qin et al., IJCAI 2020).

Each epoch gets its own draw: every word a word list covers is replaced, with probability ``fraction``, by one
of its translations in a language drawn from those whose list has the word. The classifier then meets
target-language words in contexts whose labels it knows, which ties their representations to the English
ones where it matters for the task. Word lists use the MUSE layout, one ``english<TAB>translation`` a line
(several lines per English word allowed); matching is case-insensitive and a replacement keeps the word's
capitalisation. ``data.code_switch`` switches only the labelled source rows, never target text; consistency
training's code-switched views (:mod:`xlingual.objectives.consistency`) read the lists backwards, target words to
English, on unlabeled target text, with :func:`marked_word` so that scripts with combining marks keep whole words.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..languages import iso639_1
from .examples import Examples

logger = logging.getLogger(__name__)

WORD = re.compile(r"(?<![@#\w])[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
"""A word: letters (an inner apostrophe allowed), not the body of a @mention or #hashtag, no digits."""


@functools.cache
def marked_word() -> re.Pattern:
    """:data:`WORD` for any script: each letter may carry combining marks (Devanagari vowel signs, Arabic
    harakat), which Python's ``\\w`` leaves out, so that ``प्यार`` is one word, not three."""
    marks = "".join(re.escape(chr(c)) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M")
    letter = f"[^\\W\\d_][{marks}]*"
    return re.compile(f"(?<![@#\\w{marks}])(?:{letter})+(?:'(?:{letter})+)?", re.UNICODE)


def read_word_list(path: str | Path) -> dict[str, list[str]]:
    """``english<TAB>translation`` lines → English word (lower-cased) → its translations, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: word list not found")
    pairs: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise DataError(f"{path}:{number}: expected 'english<TAB>translation', got {line[:80]!r}")
            english, translation = parts[0].strip().lower(), parts[1].strip()
            known = pairs.setdefault(english, [])
            if translation not in known:
                known.append(translation)
    return pairs


def _capitalised_like(word: str, translation: str) -> str:
    if len(word) > 1 and word.isupper():
        return translation.upper()
    if word[:1].isupper():
        return translation[:1].upper() + translation[1:]
    return translation


@dataclass
class CodeSwitcher:
    """Replaces covered words by translations; deterministic for a seed and an epoch."""

    word_lists: dict[str, dict[str, list[str]]]
    """Language → English word → translations."""
    fraction: float
    seed: int = 0
    word: re.Pattern = WORD
    """What a word is in the text switched (:func:`marked_word` for target text in any script)."""
    languages_of: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        covered: dict[str, list[str]] = {}
        for language in sorted(self.word_lists):
            for word in self.word_lists[language]:
                covered.setdefault(word, []).append(language)
        self.languages_of = covered

    def switch(self, texts: list[str], epoch: int) -> tuple[list[str], dict]:
        """Each text with words replaced, and the counts: words, covered, replaced (per language)."""
        rng = random.Random(f"code-switch:{self.seed}:{epoch}")
        counts: Counter = Counter()
        into: Counter = Counter()
        out = []
        for text in texts:
            def replace(match: re.Match) -> str:
                word = match.group(0)
                counts["words"] += 1
                languages = self.languages_of.get(word.lower())
                if not languages:
                    return word
                counts["covered"] += 1
                if rng.random() >= self.fraction:
                    return word
                language = rng.choice(languages)
                into[language] += 1
                counts["replaced"] += 1
                return _capitalised_like(word, rng.choice(self.word_lists[language][word.lower()]))

            out.append(self.word.sub(replace, text))
        return out, {"words": counts["words"], "covered": counts["covered"], "replaced": counts["replaced"],
                     "into": dict(sorted(into.items()))}


def word_list_path(template: str, language: str) -> Path:
    return Path(template.format(code=iso639_1(language), language=language))


def load_code_switcher(config, target_languages: list[str], seed: int) -> tuple[CodeSwitcher, dict]:
    """The switcher of ``data.code_switch`` and the record of its word lists (path, sha256, English words)."""
    explicit = config.languages is not None
    wanted = config.languages or target_languages
    word_lists, files, missing = {}, {}, []
    for language in wanted:
        path = word_list_path(config.dictionaries, language)
        if not path.is_file():
            if explicit:
                raise DataError(f"data.code_switch.languages: no word list for {language} at {path}")
            missing.append(language)
            continue
        word_lists[language] = read_word_list(path)
        files[language] = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                           "english_words": len(word_lists[language]),
                           "pairs": sum(len(v) for v in word_lists[language].values())}
    if not word_lists:
        raise DataError(f"data.code_switch.dictionaries: no word list found for any of {', '.join(wanted)} "
                        f"(looked for {word_list_path(config.dictionaries, wanted[0])})")
    if missing:
        logger.warning("data.code_switch: no word list for %s; switching into %s only", ", ".join(missing),
                       ", ".join(word_lists))
    switcher = CodeSwitcher(word_lists, config.fraction, config.seed if config.seed is not None else seed)
    return switcher, {"languages": sorted(word_lists), "without_word_list": missing, "files": files,
                      "fraction": config.fraction, "seed": switcher.seed}


def code_switched_views(examples: Examples, switcher: CodeSwitcher, epochs: int) -> tuple[list[list[str]], dict]:
    """One switched copy of ``examples``' texts per epoch, and what was replaced: per epoch and in all, the share
    of words replaced (of all words, and of the words the lists cover) and into which languages."""
    views, per_epoch = [], []
    for epoch in range(epochs):
        texts, counts = switcher.switch(examples.texts, epoch)
        views.append(texts)
        per_epoch.append(counts)
    words = sum(c["words"] for c in per_epoch)
    covered = sum(c["covered"] for c in per_epoch)
    replaced = sum(c["replaced"] for c in per_epoch)
    into: Counter = Counter()
    for counts in per_epoch:
        into.update(counts["into"])
    return views, {"epochs": epochs, "texts": len(examples), "words": words,
                   "coverage": round(covered / words, 4) if words else 0.0,
                   "replaced_of_words": round(replaced / words, 4) if words else 0.0,
                   "replaced_of_covered": round(replaced / covered, 4) if covered else 0.0,
                   "replaced_into": dict(sorted(into.items()))}
