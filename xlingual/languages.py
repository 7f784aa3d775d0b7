"""Language names: one canonical name per language, accepting ISO 639-1/639-3 codes.

UMSAB folders are named ``spanish``, the Tatoeba files ``spa``, hub datasets often
``es``. Everything inside xlingual uses the lower-case English name so results from
different sources line up; :func:`normalize_language` maps any of the spellings to it.
"""

from __future__ import annotations

from .errors import ConfigError, did_you_mean

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
