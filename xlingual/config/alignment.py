"""The alignment section: unlabeled target text, translation pairs, and the loss terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError, did_you_mean
from ..languages import normalize_language
from .conversion import Section, _check_positive, check_template
from .losses import LossConfig
from .registry import get_objective, missing_stream_sections


@dataclass
class UnlabeledTargetConfig(Section):
    """Unlabeled target-language text: read with labels dropped at load time."""

    languages: list[str] | None = None
    """Default: ``data.target_languages``."""
    split: str = "train"
    """A split of the recipe's data source (role name or literal); the test split is refused."""
    root: str | None = None
    """Instead of the data source: a text file template with ``{language}``, one sentence per line."""
    max_examples: int | None = None
    batch_size: int | None = None
    """Default: ``training.batch_size``."""

    def _normalize(self) -> None:
        where = "alignment.unlabeled_target"
        if self.languages:
            self.languages = [normalize_language(lang, field=f"{where}.languages") for lang in self.languages]
        if self.root is not None:
            check_template(self.root, f"{where}.root", ("language",))
        _check_positive(self, where, ("max_examples", "batch_size"))


@dataclass
class PairsConfig(Section):
    """Translation pairs (English ↔ target) for contrastive alignment."""

    root: str = "../shared/data/tatoeba"
    """A Tatoeba-style folder (``tatoeba.spa-eng.{spa,eng}``), a TSV file, a TSV template with
    ``{language}``, or with ``format: hub`` a hub dataset id."""
    format: str = "auto"
    """``auto`` (folder, TSV file or template, from ``root``) or ``hub``."""
    hub_config: str | None = None
    """Hub only: config name template, e.g. ``eng-{iso3}`` (placeholders {language}, {iso}, {iso3})."""
    split: str = "train"
    """Hub only: the split to read."""
    languages: list[str] | None = None
    """Default: ``data.target_languages`` that have pairs."""
    max_pairs: int | None = None
    batch_size: int | None = None

    def _normalize(self) -> None:
        where = "alignment.pairs"
        if not self.root:
            raise ConfigError(f"{where}.root: must name a pair folder, TSV file, template or hub dataset id")
        if self.format not in ("auto", "hub"):
            raise ConfigError(f"{where}.format: '{self.format}' is not one of auto, hub"
                              f"{did_you_mean(self.format, ['auto', 'hub'])}")
        if self.languages:
            self.languages = [normalize_language(lang, field=f"{where}.languages") for lang in self.languages]
        if self.format == "auto" and ("{language}" in self.root or "{iso3}" in self.root):
            check_template(self.root, f"{where}.root", ("language", "iso3"))
        if self.hub_config:
            check_template(self.hub_config, f"{where}.hub_config", ("language", "iso", "iso3"))
        _check_positive(self, where, ("max_pairs", "batch_size"))


@dataclass
class AlignmentConfig(Section):
    """Embedding alignment: the extra data streams and the loss terms that use them."""

    unlabeled_target: UnlabeledTargetConfig | None = None
    pairs: PairsConfig | None = None
    losses: list[LossConfig] = field(default_factory=list)

    def _normalize(self) -> None:
        for stream in (self.unlabeled_target, self.pairs):
            if stream is not None:
                stream._normalize()
        names = [loss.name for loss in self.losses]
        if len(set(names)) != len(names):
            raise ConfigError(f"alignment.losses: a loss is listed twice: {names}")
        self.losses = [loss.validate(f"alignment.losses[{index}]") for index, loss in enumerate(self.losses)]
        for index, loss in enumerate(self.losses):
            self.check_streams(loss.name, f"alignment.losses[{index}]")

    def check_streams(self, name: str, where: str) -> None:
        """Refuse an objective whose data streams the recipe does not load (the rule comes from its declaration)."""
        missing = missing_stream_sections(get_objective(name, f"{where}.name"), self)
        if missing:
            raise ConfigError(f"{where}: '{name}' needs alignment.{missing[0]} to be set")
