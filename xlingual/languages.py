"""Language names: one canonical name per language, accepting ISO 639-1/639-3 codes.

UMSAB folders are named ``spanish``, the Tatoeba files ``spa``, hub datasets often
``es``. Everything inside xlingual uses the lower-case English name so results from
different sources line up; :func:`normalize_language` maps any of the spellings to it.

Datasets also name languages their own way (Webis-CLS-10's Japanese folder is ``jp``, not the
ISO ``ja``). ``data.language_names`` maps xlingual's canonical name to the dataset's, e.g.
``{japanese: jp}``; readers look for the dataset's name first, then the canonical name and
the ISO codes. Results always use the canonical name, so runs on differently named copies of
the same data line up in ``compare``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigError, DataError, did_you_mean

UMSAB_LANGUAGES = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
"""The eight languages of UMSAB (Barbieri et al. 2022), the built-in benchmark."""

# canonical name: (ISO 639-1, ISO 639-3)
LANGUAGES: dict[str, tuple[str, str]] = {
    "arabic": ("ar", "ara"),
    "bulgarian": ("bg", "bul"),
    "chinese": ("zh", "cmn"),
    "czech": ("cs", "ces"),
    "danish": ("da", "dan"),
    "dutch": ("nl", "nld"),
    "english": ("en", "eng"),
    "finnish": ("fi", "fin"),
    "french": ("fr", "fra"),
    "german": ("de", "deu"),
    "greek": ("el", "ell"),
    "hebrew": ("he", "heb"),
    "hindi": ("hi", "hin"),
    "hungarian": ("hu", "hun"),
    "indonesian": ("id", "ind"),
    "italian": ("it", "ita"),
    "japanese": ("ja", "jpn"),
    "korean": ("ko", "kor"),
    "norwegian": ("no", "nor"),
    "persian": ("fa", "fas"),
    "polish": ("pl", "pol"),
    "portuguese": ("pt", "por"),
    "romanian": ("ro", "ron"),
    "russian": ("ru", "rus"),
    "spanish": ("es", "spa"),
    "swahili": ("sw", "swa"),
    "swedish": ("sv", "swe"),
    "thai": ("th", "tha"),
    "turkish": ("tr", "tur"),
    "ukrainian": ("uk", "ukr"),
    "urdu": ("ur", "urd"),
    "vietnamese": ("vi", "vie"),
}

_ALIASES: dict[str, str] = {}
for _name, (_iso1, _iso3) in LANGUAGES.items():
    _ALIASES[_name] = _name
    _ALIASES[_iso1] = _name
    _ALIASES[_iso3] = _name
_ALIASES.update({"zho": "chinese", "mandarin": "chinese", "farsi": "persian", "fas": "persian"})


def normalize_language(value: str, *, field: str = "language") -> str:
    """Return the canonical name of ``value`` (``'es'``, ``'spa'``, ``'Spanish'`` → ``'spanish'``)."""
    key = str(value).strip().lower().replace("_", "-")
    key = key.split("-")[0] if key not in _ALIASES else key  # "es-MX" -> "es"
    if key in _ALIASES:
        return _ALIASES[key]
    raise ConfigError(
        f"{field}: unknown language '{value}'{did_you_mean(str(value).lower(), _ALIASES)}; "
        f"use a name such as 'spanish' or an ISO code such as 'es' or 'spa'"
    )


def iso639_1(language: str) -> str:
    """Two-letter code of a language (``'spanish'`` → ``'es'``)."""
    return LANGUAGES[normalize_language(language)][0]


def iso639_3(language: str) -> str:
    """Three-letter code of a language (``'spanish'`` → ``'spa'``), as in Tatoeba file names."""
    return LANGUAGES[normalize_language(language)][1]


# ----------------------------------------------------------------------------- what a dataset calls a language

def canonical_names(mapping: Mapping[str, str] | None, field: str = "data.language_names") -> dict[str, str]:
    """``mapping`` with canonical language names as keys; refuses an unknown language or a name used twice."""
    out: dict[str, str] = {}
    for language, name in (mapping or {}).items():
        canonical = normalize_language(language, field=f"{field}.{language}")
        if not str(name).strip():
            raise ConfigError(f"{field}.{language}: the dataset's name for {canonical} is empty")
        if canonical in out:
            raise ConfigError(f"{field}: {canonical} is mapped twice ('{out[canonical]}' and '{name}')")
        out[canonical] = str(name)
    seen: dict[str, str] = {}
    for language, name in out.items():
        if name.lower() in seen:
            raise ConfigError(f"{field}: '{name}' names both {seen[name.lower()]} and {language}")
        seen[name.lower()] = language
    return out


def to_canonical(value: str, mapping: Mapping[str, str] | None, field: str = "language") -> str:
    """The canonical name of ``value``: a dataset name from ``mapping`` (``jp`` → ``japanese``) or any
    spelling :func:`~xlingual.languages.normalize_language` knows."""
    key = str(value).strip().lower()
    for language, name in (mapping or {}).items():
        if name.lower() == key:
            return language
    try:
        return normalize_language(value, field=field)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; if '{value}' is the dataset's own name of a language, map it with "
                          f"data.language_names, e.g. {{japanese: {value}}}") from None


def dataset_names(language: str, mapping: Mapping[str, str] | None) -> list[str]:
    """Names to look for in the dataset, best first: the mapped name, the canonical name, ISO 639-1, 639-3."""
    names = [mapping[language]] if mapping and language in mapping else []
    for name in (language, iso639_1(language), iso639_3(language)):
        if name not in names:
            names.append(name)
    return names


class ColumnLanguages:
    """The canonical language of each value in a language column, each distinct value resolved once."""

    def __init__(self, column: str, mapping: Mapping[str, str] | None) -> None:
        self.column, self.mapping, self.known = column, mapping, {}

    def __call__(self, value: object, where: str) -> str:
        raw = str(value)
        if raw not in self.known:
            try:
                self.known[raw] = to_canonical(raw, self.mapping)
            except ConfigError:
                raise DataError(f"{where}: unknown language {raw!r} in column '{self.column}' (name it with "
                                "data.language_names, e.g. {japanese: jp})") from None
        return self.known[raw]
