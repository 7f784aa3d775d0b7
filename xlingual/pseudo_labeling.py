"""``xlingual pseudo-label``: a teacher labels unlabeled target-language text, and the texts it keeps become a
dataset folder a recipe can read.

The teacher is one run or several: with several, each text gets the mean of the members' probabilities (an
ensemble; a soup is one run folder like any other). Texts are read with their labels dropped, from a split
that is not the test split. What is kept follows a rule of :data:`~xlingual.training.pseudo_labels.SELECTION_RULES`
(by default the ``k`` most confident per language, split between classes by the teacher's own estimate of
the class prior).

    DIR/<language>/train_text.txt                the kept texts, one per line (UMSAB layout)
    DIR/<language>/train_labels.txt              their labels (class indices of the teacher's label scheme)
    DIR/<language>/train_probabilities.jsonl     the teacher's probabilities of each kept text (soft targets)
    DIR/manifest.json                            teachers and their weight fingerprints, data, rule, counts per
                                                 language and class, estimated priors, confidence quantiles

The folder is written beside and renamed into place; an existing folder is replaced only if it is an earlier
pseudo-label output and ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from .config import RecipeConfig
from .data.loading import label_scheme, load_examples, split_role
from .errors import CheckpointError, ConfigError, RunFolderError
from .evaluation.splits import tokenize
from .io import atomic_write_json, new_temp_dir, read_json, replace_dir
from .languages import to_canonical
from .modeling.predict import predict_probabilities
from .run_folder import run_recipe_data
from .training.linear_probe import refit_head
from .training.pseudo_labels import SELECTION_RULES, select

MANIFEST = "manifest.json"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def load_teachers(runs: list[str | Path]):
    """The members' classifiers, checked to share one list of labels."""
    if not runs:
        raise ConfigError("pseudo-label: name at least one teacher run")
    # transformers: slow to import, so only when the command runs
    from .inference import load
    members = [load(run) for run in runs]
    labels = members[0].labels
    for run, member in zip(runs, members, strict=True):
        if member.labels != labels:
            raise CheckpointError(f"{run}: its classes {member.labels} differ from {runs[0]}'s {labels}; an ensemble "
                                  "averages the probabilities of one label scheme")
    return members


