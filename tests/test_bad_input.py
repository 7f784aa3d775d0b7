"""Every user mistake is one clear error of xlingual's own type, and exit code 2 with one line through the CLI.

Each row of ``CASES`` names a mistake, writes it into ``tmp_path`` and returns either the CLI arguments (checked
for exit code 2 and exactly one ``error: ...`` line on stderr) or a library call (checked to raise an
:class:`~xlingual.errors.XlingualError` with a one-line message). The message must match the row's regex, which
pins the file and line, key or value it has to name. Rows marked ``before_model`` are config or data mistakes:
they must be reported before any model or checkpoint is loaded, so model loading is made to fail for them.

A mistake must also change nothing: every row runs from its own working directory, and the trees of the test's
folder (the decoy datasets, models and runs a row set up), the working directory, the shared data and the shared
finished runs are hashed before and after. Early errors leave no output folder behind either.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, tiny_recipe_overrides

import xlingual
import xlingual.checkpoint
import xlingual.inference
import xlingual.runner
from xlingual.cli import main
from xlingual.config import DataConfig
from xlingual.data.loading import load_examples
from xlingual.data.pairs import load_pairs
from xlingual.errors import XlingualError
from xlingual.run_folder import MARKER

FULL = REPO / "recipes" / "umsab_e5small.yaml"
CUDA = __import__("torch").cuda.is_available()
LORA = REPO / "recipes" / "umsab_e5small_lora.yaml"
SPLITS = ("train", "val", "test")


# ----------------------------------------------------------------------------- fixtures


def _read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def clean_data(toy_umsab, tmp_path_factory) -> Path:
    """The toy data without evaluation texts that also occur in English training (so no overlap warning)."""
    root = tmp_path_factory.mktemp("clean") / "umsab"
    shutil.copytree(toy_umsab, root)
    train = set(_read(root / "english" / "train_text.txt"))
    for folder in root.iterdir():
        for split in ("val", "test"):
            texts, labels = _read(folder / f"{split}_text.txt"), _read(folder / f"{split}_labels.txt")
            keep = [i for i, text in enumerate(texts) if text not in train]
            _write(folder / f"{split}_text.txt", [texts[i] for i in keep])
            _write(folder / f"{split}_labels.txt", [labels[i] for i in keep])
    return root


@pytest.fixture(scope="module")
def finished_runs(tiny_bert, clean_data, tmp_path_factory) -> dict[str, Path]:
    """One finished full fine-tuning run and one LoRA run (a few seconds each); tests copy before changing them."""
    base = tmp_path_factory.mktemp("runs")
    runs = {name: xlingual.train(recipe, tiny_recipe_overrides(tiny_bert, clean_data, base / name, **QUICK),
                                 progress=False)
            for name, recipe in (("full", FULL), ("lora", LORA))}
    return {**runs, "interrupted": interrupted_run(tiny_bert, clean_data, base / "interrupted")}


QUICK = {"training.epochs": 1, "data.max_train_examples": 48}
INTERRUPTED = ("training.epochs=2", "training.checkpoint_steps=2")
"""The settings of the interrupted run (besides QUICK's): 6 steps, state saved every 2."""


def interrupted_run(bert: Path, data: Path, out: Path) -> Path:
    """A run stopped at its 5th step, as a kill leaves it: no results.json, the state of step 4 (with the
    settings the run started with) on disk."""
    from xlingual.training.loop import TrainingLoop

    original, calls = TrainingLoop._step_loss, []

    def stop_at_step_5(self, batch, progress):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(self, batch, progress)

    overrides = [*tiny_recipe_overrides(bert, data, out, **QUICK), *INTERRUPTED]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TrainingLoop, "_step_loss", stop_at_step_5)
        with pytest.raises(KeyboardInterrupt):
            xlingual.train(FULL, overrides, progress=False)
    assert not (out / "results.json").exists() and (out / "state" / "state.json").is_file()
    return out


def tree_hash(*roots: Path) -> dict[str, str]:
    """Every file and folder under ``roots`` with a hash of its bytes: what a mistake must leave as it was."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            key = str(path)
            found[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@functools.cache
def classifier(path: Path):
    return xlingual.load(path)


@dataclass
class Env:
    """What a case's setup may use: its own ``tmp`` folder, the tiny model, clean data and finished runs."""

    tmp: Path
    bert: Path
    data: Path
    runs: dict[str, Path]

    def train(self, *assignments: str, recipe: Path = FULL, data: Path | None = None) -> list[str]:
        """``xlingual train`` on the tiny model and toy data, then ``assignments`` as further ``--set``."""
        overrides = [*tiny_recipe_overrides(self.bert, data or self.data, self.tmp / "run"), *assignments]
        return ["train", str(recipe), "--no-progress", *[arg for o in overrides for arg in ("--set", o)]]

    def unfinished(self, name: str = "full") -> Path:
        """A copy of a finished run made unfinished: no results.json, a saved state (enough to reach --resume)."""
        run = self.copy_run(name)
        (run / "results.json").unlink()
        (run / "state").mkdir()
        (run / "state" / "state.json").write_text("{}", encoding="utf-8")
        return run

    def train_like(self, run: Path, *assignments: str, recipe: Path = FULL) -> list[str]:
        """``xlingual train`` with the settings the finished runs were trained with, into ``run``."""
        overrides = [*tiny_recipe_overrides(self.bert, self.data, run, **QUICK), *assignments]
        return ["train", str(recipe), "--no-progress", *[arg for o in overrides for arg in ("--set", o)]]

    def copy_data(self) -> Path:
        return Path(shutil.copytree(self.data, self.tmp / "data"))

    def copy_run(self, name: str = "full") -> Path:
        return Path(shutil.copytree(self.runs[name], self.tmp / f"{name}-run"))

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


@pytest.fixture
def env(tmp_path, tiny_bert, clean_data, finished_runs) -> Env:
    return Env(tmp_path, tiny_bert, clean_data, finished_runs)


