"""Pseudo-labels from a teacher: the ensemble's probabilities, the selection rules, the dataset folder."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import REPO, tiny_recipe_overrides

import xlingual
from xlingual.cli import main
from xlingual.config import DataConfig
from xlingual.data.loading import load_examples
from xlingual.errors import ConfigError
from xlingual.pseudo_labeling import load_teachers, teacher_probabilities
from xlingual.training.pseudo_labels import estimate_prior, prior_quota, select

RECIPE = REPO / "recipes" / "umsab_e5small.yaml"


@pytest.fixture(scope="module")
def teachers(tiny_bert, toy_umsab, tmp_path_factory):
    base = tmp_path_factory.mktemp("teachers")
    return [xlingual.train(RECIPE, tiny_recipe_overrides(tiny_bert, toy_umsab, base / f"seed{seed}", **{
        "training.epochs": 2, "training.learning_rate": 5e-3, "training.seed": seed}), progress=False)
            for seed in (1, 2)]


def test_the_ensemble_teacher_is_the_mean_of_its_members(teachers, toy_umsab):
    texts = (toy_umsab / "spanish" / "train_text.txt").read_text(encoding="utf-8").split("\n")
    members = load_teachers(teachers)
    each = [xlingual.load(run).predict_proba(texts) for run in teachers]
    assert not torch.allclose(each[0], each[1])  # two seeds: two views
    assert torch.allclose(teacher_probabilities(members, texts), (each[0] + each[1]) / 2, atol=1e-7)
    assert torch.equal(teacher_probabilities(members[:1], texts), each[0])


def test_class_balanced_keeps_k_per_class_or_all_and_says_so():
    # 6 texts of class 0, 3 of class 1, 1 of class 2 (by the teacher's argmax), confidences 0.4..0.95
    rows = [[0.9 - 0.05 * i, 0.05 + 0.05 * i, 0.05] for i in range(6)] + \
           [[0.1, 0.8 - 0.1 * i, 0.1 + 0.1 * i] for i in range(3)] + [[0.1, 0.1, 0.8]]
    probabilities = torch.tensor(rows)
    indices, labels, record = select(probabilities, "class-balanced", k=4)
    assert record["kept"] == [4, 3, 1] and record["short"] == [1, 2]  # k of class 0; all of 1 and 2, said so
    assert indices == [0, 1, 2, 3, 6, 7, 8, 9]  # the most confident of class 0
    assert labels == [0, 0, 0, 0, 1, 1, 1, 2]


def test_prior_matched_keeps_the_estimated_mix_of_a_skewed_pool():
    generator = torch.Generator().manual_seed(0)
    truth = torch.tensor([0] * 600 + [1] * 250 + [2] * 150)  # a skewed target pool: 60/25/15
    logits = torch.randn(1000, 3, generator=generator) + 2.5 * torch.nn.functional.one_hot(truth, 3)
    probabilities = torch.softmax(logits, dim=-1)
    prior = estimate_prior(probabilities)
    assert prior[0] > prior[1] > prior[2]  # the teacher's mean prediction sees the skew
    _, labels, record = select(probabilities, "prior-matched", k=100)
    assert record["quota"] == prior_quota(100, prior) and sum(record["quota"]) == 100
    assert record["kept"] == record["quota"] and not record["short"]
    kept_mix = [labels.count(c) / len(labels) for c in range(3)]
    assert all(abs(kept_mix[c] - prior[c]) <= 0.01 for c in range(3)), (kept_mix, prior)
    # a class-balanced draw would have taught a uniform mix instead
    assert select(probabilities, "class-balanced", k=34)[2]["kept"] == [34, 34, 34]
    assert prior_quota(10, [0.5, 0.3, 0.2]) == [5, 3, 2] and prior_quota(7, [1, 1, 1]) == [3, 2, 2]


def test_threshold_and_all_soft_rules():
    probabilities = torch.tensor([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    assert select(probabilities, "threshold", threshold=0.75)[:2] == ([0, 2], [0, 2])
    assert select(probabilities, "all-soft")[:2] == ([0, 1, 2], [0, 0, 2])
    with pytest.raises(ValueError, match="needs k >= 1"):
        select(probabilities, "prior-matched")


def test_pseudo_label_command_writes_a_dataset_folder(teachers, toy_umsab, tmp_path, capsys):
    out = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(out), "--k", "12"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rule"] == "prior-matched" and manifest["ensemble"] and len(manifest["teachers"]) == 2
    assert all(t["sha256"] for t in manifest["teachers"])  # the teachers' weights, by fingerprint
    spanish = manifest["languages"]["spanish"]
    kept = spanish["kept"]
    # the tiny teachers lean on one class: the quota of a class they never predict is short, and said so
    assert 0 < kept <= 12 and sum(spanish["kept_per_class"].values()) == kept and spanish["pool"] == 96
    assert (kept == 12) == (not spanish["short_classes"])
    assert f"spanish: kept {kept} of 96" in printed and "german: kept" in printed
    assert spanish["confidence_kept"]["q50"] >= spanish["confidence_all"]["q50"]
    # a recipe reads it as data: the UMSAB layout, class indices as labels
    examples = load_examples(DataConfig(root=str(out), target_languages=["german"]), "spanish", "train")
    assert len(examples) == kept and examples.labels is not None
    probabilities = [json.loads(line) for line in (out / "spanish" / "train_probabilities.jsonl").read_text().split(
        "\n") if line]
    assert [max(range(3), key=p.__getitem__) for p in probabilities] == examples.labels
    # no test-split text reached the pseudo-labels: they come from the train split, labels dropped
    test = set((toy_umsab / "spanish" / "test_text.txt").read_text(encoding="utf-8").split("\n"))
    train = set((toy_umsab / "spanish" / "train_text.txt").read_text(encoding="utf-8").split("\n"))
    assert set(examples.texts) <= train and not (set(examples.texts) & (test - train))
    # replaced only with --overwrite, and never over other files
    assert main(["pseudo-label", str(teachers[0]), "--out", str(out)]) == 2
    assert "already holds pseudo-labels; pass --overwrite" in capsys.readouterr().err
    assert main(["pseudo-label", str(teachers[0]), "--out", str(out), "--overwrite", "--rule", "threshold",
                 "--threshold", "0.34"]) == 0
    assert json.loads((out / "manifest.json").read_text())["rule"] == "threshold"


def test_pseudo_label_refuses_the_test_split_and_bad_rules(teachers, tmp_path):
    from xlingual.pseudo_labeling import pseudo_label

    with pytest.raises(ConfigError, match="--split test: that is the test split"):
        pseudo_label(teachers, tmp_path / "x", split="test")
    with pytest.raises(ConfigError, match="--threshold: the threshold rule needs a value"):
        pseudo_label(teachers, tmp_path / "x", rule="threshold")
    assert not (tmp_path / "x").exists()


def test_a_student_trains_on_the_pseudo_labels_and_says_so(teachers, tiny_bert, toy_umsab, tmp_path, capsys):
    from xlingual.results import Results

    pseudo = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(pseudo), "--rule", "class-balanced",
                 "--k", "5"]) == 0
    manifest = json.loads((pseudo / "manifest.json").read_text())
    student = xlingual.train(RECIPE, [*tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "student", **{
        "training.epochs": 1}), f"data.pseudo_labeled={{root: {pseudo}}}"], progress=False)
    results = Results.read(student / "results.json")
    assert "pseudo-labels" in results.protocol.target_resources  # compare keeps it apart from zero-shot runs
    record = results.protocol.pseudo_labels
    assert record.teachers == manifest["teachers"] and record.rule == "class-balanced"
    assert record.kept == {lang: entry["kept"] for lang, entry in manifest["languages"].items()}
    kept = sum(record.kept.values())
    assert results.train_eval_overlap.train_examples == 96 + kept  # English plus every pseudo-labelled text
    assert set(record.class_mix_shift) == {"spanish", "german"} and record.class_mix_split == "test"
    assert results.protocol.cost.to_dict() == {"runs": 3.0, "own_training": 1.0, "teachers": [
        {"run": str(t), "runs": 1.0} for t in teachers]}  # the ensemble of two teachers counts two runs
    # no test-split text reached the training stream
    pseudo_texts = {t for lang in manifest["languages"] for t in
                    (pseudo / lang / "train_text.txt").read_text(encoding="utf-8").split("\n") if t}
    for lang in manifest["languages"]:
        test = set((toy_umsab / lang / "test_text.txt").read_text(encoding="utf-8").split("\n"))
        train = set((toy_umsab / lang / "train_text.txt").read_text(encoding="utf-8").split("\n"))
        assert not (pseudo_texts & (test - train))
    with pytest.raises(xlingual.XlingualError, match=r"holds no manifest\.json"):
        xlingual.train(RECIPE, [*tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "bad"),
                                f"data.pseudo_labeled={{root: {tmp_path}}}"], progress=False)


def test_soft_label_kl_is_zero_when_the_student_equals_the_teacher():
    from xlingual.objectives.soft_label_kl import SoftLabelKLLoss, temper

    teacher = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    for t in (1.0, 2.0, 0.5):
        loss = SoftLabelKLLoss(t)
        assert loss(teacher.log(), teacher).item() == pytest.approx(0.0, abs=1e-6)  # same logits up to a constant
        assert loss(teacher.log() + 3.0, teacher).item() == pytest.approx(0.0, abs=1e-6)
        assert loss(torch.zeros(6, 3), teacher).item() > 1e-3  # a uniform student is not the teacher
    # T = 1 with a one-hot teacher is cross-entropy; T² scaling and tempering follow the formula
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 2, 1, 2]), 3).float()
    assert SoftLabelKLLoss(1.0)(logits, one_hot).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, one_hot.argmax(1)).item(), abs=1e-5)
    q = temper(teacher, 2.0)
    expected = 4 * (q * (q.log() - torch.log_softmax(logits.repeat(2, 1)[:6] / 2, dim=1))).sum(1).mean()
    assert SoftLabelKLLoss(2.0)(logits.repeat(2, 1)[:6], teacher).item() == pytest.approx(expected.item(), rel=1e-5)


def test_task_loss_mixes_hard_and_soft_rows_and_weights():
    from xlingual.data.batching import TokenizedExamples
    from xlingual.objectives.soft_label_kl import SoftLabelKLLoss
    from xlingual.training.loop import task_loss

    data = TokenizedExamples([[1, 2], [1, 2, 3], [4]], [0, 2, 1], "x", 0,
                             targets=[None, [0.2, 0.3, 0.5], None], weights=[1.0, 0.5, 1.0])
    batch = data.batch([0, 1, 2])
    assert batch["soft_mask"].tolist() == [False, True, False] and batch["weights"].tolist() == [1.0, 0.5, 1.0]
    logits = torch.randn(3, 3, generator=torch.Generator().manual_seed(2))
    kl = SoftLabelKLLoss(1.0, reduction="none")
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2, 1]), reduction="none")
    expected = (ce[0] + 0.5 * kl(logits[1:2], torch.tensor([[0.2, 0.3, 0.5]]))[0] + ce[2]) / 3
    assert task_loss(logits, batch, kl).item() == pytest.approx(expected.item(), rel=1e-6)
    plain = TokenizedExamples([[1, 2], [4]], [0, 1], "x", 0).batch([0, 1])
    assert set(plain) == {"input_ids", "attention_mask", "labels"}  # no soft rows: the plain loss, unchanged
    assert task_loss(logits[:2], plain, kl).item() == torch.nn.functional.cross_entropy(
        logits[:2], torch.tensor([0, 1])).item()


def test_a_soft_label_student_reads_the_teacher_probabilities(teachers, tiny_bert, toy_umsab, tmp_path):
    from xlingual.config import load_recipe
    from xlingual.data.loading import load_pseudo_labeled
    from xlingual.results import Results

    pseudo = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(pseudo), "--rule", "all-soft"]) == 0
    recipe = load_recipe(RECIPE, [*tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "student", **{
        "training.epochs": 1}), f"data.pseudo_labeled={{root: {pseudo}, targets: soft, temperature: 2, weight: 0.5}}"])
    loaded = load_pseudo_labeled(recipe.data)
    spanish = loaded["spanish"]
    written = [json.loads(line) for line in (pseudo / "spanish" / "train_probabilities.jsonl").read_text().splitlines()]
    assert spanish.targets == written and spanish.weights == [0.5] * len(spanish)
    student = xlingual.train(recipe, progress=False)
    record = Results.read(student / "results.json").protocol.pseudo_labels
    assert (record.targets, record.temperature, record.weight) == ("soft", 2.0, 0.5)
    # a probabilities file that does not match the texts is one line naming it
    lines = (pseudo / "spanish" / "train_probabilities.jsonl").read_text().splitlines()
    (pseudo / "spanish" / "train_probabilities.jsonl").write_text("\n".join([*lines[:-1], "[0.5, 0.6, 0.1]"]))
    with pytest.raises(xlingual.XlingualError, match=r"train_probabilities\.jsonl:\d+: expected a list of 3"):
        load_pseudo_labeled(recipe.data)
    manifest = json.loads((pseudo / "manifest.json").read_text())
    (pseudo / "manifest.json").write_text(json.dumps({**manifest, "labels": ["positive", "neutral", "negative"]}))
    with pytest.raises(xlingual.XlingualError, match=r"the teacher's classes \['positive'.* are not the recipe's"):
        load_pseudo_labeled(recipe.data)
    with pytest.raises(ConfigError, match="temperature: tempers soft targets only"):
        load_recipe(RECIPE, [f"data.pseudo_labeled={{root: {pseudo}, temperature: 2}}"])


def test_per_epoch_draws_the_next_slice_of_one_shuffle_each_epoch():
    from xlingual.data.examples import Examples

    pool = Examples([f"t{i}" for i in range(10)], [i % 3 for i in range(10)], "spanish", "train", "pool")
    drawn = pool.drawn_per_epoch(3, 4, "seed")
    assert [len(rows) for rows in drawn.epoch_rows] == [3, 3, 3, 3]
    first_three = [r for rows in drawn.epoch_rows[:3] for r in rows]
    assert len(set(first_three)) == 9  # no text repeats before the pool has been seen
    assert drawn.epoch_rows == pool.drawn_per_epoch(3, 4, "seed").epoch_rows  # seeded
    assert drawn.epoch_rows != pool.drawn_per_epoch(3, 4, "other").epoch_rows
    assert pool.drawn_per_epoch(None, 4, "seed") is pool and pool.drawn_per_epoch(10, 4, "seed") is pool
    source = Examples(["a", "b"], [0, 1], "english", "train", "source")
    both = source.concatenate(drawn)
    assert both.rows_for_epoch(1) == [0, 1, *(2 + r for r in drawn.epoch_rows[1])]  # the source rows every epoch
    assert both.rows_for_epoch(5) == both.rows_for_epoch(1)  # epoch e reads entry e mod their number
    with pytest.raises(ValueError, match="select before drawing"):
        drawn.select([0, 1], "train", "part")


def test_a_student_trains_each_epoch_on_its_draw_only(teachers, tiny_bert, toy_umsab, tmp_path):
    from xlingual.config import load_recipe
    from xlingual.data.batching import TokenizedExamples
    from xlingual.results import Results
    from xlingual.runner import RunData
    from xlingual.training.loop import TrainingLoop

    pseudo = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(pseudo), "--rule", "all-soft"]) == 0
    overrides = [*tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "student", **{"training.epochs": 2}),
                 f"data.pseudo_labeled={{root: {pseudo}, targets: soft, per_epoch: 4}}"]
    data = RunData.from_recipe(load_recipe(RECIPE, overrides))
    kept = json.loads((pseudo / "manifest.json").read_text())["languages"]
    english = len(data.train) - sum(entry["kept"] for entry in kept.values())
    assert english == 96 and all(entry["kept"] > 4 for entry in kept.values())
    rows = [data.train.rows_for_epoch(e) for e in range(2)]
    assert [len(r) for r in rows] == [english + 2 * 4] * 2 and rows[0][:english] == list(range(english))
    assert rows[0][english:] != rows[1][english:]  # another slice of each language's pool per epoch
    batches = {}
    original = TrainingLoop._epoch_batches

    def spy(self, epoch):
        batches[epoch] = original(self, epoch)
        return batches[epoch]

    TrainingLoop._epoch_batches = spy
    try:
        student = xlingual.train(RECIPE, overrides, progress=False)
    finally:
        TrainingLoop._epoch_batches = original
    for epoch in (0, 1):  # each epoch's batches hold exactly its draw, each row once
        assert sorted(i for batch in batches[epoch] for i in batch) == sorted(rows[epoch])
    results = Results.read(student / "results.json")
    assert results.protocol.pseudo_labels.per_epoch == 4 and results.training.total_steps == 2 * len(batches[0])
    assert TokenizedExamples([[1]], [0], "x", 0).rows_for_epoch(3) is None
    with pytest.raises(ConfigError, match="per_epoch: must be a positive whole number"):
        load_recipe(RECIPE, [f"data.pseudo_labeled={{root: {pseudo}, per_epoch: 0}}"])


def test_no_test_split_text_reaches_any_training_stream(teachers, tiny_bert, toy_umsab, tmp_path):
    """Every text a student trains on (source rows, their code-switched views, pseudo-labels, the unlabeled target
    stream) is fingerprinted; none is a test text that is not also a train text of its language."""
    import hashlib

    from xlingual.config import load_recipe
    from xlingual.runner import RunData

    def fingerprints(texts):
        return {hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts}

    pseudo = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(pseudo), "--rule", "all-soft"]) == 0
    (tmp_path / "en-es.txt").write_text("good\tbueno\nbad\tmalo\n", encoding="utf-8")
    recipe = load_recipe(RECIPE, [*tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run"),
                                  f"data.pseudo_labeled={{root: {pseudo}, targets: soft}}",
                                  f"data.code_switch={{dictionaries: '{tmp_path}/en-{{code}}.txt'}}",
                                  "alignment.unlabeled_target={split: train}",
                                  "alignment.losses=[{name: consistency, augment: token-dropout}]"])
    data = RunData.from_recipe(recipe)
    streams = [data.train.texts, *(data.train.views or []), *(ex.texts for ex in data.unlabeled.values())]
    trained = fingerprints(t for texts in streams for t in texts)
    assert data.train.views and data.unlabeled and any(data.train.targets or [])  # every stream is present
    for lang in ("english", "spanish", "german"):
        read = (toy_umsab / lang / "test_text.txt").read_text(encoding="utf-8").split("\n")
        train = (toy_umsab / lang / "train_text.txt").read_text(encoding="utf-8").split("\n")
        only_test = fingerprints(read) - fingerprints(train)
        assert only_test and not (trained & only_test), lang


def test_class_mix_shift_flags_a_student_that_moved_more_than_ten_points():
    from xlingual.training.pseudo_labels import class_mix_shift, predicted_mix

    assert predicted_mix([[5, 5, 0], [0, 10, 0], [0, 0, 0]]) == [0.25, 0.75, 0.0]  # column sums, no label read
    teachers = [{"spanish": [0.3, 0.2, 0.5], "german": [0.3, 0.3, 0.4]},
                {"spanish": [0.3, 0.2, 0.5], "german": [0.3, 0.3, 0.4]}]
    student = {"spanish": [0.3, 0.35, 0.35], "german": [0.32, 0.3, 0.38]}
    record = class_mix_shift(student, teachers, ["negative", "neutral", "positive"])
    assert record["class_mix_warning"] == ["spanish"]
    assert record["class_mix_shift"]["spanish"] == {"negative": 0.0, "neutral": 0.15, "positive": -0.15}


def test_the_pool_tools_skew_a_pool_and_score_kept_labels(teachers, toy_umsab, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("pools", REPO / "benchmarks" / "pseudo_label_pools.py")
    pools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pools)
    record = pools.skew(toy_umsab, [50, 25, 25], tmp_path / "skewed", ["spanish", "german"])
    assert record["languages"]["spanish"] == {0: 32, 1: 16, 2: 16}  # 32 per class in the toy pool
    out = tmp_path / "pseudo"
    assert main(["pseudo-label", *map(str, teachers), "--out", str(out), "--set",
                 f"data.root={tmp_path / 'skewed'}", "--rule", "all-soft"]) == 0
    report = pools.accuracy(out, tmp_path / "skewed")
    assert report["spanish"]["kept"] == 64 and 0 <= report["spanish"]["correct"] <= 1


def test_rounds_chain_students_resume_and_add_up_their_cost(teachers, tiny_bert, toy_umsab, tmp_path, capsys):
    from xlingual.results import Results

    overrides = [f"--set={o}" for o in tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "unused",
                                                             **{"training.epochs": 1}) if not o.startswith("output")]
    command = ["rounds", str(RECIPE), "--teachers", *map(str, teachers), "--out", str(tmp_path / "chain"),
               "--rounds", "2", "--rule", "class-balanced", "--k", "4", *overrides]
    assert main(command) == 0
    second = Results.read(tmp_path / "chain" / "round2" / "student" / "results.json")
    manifest = json.loads((tmp_path / "chain" / "round2" / "pseudo-labels" / "manifest.json").read_text())
    assert [t["run"] for t in manifest["teachers"]] == [str(tmp_path / "chain" / "round1" / "student")]
    assert second.protocol.cost.runs == 4.0  # two teachers, the round-1 student, this student
    capsys.readouterr()
    assert main(command) == 0  # everything finished: nothing is trained again
    out = capsys.readouterr().out
    assert "round 2: student done already" in out and "pseudo-labels from" not in out
    with pytest.raises(ConfigError, match="rounds sets it"):
        from xlingual.rounds import run_rounds
        run_rounds(RECIPE, teachers, tmp_path / "x", overrides=["output_dir=elsewhere"])
    # the students' pseudo-label settings go through --set, checked with the root each round gives them
    soft = ["rounds", str(RECIPE), "--teachers", str(teachers[0]), "--out", str(tmp_path / "soft"), "--rule",
            "all-soft", *overrides, "--set=data.pseudo_labeled.targets=soft", "--set=data.pseudo_labeled.per_epoch=3"]
    assert main(soft) == 0
    record = Results.read(tmp_path / "soft" / "round1" / "student" / "results.json").protocol.pseudo_labels
    assert (record.rule, record.targets, record.per_epoch) == ("all-soft", "soft", 3)


def test_agreement_with_a_frozen_probe_limits_the_candidates(teachers, tmp_path, monkeypatch):
    import xlingual.pseudo_labeling as module

    out = tmp_path / "agree"
    module.pseudo_label(teachers, out, rule="all-soft", agree_with_probe=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["agreement"]["view"].startswith("linear probe on the frozen pretrained encoder")
    for entry in manifest["languages"].values():
        assert entry["kept"] == entry["agreeing_with_probe"] <= entry["pool"]  # all-soft keeps every agreeing text
    members = load_teachers(teachers)

    def disagreeing(recipe, pools, batch_size=64):  # a view that never agrees: nothing may be kept
        shifted = {lang: (teacher_probabilities(members, pool.texts).argmax(1) + 1) % 3 for lang, pool in pools.items()}
        return shifted, {}

    monkeypatch.setattr(module, "probe_view", disagreeing)
    module.pseudo_label(teachers, out, rule="prior-matched", k=10, agree_with_probe=True, overwrite=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(entry["kept"] == 0 for entry in manifest["languages"].values())