def teacher_probabilities(members, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """The ensemble's probabilities: the mean of the members' ``predict_proba`` (one member: its own)."""
    return torch.stack([member.predict_proba(texts, batch_size) for member in members]).mean(dim=0)


def probe_view(recipe: RecipeConfig, pools: dict, batch_size: int = 64) -> tuple[dict[str, torch.Tensor], dict]:
    """A second view whose errors differ from a fine-tuned teacher's: a linear probe fitted on the source train
    split's features of the *frozen pretrained* encoder (the recipe's model, nothing fine-tuned), and its
    predicted class for every pool text. Returns the predictions per language and the probe's record."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    scheme = label_scheme(recipe.data)
    # transformers: slow to import, so only when the command runs
    from .modeling.build import build_model
    model, tokenizer = build_model(recipe, scheme)
    model.to(device).eval()
    source = load_examples(recipe.data, recipe.data.source_language, "train", scheme=scheme)
    fit = refit_head(model, tokenize(source, tokenizer, recipe), batch_size, device)  # the head becomes the probe
    predictions = {lang: predict_probabilities(model, tokenize(pool, tokenizer, recipe), batch_size, device)
                   .argmax(1).cpu() for lang, pool in pools.items()}
    return predictions, {"view": "linear probe on the frozen pretrained encoder's source-train features",
                         "encoder": recipe.model.name, "source_train_examples": len(source),
                         "source_train_accuracy": round(fit["train_accuracy"], 4)}


def _fingerprint(run: Path) -> dict:
    record = run / "checkpoint" / "xlingual_checkpoint.json"
    if not record.is_file():
        record = run / "xlingual_checkpoint.json"
    try:
        return read_json(record).get("sha256", {})
    except (OSError, ValueError, AttributeError):
        return {}


def _quantiles(values: torch.Tensor) -> dict[str, float] | None:
    if values.numel() == 0:
        return None
    return {f"q{int(q * 100)}": round(float(torch.quantile(values.float(), q)), 4) for q in QUANTILES}


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / MANIFEST).is_file():
        raise RunFolderError(f"--out {out} is not empty and holds no pseudo-label {MANIFEST}; choose a new folder")
    if not overwrite:
        raise RunFolderError(f"--out {out} already holds pseudo-labels; pass --overwrite to replace them")
    ours = {MANIFEST} | {p.name for p in out.iterdir() if p.is_dir() and (p / "train_text.txt").is_file()}
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign:
        raise RunFolderError(f"--out {out} holds files pseudo-label did not write ({', '.join(foreign[:5])}); move "
                             "them, or choose a new folder")


def pseudo_label(runs: list[str | Path], out: str | Path, languages: list[str] | None = None,
                 rule: str = "prior-matched", k: int | None = 300, threshold: float | None = None,
                 split: str = "train", overrides: list[str] | tuple[str, ...] = (), batch_size: int = 64,
                 overwrite: bool = False, agree_with_probe: bool = False) -> Path:
    """Label the target text of ``languages`` with the teacher ``runs`` and write the kept texts to ``out``;
    with ``agree_with_probe``, only texts where :func:`probe_view` predicts the teacher's class are candidates."""
    out, runs = Path(out), [Path(run) for run in runs]
    if rule not in SELECTION_RULES:
        raise ConfigError(f"--rule: expected one of {', '.join(SELECTION_RULES)}, got {rule!r}")
    if rule == "threshold" and (threshold is None or not 0 < threshold <= 1):
        raise ConfigError(f"--threshold: the threshold rule needs a value in (0, 1], got {threshold!r}")
    if rule in ("prior-matched", "class-balanced") and (k is None or k < 1):
        raise ConfigError(f"--k: rule {rule} needs a positive k, got {k!r}")
    if not runs or not (runs[0] / "config.yaml").is_file():
        raise ConfigError(f"pseudo-label: {runs[0] if runs else 'no run'} is not a run folder (no config.yaml); "
                          "the first teacher's recipe names the data")
    _check_out(out, overwrite)
    recipe = RecipeConfig.from_dict(run_recipe_data(runs[0], overrides))
    if split_role(recipe.data, split) == "test":
        raise ConfigError(f"--split {split}: that is the test split; test text never reaches training")
    wanted = [to_canonical(lang, recipe.data.language_names, field="--languages")
              for lang in (languages or recipe.data.target_languages)]
    pools = {lang: load_examples(recipe.data, lang, split, labelled=False) for lang in wanted}
    members = load_teachers(runs)
    names = members[0].labels
    probe, probe_record = probe_view(recipe, pools, batch_size) if agree_with_probe else ({}, None)
    manifest: dict = {
        "teachers": [{"run": str(run.resolve()), "sha256": _fingerprint(run)} for run in runs],
        "ensemble": "mean of the members' probabilities" if len(runs) > 1 else None,
        "rule": rule, "k": k if rule in ("prior-matched", "class-balanced") else None,
        "threshold": threshold if rule == "threshold" else None, "split": split, "labels": list(names),
        "agreement": probe_record, "languages": {},
    }
    tmp = new_temp_dir(out)
    try:
        for lang, pool in pools.items():
            probabilities = teacher_probabilities(members, pool.texts, batch_size)
            agree = (probabilities.argmax(1) == probe[lang]).tolist() if agree_with_probe else None
            indices, labels, record = select(probabilities, rule, k, threshold, agree)
            folder = tmp / lang
            folder.mkdir()
            (folder / "train_text.txt").write_text("\n".join(pool.texts[i] for i in indices), encoding="utf-8")
            (folder / "train_labels.txt").write_text("\n".join(str(label) for label in labels), encoding="utf-8")
            (folder / "train_probabilities.jsonl").write_text(
                "".join(json.dumps([round(p, 6) for p in probabilities[i].tolist()]) + "\n" for i in indices),
                encoding="utf-8")
            confidence = probabilities.max(dim=1).values
            manifest["languages"][lang] = {
                "source": pool.origin, "pool": len(pool), "kept": len(indices),
                "kept_per_class": dict(zip(names, record["kept"], strict=True)),
                "estimated_prior": dict(zip(names, (round(p, 4) for p in record["prior"]), strict=True)),
                "short_classes": [names[c] for c in record.get("short", [])],
                "confidence_all": _quantiles(confidence), "confidence_kept": _quantiles(confidence[indices]),
            }
            if agree is not None:
                manifest["languages"][lang]["agreeing_with_probe"] = sum(agree)
        atomic_write_json(tmp / MANIFEST, manifest)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def cmd_pseudo_label(args: argparse.Namespace) -> int:
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()] if args.languages else None
    out = pseudo_label(args.runs, args.out, languages, args.rule, args.k, args.threshold, args.split, args.set or [],
                       args.batch_size, args.overwrite, args.agree_with_probe)
    manifest = read_json(out / MANIFEST)
    for lang, entry in manifest["languages"].items():
        counts = ", ".join(f"{name} {count}" for name, count in entry["kept_per_class"].items())
        short = f"; fewer than asked: {', '.join(entry['short_classes'])}" if entry["short_classes"] else ""
        print(f"{lang}: kept {entry['kept']} of {entry['pool']} ({counts}){short}")
    print(f"wrote {out} (read it as data: format umsab, root {out}, split train)")
    return 0


def register(subparsers) -> None:
    """``xlingual pseudo-label``."""
    p = subparsers.add_parser(
        "pseudo-label", help="label unlabeled target text with a teacher run (or an ensemble) into a dataset folder",
        description="A teacher (one run; several runs: the mean of their probabilities) labels the target-language "
                    "text of the first run's data (labels dropped, never the test split) and keeps texts by a rule: "
                    "prior-matched (default: the k most confident per language, split between classes by the "
                    "teacher's own estimate of the class prior), class-balanced (k per class), threshold, or all-soft "
                    "(every text, with its probabilities). OUT holds <language>/train_{text,labels}.txt, the "
                    "teacher's probabilities and manifest.json.")
    p.add_argument("runs", nargs="+", help="teacher run folder(s)")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--languages", help="comma-separated target languages (default: the first run's targets)")
    p.add_argument("--rule", default="prior-matched", choices=list(SELECTION_RULES))
    p.add_argument("--k", type=int, default=300,
                   help="texts kept per language (prior-matched; the default 300 is about a sixth of a 1,839-tweet "
                        "pool, as xlingual rounds uses) or per class (class-balanced)")
    p.add_argument("--threshold", type=float, help="the threshold rule's minimum top probability")
    p.add_argument("--split", default="train", help="which split's text to label (labels dropped; not the test split)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override the first run's data settings")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier pseudo-label folder in OUT")
    p.add_argument("--agree-with-probe", action="store_true",
                   help="keep only texts where a second view agrees with the teacher: a linear probe on the frozen "
                        "pretrained encoder's source-train features, whose errors differ from a fine-tuned model's")
    p.set_defaults(func=cmd_pseudo_label)
