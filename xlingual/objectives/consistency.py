"""Consistency training on unlabeled target text (UDA, Xie et al. 2020; FixMatch, Sohn et al. 2020).

Each step, the target batch's own prediction (the weak view, from the forward pass every objective shares)
is the teacher of a second, augmented view of the same texts: the loss is the KL divergence from the weak
view's sharpened distribution to the strong view's, over the rows whose weak confidence reaches
``threshold``. The weak side carries no gradient. The strong view needs no translation: subword sampling
(xTune's views, Zheng et al. 2021) or token dropout, from :mod:`xlingual.data.augment`, or code-switching
with a bilingual word list (CoSDA-ML's views, Qin et al. 2020, read backwards: target words become English).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import dataclass
from typing import Literal

import torch

from ..config.conversion import check_template
from ..data.augment import SubwordSampler, fit_length, token_dropout
from ..data.batching import collate
from ..data.code_switch import CodeSwitcher, marked_word, read_word_list, word_list_path
from ..errors import ConfigError
from .base import Objective, SetupContext, StepContext
from .registry import register_objective
from .soft_label_kl import SoftLabelKLLoss, temper

logger = logging.getLogger(__name__)


@dataclass
class ConsistencyParams:
    augment: Literal["subword-sampling", "token-dropout", "code-switch"] = "subword-sampling"
    """How the strong view is made: a sampled segmentation (needs a Unigram tokenizer), masked pieces, or target
    words replaced by their English translations from ``dictionaries`` (protocol: ``bilingual-dictionary``)."""
    dictionaries: str = "../shared/data/dictionaries/en-{code}.txt"
    """Code-switch: ``english<TAB>translation`` word lists per target language, a path template with ``{code}``
    or ``{language}`` (as ``data.code_switch`` reads them); a language without one keeps its text."""
    fraction: float = 0.5
    """Code-switch: chance that a word the list covers is replaced (CoSDA-ML's word ratio, as in
    ``data.code_switch``)."""
    alpha: float = 0.5
    """Subword sampling's smoothing (0 uniform over segmentations; larger nearer the best one). Chosen on English
    train text, where e5's views at 0.5 have 11% more pieces than the best segmentation (1.56× at 0.2, 1.91× at
    0.1): a view that changes the segmentation of most texts but keeps most pieces, as BERT's masking keeps 85%."""
    dropout: float = 0.15
    """Token dropout: the share of pieces masked (BERT's masking rate)."""
    temperature: float = 0.4
    """Sharpening of the weak view's distribution, p^(1/T) renormalised (UDA's 0.4); 1 keeps it as it is."""
    threshold: float = 0.0
    """Only rows whose weak-view top probability reaches it are trained (FixMatch-style masking); 0 keeps all."""
    distribution_alignment: bool = True
    """ReMixMatch's guard against collapse (Berthelot et al. 2020): the weak view's distribution is multiplied by
    the source labels' class shares over the running mean of the target predictions, then renormalised, so
    the targets cannot drift to one class. Without it, consistency on UMSAB collapsed to one class per language
    while English dev stayed at 0.70 (recipes/README.md). It assumes the target classes are mixed like the
    source labels: where a target language is skewed (say 60% positive), it pulls its predictions toward the
    source mix; not yet measured on the skewed pools, so turn it off where the target prior is known to differ."""
    momentum: float = 0.99
    """Of the running means of the target predictions and of the source class shares (about 100 steps)."""

    def validate(self, where: str) -> None:
        if not (self.alpha >= 0 and math.isfinite(self.alpha)):
            raise ConfigError(f"{where}.alpha: must be a finite number ≥ 0, got {self.alpha}")
        if not 0 < self.dropout < 1:
            raise ConfigError(f"{where}.dropout: must be in (0, 1), got {self.dropout}")
        if not self.temperature > 0:
            raise ConfigError(f"{where}.temperature: must be positive, got {self.temperature}")
        if not 0 <= self.threshold < 1:
            raise ConfigError(f"{where}.threshold: must be in [0, 1), got {self.threshold}")
        if not 0 < self.momentum < 1:
            raise ConfigError(f"{where}.momentum: must be in (0, 1), got {self.momentum}")
        if not 0 < self.fraction <= 1:
            raise ConfigError(f"{where}.fraction: must be in (0, 1], got {self.fraction}")
        if self.augment == "code-switch":
            check_template(self.dictionaries, f"{where}.dictionaries", ("code", "language"))