def forbid_model_loading(monkeypatch) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded although the mistake is in the config or the data")

    monkeypatch.setattr(xlingual.runner, "build_model", no_model)
    monkeypatch.setattr(xlingual.runner, "load_checkpoint", no_model)
    monkeypatch.setattr(xlingual.inference, "load_checkpoint", no_model)
    monkeypatch.setattr(xlingual.checkpoint, "load_checkpoint", no_model)


# ----------------------------------------------------------------------------- setups that write bad input


def edit_line(path: Path, number: int, text: str | bytes) -> None:
    """Replace line ``number`` (1-based) of a text file, keeping the others byte for byte."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = text if isinstance(text, bytes) else text.encode("utf-8")
    path.write_bytes(b"\n".join(lines))


def truncate_labels(env: Env) -> list[str]:
    root = env.copy_data()
    labels = root / "english" / "train_labels.txt"
    _write(labels, _read(labels)[:-1])
    return env.train(f"data.root={root}")


def bad_label(env: Env) -> list[str]:
    root = env.copy_data()
    edit_line(root / "english" / "train_labels.txt", 5, "7")
    return env.train(f"data.root={root}")


def blank_text(env: Env) -> list[str]:
    root = env.copy_data()
    edit_line(root / "english" / "val_text.txt", 4, " \t ")
    return env.train(f"data.root={root}")


def not_utf8(env: Env) -> list[str]:
    root = env.copy_data()
    edit_line(root / "spanish" / "test_text.txt", 3, b"caf\xe9 muy bueno")  # Latin-1, not UTF-8
    return env.train(f"data.root={root}")


def csv_without_text_column(env: Env) -> list[str]:
    env.file("csv/english_train.csv", "review,label\ngood movie,2\nbad movie,0\n")
    return env.train("data.format=csv", f"data.root={env.tmp}/csv/{{language}}_{{split}}.csv")


def csv_short_row(env: Env) -> list[str]:
    env.file("csv/english_train.csv", "text,label\ngood movie,2\nbad movie\n")
    return env.train("data.format=csv", f"data.root={env.tmp}/csv/{{language}}_{{split}}.csv")


def malformed_jsonl(env: Env) -> list[str]:
    env.file("jsonl/english_train.jsonl", '{"text": "good", "label": 2}\n\n{"text": "bad", "label": 0\n')
    return env.train("data.format=jsonl", f"data.root={env.tmp}/jsonl/{{language}}_{{split}}.jsonl")


def unequal_pairs(env: Env) -> Callable[[], object]:
    env.file("pairs/tatoeba.spa-eng.eng", "I love it\nI hate it\nThe table\n")
    env.file("pairs/tatoeba.spa-eng.spa", "Me encanta\nLo odio\n")
    return lambda: load_pairs(env.tmp / "pairs", "spanish")


def unequal_pairs_cli(env: Env) -> list[str]:
    unequal_pairs(env)
    return env.train(f"alignment.pairs.root={env.tmp}/pairs", "alignment.pairs.languages=[spanish]",
                     "alignment.losses=[{name: contrastive}]")


def bad_yaml(env: Env) -> list[str]:
    recipe = env.file("bad.yaml", "name: bad\nmodel:\n  pooling: mean\n   max_length: 3\n")
    return ["train", str(recipe)]


def recipe_is_a_list(env: Env) -> list[str]:
    return ["train", str(env.file("list.yaml", "- model\n- data\n"))]


def model_without_config(env: Env) -> list[str]:
    (env.tmp / "not-a-model").mkdir()
    return env.train(f"model.name={env.tmp}/not-a-model")


def model_with_broken_weights(env: Env) -> list[str]:
    model = Path(shutil.copytree(env.bert, env.tmp / "broken-model"))
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return env.train(f"model.name={model}")


def finished_output_dir(env: Env) -> list[str]:
    return env.train(f"output_dir={env.copy_run()}")


def resume_finished_run(env: Env) -> list[str]:
    return [*finished_output_dir(env), "--resume"]


def unfinished_output_dir(env: Env) -> list[str]:
    env.file("run/logs/train_log.jsonl", '{"step": 1}\n')
    env.file(f"run/{MARKER}", "{}")
    return env.train()


def folder_of_user_files(env: Env, *flags: str) -> list[str]:
    env.file("mine/thesis.tex", "years of work")
    return [*env.train(f"output_dir={env.tmp / 'mine'}"), *flags]


def overwrite_data_root(env: Env) -> list[str]:
    root = env.copy_data()
    (root / MARKER).write_text("{}")  # even a folder that looks like a run: it is the data
    return [*env.train(f"data.root={root}", f"output_dir={root}"), "--overwrite"]


def overwrite_parent_of_data(env: Env) -> list[str]:
    root = env.copy_data()
    return [*env.train(f"data.root={root}", f"output_dir={env.tmp}"), "--overwrite"]


def overwrite_working_directory(env: Env) -> list[str]:
    return [*env.train("output_dir=."), "--overwrite"]


def overwrite_recipe_folder(env: Env) -> list[str]:
    recipe = env.file("recipes/mine.yaml", FULL.read_text(encoding="utf-8"))
    (recipe.parent / MARKER).write_text("{}")
    return [*env.train(f"output_dir={recipe.parent}", recipe=recipe), "--overwrite"]


def resume_without_state(env: Env) -> list[str]:
    run = env.copy_run()
    (run / "results.json").unlink()
    return [*env.train_like(run), "--resume"]


def lora_other_base_same_shapes(env: Env) -> list[str]:
    """The tiny BERT with every weight nudged: same architecture and shapes, other weights."""
    import torch
    from transformers import BertModel

    other = env.tmp / "other-bert"
    shutil.copytree(env.bert, other)
    model = BertModel.from_pretrained(env.bert)
    torch.manual_seed(1)
    for parameter in model.parameters():
        parameter.data.add_(torch.randn_like(parameter) * 0.01)
    model.save_pretrained(other)
    return ["predict", str(env.runs["lora"]), "me encanta", "--base-model", str(other)]


def lora_base_of_another_architecture(env: Env) -> list[str]:
    from transformers import BertConfig, BertModel

    other = Path(shutil.copytree(env.bert, env.tmp / "wider-bert"))
    (other / "model.safetensors").unlink()
    config = BertConfig.from_pretrained(env.bert, hidden_size=48, num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(other)
    return ["predict", str(env.runs["lora"]), "--base-model", str(other), "me encanta"]


class Pickled:
    """Not a tensor: torch.load(weights_only=True) refuses to unpickle it."""


def lora_pickled_base(env: Env) -> list[str]:
    import torch
    from safetensors.torch import load_file

    other = Path(shutil.copytree(env.bert, env.tmp / "pickled-bert"))
    (other / "model.safetensors").unlink()
    torch.save({**load_file(env.bert / "model.safetensors"), "extra": Pickled()}, other / "pytorch_model.bin")
    return ["predict", str(env.runs["lora"]), "me encanta", "--base-model", str(other)]


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - 7] ^= 0x01  # inside the last tensor: the file still parses
    path.write_bytes(bytes(data))


def bit_flipped_weights(env: Env, command: str = "predict") -> list[str]:
    run = env.copy_run("full")
    flip_a_byte(run / "checkpoint" / "model.safetensors")
    return ["predict", str(run), "me encanta"] if command == "predict" else ["evaluate", str(run), "--no-progress"]


def bit_flipped_adapter(env: Env) -> list[str]:
    run = env.copy_run("lora")
    flip_a_byte(run / "checkpoint" / "adapter_model.safetensors")
    return ["predict", str(run), "me encanta"]


def fewer_labels_in_config(env: Env, name: str = "full") -> list[str]:
    run = env.copy_run(name)
    path = run / "checkpoint" / "config.json"
    config = json.loads(path.read_text())
    config["id2label"], config["label2id"] = {"0": "negative", "1": "positive"}, {"negative": 0, "positive": 1}
    path.write_text(json.dumps(config))
    return ["predict", str(run), "me encanta", "--no-verify"]


def export_twice(env: Env, *flags: str, user_file: bool = False) -> list[str]:
    out = env.tmp / "exported"
    assert main(["export", str(env.runs["full"]), str(out)]) == 0
    if user_file:
        (out / "my-notes.txt").write_text("keep me")
    return ["export", str(env.runs["full"]), str(out), *flags]


def duplicate_key_recipe(env: Env) -> list[str]:
    recipe = env.file("dup.yaml", "name: dup\ntraining:\n  epochs: 1\n  batch_size: 8\n  epochs: 3\n")
    return ["train", str(recipe)]


def api(call: Callable[[xlingual.inference.Classifier], object]) -> Callable[[Env], Callable[[], object]]:
    return lambda env: lambda: call(classifier(env.runs["full"]))


def output_dir_is_a_file(env: Env) -> list[str]:
    return env.train(f"output_dir={env.file('taken', 'x')}")


def lora_without_head(env: Env) -> list[str]:
    run = env.copy_run("lora")
    (run / "checkpoint" / "head.safetensors").unlink()
    return ["predict", str(run), "me encanta"]


def full_without_weights(env: Env) -> list[str]:
    run = env.copy_run("full")
    (run / "checkpoint" / "model.safetensors").unlink()
    return ["predict", str(run), "me encanta"]


def full_with_broken_weights(env: Env) -> list[str]:
    run = env.copy_run("full")
    weights = run / "checkpoint" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    return ["predict", str(run), "me encanta"]


def lora_base_moved(env: Env) -> list[str]:
    run = env.copy_run("lora")
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    config["base_model"] = str(env.tmp / "moved-encoder")
    (run / "checkpoint" / "config.json").write_text(json.dumps(config))
    return ["predict", str(run), "me encanta"]


def lora_broken_adapter_config(env: Env) -> list[str]:
    run = env.copy_run("lora")
    (run / "checkpoint" / "adapter_config.json").write_text("{}")
    return ["predict", str(run), "me encanta"]


def evaluate_binary(env: Env, *more: str) -> list[str]:
    run = env.copy_run("full")
    return ["evaluate", str(run), "--no-progress", "--set", "data.label_scheme=binary",
            *[arg for o in more for arg in ("--set", o)]]


def marker_not_json(env: Env) -> list[str]:
    run = env.copy_run()
    (run / MARKER).write_text("this is a run folder, trust me")  # a hand-made marker: any text
    return [*env.train_like(run), "--overwrite"]


def edited_config(env: Env) -> Path:
    """The interrupted run with its config.yaml edited (a learning rate the saved state never used)."""
    run = env.copy_run("interrupted")
    config = run / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert "learning_rate: 0.005\n" in text
    config.write_text(text.replace("learning_rate: 0.005\n", "learning_rate: 0.5\n"), encoding="utf-8")
    return run


def fit_with_mapping(env: Env, mapping: dict[str, str], train: dict[str, list]) -> Callable[[], object]:
    recipe = xlingual.load_recipe(None, tiny_recipe_overrides(env.bert, env.data, env.tmp / "fit"))
    return lambda: xlingual.fit(recipe, train=train, column_mapping=mapping, progress=False)


TWO_ROWS = {"label": ["positive", "negative"]}


def bad_hub_template(env: Env) -> Callable[[], object]:
    config = DataConfig(format="hub", root="some/dataset", hub_config="{lang}")
    return lambda: load_examples(config, "spanish", "test")  # the config was never validated


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Env], list[str] | Callable[[], object]]
    pattern: str
    before_model: bool = False
    xfail: str | None = None


def train_with(*assignments: str, recipe: Path = FULL) -> Callable[[Env], list[str]]:
    return lambda env: env.train(*assignments, recipe=recipe)


CASES = [
    # -- recipe and --set mistakes: reported before any data or model is read
    Case("misspelt-key", train_with("training.lerning_rate=1e-4"),
         r"unknown key 'training\.lerning_rate' \(did you mean 'training\.learning_rate'\?\)", True),
    Case("unknown-section", train_with("trainig.epochs=1"), r"unknown key 'trainig' \(did you mean 'training'\?\)",
         True),
    Case("wrong-type", train_with("training.batch_size=sixteen"),
         r"training\.batch_size: expected an integer, got 'sixteen'", True),
    Case("not-a-date", train_with("training.seed=2020-13-45"),
         r"training\.seed: expected an integer, got '2020-13-45'", True),
    Case("negative-learning-rate", train_with("training.learning_rate=-0.001"),
         r"training\.learning_rate: must be positive, got -0\.001", True),
    Case("batch-size-0", train_with("training.batch_size=0"), r"training\.batch_size: must be at least 1, got 0",
         True),
    Case("negative-seed", train_with("training.seed=-1"), r"training\.seed: must be in \[0, 2\*\*32\), got -1", True),
    Case("negative-grad-norm", train_with("training.max_grad_norm=-1"), r"training\.max_grad_norm: must be >= 0",
         True),
    Case("empty-target-languages", train_with("data.target_languages=[]"),
         r"data\.target_languages: the list is empty", True),
    Case("unknown-language", train_with("data.target_languages=spanish,klingon"),
         r"data\.target_languages: unknown language 'klingon'", True),
    Case("misspelt-language", train_with("data.target_languages=spansh"),
         r"data\.target_languages: unknown language 'spansh' \(did you mean 'spanish'\?\)", True),
    Case("source-is-a-target", train_with("data.target_languages=english,spanish"),
         r"data\.target_languages: 'english' is the source language", True),
    Case("train-split-is-test-split", train_with("data.train_split=test"),
         r"data\.train_split: 'test' is also data\.test_split", True),
    Case("unknown-label-scheme", train_with("data.label_scheme=sentiment5"),
         r"data\.label_scheme: unknown scheme 'sentiment5' \(did you mean 'sentiment3'\?\)", True),
    Case("custom-scheme-without-names", train_with("data.label_scheme=custom"),
         r"data\.label_names: label_scheme 'custom' needs the list of class names", True),
    Case("label-map-to-unknown-class", train_with("data.label_map={NEU: neutrall}"),
         r"data\.label_map: 'NEU' maps to 'neutrall'.*\(did you mean 'neutral'\?\)", True),
    Case("unknown-pooling", train_with("model.pooling=avg"), r"model\.pooling: 'avg' is not one of mean, cls, max",
         True),
    Case("invalid-mixed-precision", train_with("training.mixed_precision=fp8"),
         r"training\.mixed_precision: 'fp8' is not one of no, fp16, bf16", True),
    Case("output-dir-placeholder", train_with("output_dir=runs/{nam}-{seed}"),
         r"output_dir: unknown placeholder \{nam\} in 'runs/\{nam\}-\{seed\}' \(did you mean 'name'\?\)", True),
    Case("lora-with-frozen-layers", train_with("freeze.layers=1", recipe=LORA), r"freeze: with lora", True),
    Case("self-training-without-unlabeled-target", train_with("self_training.rounds=1"),
         r"self_training: needs alignment\.unlabeled_target", True),
    Case("loss-without-its-stream", train_with("alignment.losses=[{name: coral}]"),
         r"alignment\.losses\[0\]: 'coral' needs alignment\.unlabeled_target to be set", True),
    Case("contrastive-without-pairs", train_with("alignment.losses=[{name: contrastive}]"),
         r"alignment\.losses\[0\]: 'contrastive' needs alignment\.pairs to be set", True),
    Case("unlabeled-target-is-test-split",
         train_with("alignment.unlabeled_target.split=test", "alignment.losses=[{name: coral}]"),
         r"alignment\.unlabeled_target\.split: 'test' is the test split", True),
    Case("unlabeled-target-zero-examples",
         train_with("alignment.unlabeled_target.max_examples=0", "alignment.losses=[{name: mmd}]"),
         r"alignment\.unlabeled_target\.max_examples: must be a positive integer or null, got 0", True),
    Case("set-without-equals", lambda env: [*env.train(), "--set", "training.epochs"],
         r"--set 'training\.epochs': expected KEY=VALUE", True),
    Case("set-with-empty-key", lambda env: [*env.train(), "--set", "=3"], r"--set '=3': the key is empty", True),
    Case("invalid-yaml", bad_yaml, r"bad\.yaml: line 4, column 14 invalid YAML: mapping values are not allowed", True),
    Case("recipe-not-found", lambda env: ["train", str(env.tmp / "missing.yaml")],
         r"recipe file not found: .*missing\.yaml", True),
    Case("recipe-is-not-a-mapping", recipe_is_a_list, r"list\.yaml: a recipe must be a mapping of sections, got list",
         True),
    # -- data mistakes: reported before any model is loaded, naming the file and line
    Case("missing-data-folder", lambda env: env.train(f"data.root={env.tmp}/nope"),
         r"data folder not found: .*/nope", True),
    Case("missing-language-folder", train_with("data.target_languages=spanish,french"),
         r"no folder for language 'french' \(found: english, german, spanish\)", True),
    Case("missing-split", train_with("data.dev_split=dev"),
         r"english/dev_text\.txt: split 'dev' not found \(found: test_text\.txt, train_text\.txt, val_text\.txt\)",
         True),
    Case("missing-evaluation-split", train_with("evaluation.splits=[tset]"), r"split 'tset' not found", True),
    Case("text-and-labels-differ-in-length", truncate_labels,
         r"english/train_text\.txt has 96 lines but .*english/train_labels\.txt has 95", True),
    Case("label-outside-scheme", bad_label,
         r"english/train_labels\.txt:5: label '7' is not in label scheme 'sentiment3'", True),
    Case("whitespace-only-text", blank_text, r"english/val_text\.txt:4: the text is empty or whitespace only", True),
    Case("not-utf8", not_utf8, r"spanish/test_text\.txt:3: not valid UTF-8", True),
    Case("every-label-dropped", train_with("data.drop_labels=[0, 1, 2]"), r"english/train_\{text,labels\}\.txt: no "
         r"examples", True),
    Case("csv-without-text-column", csv_without_text_column,
         r"english_train\.csv:2: no 'text' column \(text_column\).*columns: review, label", True),
    Case("csv-short-row", csv_short_row, r"english_train\.csv:3: fewer fields than the header has", True),
    Case("csv-one-file-without-language-column",
         lambda env: env.train("data.format=csv", f"data.root={env.file('all.csv', 'text,label')}"),
         r"data\.root: one file for every language needs data\.language_column", True),
    Case("csv-unknown-placeholder",
         lambda env: env.train("data.format=csv", f"data.root={env.tmp}/{{lang}}_{{split}}.csv"),
         r"data\.root: unknown placeholder \{lang\}.*\(did you mean 'language'\?\)", True),
    Case("malformed-jsonl", malformed_jsonl, r"english_train\.jsonl:3: invalid JSON", True),
    Case("pairs-unequal-line-counts", unequal_pairs,
         r"tatoeba\.spa-eng\.eng has 3 lines but .*tatoeba\.spa-eng\.spa has 2: translation pairs must be "
         r"line-aligned"),
    Case("pairs-unequal-line-counts-cli", unequal_pairs_cli, r"tatoeba\.spa-eng\.eng has 3 lines but", True),
    Case("pairs-tsv-not-utf8",
         lambda env: functools.partial(load_pairs, env.file("p.tsv", b"I love it\tMe encant\xe1"), "es"),
         r"p\.tsv:1: not valid UTF-8"),
    Case("hub-config-unknown-placeholder", bad_hub_template, r"data\.hub_config: invalid template '\{lang\}'"),
    Case("unlabeled-target-file-missing",
         train_with("alignment.unlabeled_target.root=/nonexistent/unlabeled.{language}.txt",
                    "alignment.losses=[{name: coral}]"),
         r"file not found: /nonexistent/unlabeled\.spanish\.txt", True),
    # -- model mistakes: reported when the model is loaded, naming the folder or the setting
    Case("model-path-does-not-exist", lambda env: env.train(f"model.name={env.tmp}/no-such-model"),
         r"model folder not found: .*/no-such-model"),
    Case("model-folder-without-config", model_without_config,
         r"not-a-model: no config\.json; this is not a Hugging Face model folder"),
    Case("model-weights-damaged", model_with_broken_weights, r"could not load the model in .*/broken-model: "),
    Case("lora-target-module-does-not-exist", train_with("lora.target_modules=[query, vaule]", recipe=LORA),
         r"lora\.target_modules: 'vaule' is not a module of BertModel \(did you mean 'value'\?\)"),
    Case("lora-target-module-bad-regex", train_with("lora.target_modules=['query(']", recipe=LORA),
         r"lora\.target_modules: 'query\(' is neither a module name nor a valid regular expression"),
    Case("max-length-over-model-limit", train_with("model.max_length=512"),
         r"model\.max_length: 512 is over .*tiny-bert's limit of 64"),
    Case("freeze-more-layers-than-the-model-has", train_with("freeze.layers=5"),
         r"freeze\.layers: 5 is more than the model's 2 layers"),
    # -- run folder mistakes: refused before anything is read or written
    Case("output-dir-holds-a-finished-run", finished_output_dir,
         r"full-run already holds a finished run; pass --overwrite", True),
    Case("resume-a-finished-run", resume_finished_run, r"full-run already holds a finished run", True),
    Case("output-dir-holds-an-unfinished-run", unfinished_output_dir,
         r"run already holds an unfinished run; pass --resume to continue it or --overwrite", True),
    # -- output folders are owned: only a folder carrying the run marker is resumed or replaced
    Case("output-dir-holds-user-files", folder_of_user_files,
         r"^(?!.*--overwrite).*output_dir .*/mine is not empty and is not an xlingual run folder", True),
    Case("overwrite-a-folder-of-user-files", lambda env: folder_of_user_files(env, "--overwrite"),
         r"output_dir .*/mine is not empty and is not an xlingual run folder", True),
    Case("resume-in-a-folder-of-user-files", lambda env: folder_of_user_files(env, "--resume"),
         r"output_dir .*/mine is not empty and is not an xlingual run folder", True),
    Case("overwrite-data-root", overwrite_data_root, r"refusing to overwrite .*/data: it is data\.root", True),
    Case("overwrite-parent-of-data-root", overwrite_parent_of_data,
         r"refusing to overwrite .*: it contains data\.root", True),
    Case("overwrite-working-directory", overwrite_working_directory,
         r"refusing to overwrite \.: it is the working directory", True),
    Case("overwrite-recipe-folder", overwrite_recipe_folder,
         r"refusing to overwrite .*/recipes: it (is|contains) the recipe's folder", True),
    Case("overwrite-and-resume", lambda env: [*env.train(f"output_dir={env.unfinished()}"), "--overwrite", "--resume"],
         r"--overwrite and --resume contradict each other", True),
    Case("resume-an-empty-folder", lambda env: [*env.train(), "--resume"],
         r"--resume: .*/run holds no run to resume", True),
    Case("resume-without-saved-state", resume_without_state,
         r"--resume: .*/full-run holds no saved training state .*; pass --overwrite to start it again", True),
    Case("resume-with-changed-learning-rate",
         lambda env: [*env.train_like(env.unfinished(), "training.learning_rate=0.5"), "--resume"],
         r"--resume: the settings differ from the run's config\.yaml in training\.learning_rate \(0\.005 -> 0\.5\)",
         True),
    Case("resume-with-changed-seed",
         lambda env: [*env.train_like(env.unfinished(), "training.seed=7", "training.learning_rate=0.5"), "--resume"],
         r"training\.learning_rate \(0\.005 -> 0\.5\), training\.seed \(1 -> 7\)", True),
    Case("resume-with-a-damaged-state", lambda env: [*env.train_like(env.unfinished()), "--resume"],
         r"--resume: the saved training state in .*/full-run/state is damaged "
         r"\(FileNotFoundError: .*optimizer\.safetensors\); pass --overwrite"),
    # -- config strictness
    Case("duplicate-key-in-recipe", duplicate_key_recipe, r"dup\.yaml: line 5, column 3 invalid YAML: duplicate key "
         r"'epochs' \(first at line 3\)", True),
    Case("yaml-error-in-set-value", train_with("data.drop_labels=[NONE"),
         r"--set data\.drop_labels: invalid YAML value '\[NONE'", True),
    Case("unknown-drop-label", train_with("data.drop_labels=[NONE]"),
         r"data\.drop_labels: 'NONE' is not a label of the data read \(.*english/train", True),
    Case("empty-recipe", lambda env: ["train", str(env.file("empty.yaml", "# nothing yet\n"))],
         r"empty\.yaml: the recipe is empty", True),
    Case("recipe-is-a-folder", lambda env: ["train", str(env.tmp)], r"recipe .* is a folder; give a recipe YAML file",
         True),
    Case("name-with-path-separators", train_with("name=../../../x", "output_dir=runs/{name}-{seed}"),
         r"name: '\.\./\.\./\.\./x' must be a plain name \(no path separators", True),
    Case("target-languages-unclosed-list", train_with("data.target_languages=[spanish, german"),
         r"--set data\.target_languages: invalid YAML value", True),
    Case("splits-as-a-mapping", train_with("evaluation.splits={test: 1}"),
         r"evaluation\.splits: expected a list such as \[a, b\], got dict", True),
    Case("target-modules-as-a-mapping", train_with("lora.target_modules={query: value}", recipe=LORA),
         r"lora\.target_modules: expected a list such as \[a, b\], got dict", True),
    Case("losses-as-a-name", train_with("alignment.losses=coral"),
         r"alignment\.losses\[0\]: expected a mapping of settings such as \{name: \.\.\.\}, got str 'coral'", True),
    Case("label-map-without-braces", train_with("data.label_map=P:positive"),
         r"data\.label_map: expected a mapping such as \{key: value\}, got str 'P:positive'", True),
    Case("output-dir-is-a-file", output_dir_is_a_file, r"output_dir .*/taken exists and is not a folder", True),
    # -- checkpoints: predict, evaluate, export
    Case("predict-without-texts", lambda env: ["predict", str(env.runs["full"])],
         r"predict: give texts as arguments or --file", True),
    Case("predict-run-not-found", lambda env: ["predict", str(env.tmp / "nope"), "hola"],
         r"checkpoint not found: .*/nope"),
    Case("predict-file-not-found", lambda env: ["predict", str(env.runs["full"]), "--file", str(env.tmp / "t.txt")],
         r"file not found: .*/t\.txt", True),
    Case("lora-checkpoint-without-head", lora_without_head, r"LoRA checkpoint is missing head\.safetensors"),
    Case("full-checkpoint-without-weights", full_without_weights,
         r"full-run/checkpoint: missing model\.safetensors \(and no LoRA adapter files\)"),
    Case("full-checkpoint-weights-damaged", full_with_broken_weights,
         r"checkpoint/model\.safetensors: sha256 differs from the one recorded when the checkpoint was written"),
    Case("full-checkpoint-weights-damaged-no-verify", lambda env: [*full_with_broken_weights(env), "--no-verify"],
         r"checkpoint/model\.safetensors: unreadable weights file"),
    Case("lora-base-encoder-moved", lora_base_moved,
         r"base encoder: model folder not found: .*/moved-encoder; pass --base-model"),
    Case("lora-adapter-config-damaged", lora_broken_adapter_config, r"could not load the LoRA adapter"),
    Case("evaluate-label-scheme-differs", evaluate_binary,
         r"the checkpoint's classes \['negative', 'neutral', 'positive'\] differ from the data's label scheme "
         r"\['negative', 'positive'\]"),
    Case("evaluate-label-scheme-differs-labels-dropped", lambda env: evaluate_binary(env, "data.drop_labels=[2]"),
         r"the checkpoint's classes \['negative', 'neutral', 'positive'\] differ from the data's label scheme "
         r"\['negative', 'positive'\]"),
    Case("evaluate-not-a-run", lambda env: ["evaluate", str(env.tmp)], r"no config\.yaml; pass a run folder", True),
    Case("evaluate-unknown-language", lambda env: ["evaluate", str(env.runs["full"]), "--languages", "klingon"],
         r"--languages: unknown language 'klingon'", True),
    Case("export-lora-without-merge", lambda env: ["export", str(env.runs["lora"]), str(env.tmp / "out")],
         r"is a LoRA run: pass --merge", True),
    Case("export-into-a-folder-of-other-files",
         lambda env: ["export", str(env.runs["full"]), str(env.file("mine/notes.txt", "keep me").parent)],
         r"export folder .*/mine already exists and is not an xlingual export; choose a new folder", True),
    Case("export-onto-a-file", lambda env: ["export", str(env.runs["full"]), str(env.file("out.bin", b"x"))],
         r"export folder .*/out\.bin exists and is not a folder", True),
    Case("export-over-an-export", export_twice, r"export folder .*/exported already holds an xlingual export; "
         r"pass --overwrite"),
    Case("export-overwrite-keeps-user-files", lambda env: export_twice(env, "--overwrite", user_file=True),
         r"export folder .*/exported holds files xlingual did not write \(my-notes\.txt\)"),
    Case("export-overwrite-another-run", lambda env: ["export", str(env.runs["full"]), str(env.copy_run("lora")),
                                                     "--overwrite"],
         r"export folder .*/lora-run already exists and is not an xlingual export", True),
    Case("export-overwrite-its-own-checkpoint",
         lambda env: ["export", str(run := env.copy_run()), str(run / "checkpoint"), "--overwrite"],
         r"refusing to export into .*/full-run/checkpoint: it is the checkpoint being exported", True),
    # -- checkpoints are verified, and their mistakes named
    Case("bit-flipped-weights", bit_flipped_weights,
         r"checkpoint/model\.safetensors: sha256 differs from the one recorded .*; pass --no-verify"),
    Case("bit-flipped-weights-evaluate", lambda env: bit_flipped_weights(env, "evaluate"),
         r"checkpoint/model\.safetensors: sha256 differs"),
    Case("bit-flipped-adapter", bit_flipped_adapter, r"checkpoint/adapter_model\.safetensors: sha256 differs"),
    Case("lora-other-base-same-shapes", lora_other_base_same_shapes,
         r"the base encoder .*/other-bert has other weights than the one this LoRA checkpoint was trained on"),
    Case("lora-base-of-another-architecture", lora_base_of_another_architecture,
         r"the base encoder .*/wider-bert has hidden_size 48, the LoRA checkpoint was trained on one with 32"),
    Case("lora-pickled-base", lora_pickled_base, r"pickled-bert/pytorch_model\.bin: refused to unpickle it"),
    Case("label-count-differs-from-head", fewer_labels_in_config,
         r"checkpoint/model\.safetensors: the head has 3 outputs but .*config\.json lists 2 classes"),
    Case("label-count-differs-from-lora-head", lambda env: fewer_labels_in_config(env, "lora"),
         r"checkpoint/head\.safetensors: the head has 3 outputs but .*config\.json lists 2 classes"),
    Case("predict-with-a-plain-encoder", lambda env: ["predict", str(env.bert), "me encanta"],
         r"tiny-bert/config\.json: a 'bert' model, not an xlingual classifier"),
    Case("predict-empty-text", lambda env: ["predict", str(env.runs["full"]), "me encanta", " "],
         r"predict: text argument 2 is empty or whitespace only", True),
    Case("predict-batch-size-0", lambda env: ["predict", str(env.runs["full"]), "hola", "--batch-size", "0"],
         r"--batch-size: must be at least 1, got 0", True),
    Case("cli-unknown-option", lambda env: ["predict", str(env.runs["full"]), "hola", "--jsn"],
         r"unrecognized arguments: --jsn", True),
    # -- the Python API checks its inputs
    Case("api-predict-none", api(lambda clf: clf.predict([None])), r"texts\[0\]: expected a string, got NoneType"),
    Case("api-predict-int", api(lambda clf: clf.predict(["ok", 42])), r"texts\[1\]: expected a string, got int 42"),
    Case("api-predict-bytes-item", api(lambda clf: clf.predict([b"x"])), r"texts\[0\]: expected a string, got bytes"),
    Case("api-predict-bytes", api(lambda clf: clf.predict(b"x")), r"texts: got bytes; decode them"),
    Case("api-predict-nested-list", api(lambda clf: clf.predict([["x"]])), r"texts\[0\]: expected a string, got list"),
    Case("api-predict-generator-of-ints", api(lambda clf: clf.predict(i for i in range(2))),
         r"texts\[0\]: expected a string, got int"),
    Case("api-predict-lone-surrogate", api(lambda clf: clf.predict(["ok", "bad \udc80"])),
         r"texts\[1\]: not valid Unicode \(surrogates not allowed at character 4\)"),
    Case("api-predict-empty-string", api(lambda clf: clf.predict("")), r"text: the text is empty or whitespace only"),
    Case("api-predict-none-at-all", api(lambda clf: clf.predict(None)),
         r"texts: expected a string or a list of strings, got NoneType"),
    Case("api-predict-batch-size-0", api(lambda clf: clf.predict(["x"], batch_size=0)),
         r"batch_size: must be a positive integer, got 0"),
    Case("api-load-none", lambda env: lambda: xlingual.load(None),
         r"load\(\): expected the path of a run or checkpoint folder \(str or Path\), got NoneType"),
    Case("api-load-int", lambda env: lambda: xlingual.load(42), r"load\(\): expected the path .*, got int 42"),
    Case("export-into-the-working-directory", lambda env: ["export", str(env.runs["full"]), "."],
         r"refusing to export into \.: it is the working directory"),
    Case("export-into-the-run-itself", lambda env: ["export", str(env.runs["full"]), str(env.runs["full"])],
         r"refusing to export into .*/full: it contains the checkpoint being exported"),
    Case("predict-file-is-a-folder", lambda env: ["predict", str(env.runs["full"]), "--file", str(env.tmp)],
         r"is a folder, not a text file", True),
    Case("output-dir-name-too-long", lambda env: env.train(f"output_dir={env.tmp / ('x' * 300)}"),
         r"error: File name too long: .*/xxxx", True),
    *([Case("mixed-precision-without-a-gpu", train_with("training.mixed_precision=fp16"),
            r"training\.mixed_precision: fp16 needs a CUDA GPU and torch sees none", True)]
      if not CUDA else []),
    Case("sweep-seeds-not-integers", lambda env: ["sweep", str(FULL), "--seeds", "1,two"],
         r"--seeds: expected comma-separated integers, got '1,two'", True),
    # -- the last holes of the 190-input sweep on 9bb8527 (each passed, or said the wrong thing, there)
    Case("marker-that-is-not-json", marker_not_json,
         r"full-run/\.xlingual-run\.json is not a run marker \(not a JSON object\); xlingual does not replace", True),
    Case("resume-with-set-matching-an-edited-config",
         lambda env: [*env.train_like(edited_config(env), *INTERRUPTED, "training.learning_rate=0.5"), "--resume"],
         r"--resume: the settings differ from the settings the run started with \(kept in its training state\) "
         r"in training\.learning_rate \(0\.005 -> 0\.5\);.*drop or correct the --set of training\.learning_rate",
         True),
    Case("resume-after-editing-config",
         lambda env: [*env.train_like(edited_config(env), *INTERRUPTED), "--resume"],
         r"^(?!.*--set of).*interrupted-run/config\.yaml was edited after the run started in "
         r"training\.learning_rate \(0\.005 -> 0\.5\); .*undo the edit", True),
    Case("extra-source-is-target-language-data", lambda env: env.train(f"data.extra_source.root={env.data}/spanish"),
         r"data\.extra_source\.root: \d+ of \d+ distinct texts of .*spanish/train.* are spanish data of this recipe",
         True),
    Case("fit-column-mapping-names-a-missing-column",
         lambda env: fit_with_mapping(env, {"lng": "language"}, {"text": ["good", "bad"], **TWO_ROWS}),
         r"column_mapping names a column 'lng' \(for 'language'\) that is not in the data; columns: train: "
         r"\['label', 'text'\]", True),
    Case("fit-column-mapping-text-column-missing",
         lambda env: fit_with_mapping(env, {"review": "text"}, {"body": ["good", "bad"], **TWO_ROWS}),
         r"column_mapping names a column 'review' \(for 'text'\) that is not in the data; columns: train: \['body', "
         r"'label'\]", True),
    Case("fit-column-mapping-missing-in-one-table",
         lambda env: fit_with_mapping(env, {"review": "text"}, {"english": {"review": ["good", "bad"], **TWO_ROWS},
                                                               "german": {"body": ["gut", "schlecht"], **TWO_ROWS}}),
         r"train\[german\]: column_mapping names a column 'review' \(for 'text'\) that is not in the data; columns: "
         r"\['body', 'label'\]", True),
    Case("evaluate-name-climbs-out",
         lambda env: ["evaluate", str(env.copy_run()), "--name", "../../x", "--no-progress"],
         r"--name '\.\./\.\./x': must be a plain folder name", True),
    Case("evaluate-name-absolute",
         lambda env: ["evaluate", str(env.copy_run()), "--name", str(env.tmp / "elsewhere"), "--no-progress"],
         r"--name '.*/elsewhere': must be a plain folder name", True),
]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_the_table_is_big_enough():
    assert len(CASES) >= 120 and len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_is_one_clear_error(case: Case, env: Env, capsys, monkeypatch):
    cwd = env.tmp / "cwd"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("the user's working directory")
    monkeypatch.chdir(cwd)
    action = case.setup(env)
    if case.before_model:
        forbid_model_loading(monkeypatch)
    watched = (env.tmp, env.data, *env.runs.values())
    before = tree_hash(*watched)
    if callable(action):
        with pytest.raises(XlingualError) as info:
            action()
        message = str(info.value)
        assert "\n" not in message, message
    else:
        capsys.readouterr()
        code = main(action)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        message = lines[0]
    assert re.search(case.pattern, message), message
    assert tree_hash(*watched) == before, "a mistake changed files (or left an output folder behind)"


def test_duplicates_between_train_and_test_warn_but_do_not_stop(env: Env, capsys, monkeypatch):
    def stop(*args, **kwargs):
        raise XlingualError("stopped where the model would be built")

    monkeypatch.setattr(xlingual.runner, "build_model", stop)
    assert main(env.train()) == 2  # the clean data: no warning
    assert capsys.readouterr().err.strip().splitlines() == ["error: stopped where the model would be built"]

    root = env.copy_data()
    train = _read(root / "english" / "train_text.txt")
    test = _read(root / "english" / "test_text.txt")
    _write(root / "english" / "test_text.txt", [*train[:2], *test[2:]])
    assert main(env.train(f"data.root={root}", f"output_dir={env.tmp}/run2")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[1] == "error: stopped where the model would be built", lines
    assert re.fullmatch(r"warning: [1-9]\d* training texts also appear in the evaluation data \(.*english.*\)",
                        lines[0]), lines


# ----------------------------------------------------------------------------- what must keep working


def test_python_api_takes_what_a_user_would_pass(finished_runs):
    clf = classifier(finished_runs["full"])
    assert clf.predict([]) == [] and clf.predict_proba([]).shape == (0, 3) and clf.embed([]).shape == (0, 32)
    one = clf.predict("me encanta")
    assert isinstance(one, xlingual.inference.Prediction)
    assert one == clf.predict(["me encanta"])[0]
    assert clf.predict_proba("me encanta").shape == (3,)
    assert clf.predict(text for text in ("me encanta", "lo odio")) == clf.predict(["me encanta", "lo odio"])
    assert clf.predict(("me encanta",)) == clf.predict(["me encanta"])
    assert xlingual.load(str(finished_runs["full"])).labels == xlingual.load(finished_runs["full"]).labels


def test_cli_options_after_positional_arguments(finished_runs, tiny_bert, tmp_path, capsys):
    run = finished_runs["lora"]
    assert main(["predict", str(run), "--json", "me encanta", "--base-model", str(tiny_bert), "lo odio"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in rows] == ["me encanta", "lo odio"]
    moved = Path(shutil.copytree(tiny_bert, tmp_path / "moved-copy"))  # same weights elsewhere: accepted
    assert main(["predict", str(run), "me encanta", "--base-model", str(moved)]) == 0
    assert capsys.readouterr().out.split()[0] == rows[0]["label"]
    assert main(["export", "--merge", str(run), str(tmp_path / "out"), "--base-model", str(moved)]) == 0


def test_no_verify_loads_a_checkpoint_that_changed(env: Env, capsys):
    run = env.copy_run("full")
    flip_a_byte(run / "checkpoint" / "model.safetensors")
    assert main(["predict", str(run), "me encanta"]) == 2
    capsys.readouterr()
    assert main(["predict", str(run), "me encanta", "--no-verify"]) == 0
    assert xlingual.load(run, verify=False).predict("me encanta").label


def test_overwrite_replaces_only_what_a_run_wrote(env: Env, capsys):
    run = env.copy_run("full")
    (run / "my-notes.txt").write_text("written by the user, inside the run folder")
    command = env.train_like(run)
    assert main(command) == 2  # a finished run: refused without --overwrite
    assert "already holds a finished run; pass --overwrite" in capsys.readouterr().err
    assert main([*command, "--overwrite"]) == 0
    assert (run / "my-notes.txt").read_text() == "written by the user, inside the run folder"
    assert (run / MARKER).is_file() and (run / "results.json").is_file()


def test_sweep_starts_again_a_run_stopped_before_its_first_state(env: Env, monkeypatch):
    """A sweep resumes runs with saved state and reruns (--overwrite) its own runs that have none."""
    import xlingual.sweep

    calls = []
    monkeypatch.setattr(xlingual.sweep, "launch", lambda command, env, log, **kwargs: calls.append(command) or 1)
    sweep = env.tmp / "sweep"
    overrides = tiny_recipe_overrides(env.bert, env.data, env.tmp / "unused")[:-1]
    stopped = sweep / "umsab_e5small" / "seed1"
    stopped.mkdir(parents=True)
    (stopped / MARKER).write_text("{}")
    saved = sweep / "umsab_e5small" / "seed2"
    (saved / "state").mkdir(parents=True)
    (saved / MARKER).write_text("{}")
    (saved / "state" / "state.json").write_text("{}")
    xlingual.sweep.run_sweep([str(FULL)], [1, 2, 3], sweep, overrides)
    flags = [[arg for arg in command if arg in ("--resume", "--overwrite")] for command in calls]
    assert flags == [["--overwrite"], ["--resume"], []]
