"""Label schemes: map raw dataset labels (``"2"``, ``"P"``, ``5`` stars) to class ids and names."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError, DataError, did_you_mean

_SENTIMENT3 = ("negative", "neutral", "positive")
_BINARY = ("negative", "positive")

BUILTIN_SCHEMES: dict[str, tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]] = {
    # name: (class names, raw label -> class name, raw labels to drop)
    "sentiment3": (
        _SENTIMENT3,
        {"0": "negative", "1": "neutral", "2": "positive", "neg": "negative", "neu": "neutral", "pos": "positive",
         "n": "negative", "p": "positive"},
        (),
    ),
    "binary": (_BINARY, {"0": "negative", "1": "positive", "neg": "negative", "pos": "positive"}, ()),
    "stars5_to_sentiment3": (
        _SENTIMENT3,
        {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
        (),
    ),
    "stars5_to_binary": (_BINARY, {"1": "negative", "2": "negative", "4": "positive", "5": "positive"}, ("3",)),
}


def _show(value: object, limit: int = 60) -> str:
    """``repr`` of a raw value for an error message, shortened."""
    try:
        text = repr(value)
    except ValueError:
        return f"<{type(value).__name__} too long to print>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class LabelScheme:
    """Class names plus the raw-label mapping; raw labels are matched case-insensitively."""

    name: str
    names: tuple[str, ...]
    mapping: dict[str, int] = field(hash=False)
    drop: frozenset[str] = frozenset()
    dropped_seen: set[str] = field(default_factory=set, hash=False, compare=False)
    """The raw labels of ``drop`` that :meth:`encode` met, so a ``drop_labels`` entry no data has is caught."""

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @classmethod
    def build(
        cls,
        name: str,
        label_names: list[str] | None = None,
        label_map: dict[str, str] | None = None,
        drop_labels: list[str] | None = None,
    ) -> LabelScheme:
        """Build a built-in scheme (or ``custom`` from ``label_names``), extended by ``label_map``."""
        if name == "custom":
            if not label_names:
                raise ConfigError("data.label_names: label_scheme 'custom' needs the list of class names")
            names, raw_map, drop = tuple(label_names), {}, ()
        elif name in BUILTIN_SCHEMES:
            names, raw_map, drop = BUILTIN_SCHEMES[name]
            if label_names and tuple(label_names) != names:
                raise ConfigError(
                    f"data.label_names: scheme '{name}' has classes {list(names)}; use label_scheme: custom "
                    "to name your own"
                )
        else:
            choices = [*BUILTIN_SCHEMES, "custom"]
            raise ConfigError(
                f"data.label_scheme: unknown scheme '{name}'{did_you_mean(name, choices)}; "
                f"choose one of {', '.join(choices)}"
            )
        mapping: dict[str, int] = {}
        for index, class_name in enumerate(names):
            mapping[class_name.lower()] = index
            if name == "custom":
                mapping[str(index)] = index
        for raw, class_name in {**raw_map, **(label_map or {})}.items():
            if class_name.lower() not in {n.lower() for n in names}:
                raise ConfigError(
                    f"data.label_map: '{raw}' maps to '{class_name}', which is not a class of scheme "
                    f"'{name}' ({', '.join(names)}){did_you_mean(class_name, names)}"
                )
            mapping[str(raw).strip().lower()] = [n.lower() for n in names].index(class_name.lower())
        dropped = frozenset(str(d).strip().lower() for d in (*drop, *(drop_labels or ())))
        return cls(name=name, names=names, mapping=mapping, drop=dropped)

    def encode(self, raw: object, where: str) -> int | None:
        """Class id of a raw label, ``None`` if the scheme drops it; DataError (naming ``where``) otherwise."""
        try:
            key = str(raw).strip().lower()
        except ValueError:  # an integer too long to convert to text: certainly no label
            key = ""
        if isinstance(raw, float) and raw.is_integer():
            key = str(int(raw))
        if key in self.drop:
            self.dropped_seen.add(key)
            return None
        if key in self.mapping:
            return self.mapping[key]
        known = sorted(self.mapping)
        raise DataError(
            f"{where}: label {_show(raw)} is not in label scheme '{self.name}' (known raw labels: {', '.join(known)})"
            f"{did_you_mean(key, known)}; map it with data.label_map or skip it with data.drop_labels"
        )

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "names": list(self.names)}