@register_objective
class ConsistencyObjective(Objective):
    """KL(sharpen(p_weak) ‖ p_strong) on unlabeled target text, masked by the weak view's confidence."""

    name = "consistency"
    Params = ConsistencyParams
    parts = ("target",)
    target_resources = ("unlabeled-target",)

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.loss = SoftLabelKLLoss(1.0, reduction="none")
        self.register_buffer("draws", torch.zeros((), dtype=torch.long))  # saved with the training state
        self.register_buffer("target_mean", torch.zeros(0))  # running means for distribution alignment (setup
        self.register_buffer("source_mean", torch.zeros(0))  # sizes them to the classes, starting uniform)
        self.sampler: SubwordSampler | None = None
        self.switchers: dict[str, CodeSwitcher] = {}
        self.word_lists: dict[str, dict] = {}
        self.switched = {"words": 0, "replaced": 0}  # since the last log: the share of target words switched
        self.tokenizer, self.unknown, self.languages = None, None, []
        self.seed, self.max_length, self.fixed, self.replacement, self.pad = 0, 512, set(), 0, 0

    @classmethod
    def other_resources(cls, params: ConsistencyParams) -> tuple[str, ...]:
        return ("bilingual-dictionary",) if params is not None and params.augment == "code-switch" else ()

    def setup(self, context: SetupContext) -> None:
        tokenizer = context.tokenizer
        if tokenizer is None:
            raise ConfigError("alignment.losses: consistency makes views of the text and needs the run's tokenizer")
        self.seed, self.max_length = context.seed, context.max_length
        classes = int(getattr(context.model.config, "num_labels", 0) or context.model.classifier.out_features)
        self.target_mean = torch.full((classes,), 1.0 / classes)
        self.source_mean = torch.full((classes,), 1.0 / classes)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.fixed = set(tokenizer.all_special_ids)
        if self.params.augment == "subword-sampling":
            self.sampler = SubwordSampler(tokenizer, self.params.alpha)
        if self.params.augment == "code-switch":
            self.tokenizer, self.unknown = tokenizer, tokenizer.unk_token_id
            self.languages = list(context.stream_languages or context.target_languages)
            self.switchers, self.word_lists = reverse_switchers(self.params.dictionaries, self.languages,
                                                                self.params.fraction)
        mask = tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id
        if mask is None and self.params.augment == "token-dropout":
            raise ConfigError("alignment.losses: consistency token-dropout needs a mask or unknown token")
        self.replacement = mask if mask is not None else 0

    def describe(self) -> dict:
        described = super().describe()
        if self.params.augment == "code-switch":
            described["word_lists"] = self.word_lists
            described["without_word_list"] = [lang for lang in self.languages if lang not in self.word_lists]
        return described

    def strong_view(self, rows: list[list[int]], language_ids: list[int] | None = None) -> list[list[int]]:
        """The augmented ids of each row (of the target language ``language_ids`` gives, for code-switching);
        deterministic for the run's seed and the number of draws so far."""
        seed = self.seed * 1_000_003 + int(self.draws)
        self.draws += 1
        if self.sampler is not None:
            views = [self.sampler.sample(row, seed * 4099 + i) for i, row in enumerate(rows)]
        elif self.params.augment == "code-switch":
            views, changed = list(rows), {}
            for i, row in enumerate(rows):
                language = self.languages[language_ids[i]] if language_ids is not None else None
                switcher = self.switchers.get(language)
                if switcher is None:  # no word list for it: the text as it is
                    continue
                # special tokens off, unknown ones kept (as "<unk>", which encodes back to them)
                text = self.tokenizer.decode([t for t in row if t not in self.fixed or t == self.unknown])
                switched, counts = switcher.switch([text], seed * 4099 + i)
                self.switched["words"] += counts["words"]
                self.switched["replaced"] += counts["replaced"]
                if switched[0] != text:
                    changed[i] = switched[0]
            if changed:  # one tokenizer call for the batch's switched texts
                for i, ids in zip(changed, self.tokenizer(list(changed.values()))["input_ids"], strict=True):
                    views[i] = ids
        else:
            rng = random.Random(seed)
            views = [token_dropout(row, self.params.dropout, self.replacement, self.fixed, rng) for row in rows]
        return [fit_length(view, self.max_length, self.fixed) for view in views]

    def align(self, weak: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """ReMixMatch distribution alignment: ``weak · (source shares / target mean)``, renormalised."""
        shares = torch.bincount(labels, minlength=weak.shape[1]).float().to(weak.device) / max(len(labels), 1)
        m = self.params.momentum
        self.target_mean.mul_(m).add_(weak.mean(dim=0), alpha=1 - m)
        self.source_mean.mul_(m).add_(shares, alpha=1 - m)
        aligned = weak * (self.source_mean.clamp_min(1e-6) / self.target_mean.clamp_min(1e-6))
        return aligned / aligned.sum(dim=-1, keepdim=True)

    def compute(self, context: StepContext) -> torch.Tensor:
        batch, model = context.batches["target"], context.model
        weak = torch.softmax(context.logits["target"].detach().float(), dim=-1)
        if self.params.distribution_alignment and "labels" in context.batches.get("source", {}):
            weak = self.align(weak, context.batches["source"]["labels"])
        keep = weak.max(dim=-1).values >= self.params.threshold
        context.log("consistency_kept", keep.float().mean().item())
        rows = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"],
                                                                strict=True)]
        languages = batch.get("language_ids")
        views = self.strong_view(rows, None if languages is None else languages.tolist())
        if self.switchers:  # the share of this batch's target words put into English
            words, replaced = self.switched["words"], self.switched["replaced"]
            self.switched = {"words": 0, "replaced": 0}
            context.log("consistency_switched", replaced / words if words else 0.0)
        strong = {k: v.to(batch["input_ids"].device) for k, v in collate(views, self.pad).items()}
        logits = model(input_ids=strong["input_ids"], attention_mask=strong["attention_mask"]).logits
        per_row = self.loss(logits, temper(weak, self.params.temperature))
        return (per_row * keep.float()).sum() / max(len(rows), 1)


def reverse_switchers(template: str, languages: list[str], fraction: float
                      ) -> tuple[dict[str, CodeSwitcher], dict[str, dict]]:
    """Per target language with a word list at ``template``, a switcher from its words to their English
    translations (the English→target list read backwards; multi-word translations left out), and the record of
    the lists read (file, sha256, words switchable)."""
    where = "alignment.losses[consistency].dictionaries"
    switchers, record, missing = {}, {}, []
    for language in languages:
        path = word_list_path(template, language)
        if not path.is_file():
            missing.append(language)
            continue
        backwards: dict[str, list[str]] = {}
        for english, translations in read_word_list(path).items():
            for translation in translations:
                if marked_word().fullmatch(translation) and translation.lower() != english:
                    backwards.setdefault(translation.lower(), []).append(english)
        switchers[language] = CodeSwitcher({"english": backwards}, fraction, word=marked_word())
        record[language] = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                            "target_words": len(backwards)}
    if not switchers:
        looked = f" (looked for {word_list_path(template, languages[0])})" if languages else ""
        raise ConfigError(f"{where}: no word list for any of the target stream's languages "
                          f"{', '.join(languages) or '(none)'}{looked}")
    if missing:
        logger.warning("consistency code-switch: no word list for %s; their texts are their own strong view",
                       ", ".join(missing))
    return switchers, record
