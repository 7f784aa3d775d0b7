"""How well a teacher estimates the class prior of text whose classes are not balanced, measured on *English*
(labelled, so the error is known), to choose how ``xlingual pseudo-label``'s prior-matched rule splits its k.

Pools are drawn from an English set disjoint from the teacher's training data (TweetEval extra) at fixed class
mixes, once, with a fixed seed. Two label-free estimates are compared by their L1 distance to the true mix:
the teacher's mean probability, and EM on its BCTS-calibrated probabilities (calibration fitted on the source
dev split the run was selected on). No target-language label is read.

    python benchmarks/prior_estimate.py RUN [RUN ...] --english ../shared/data/tweeteval_en_extra \\
        --dev ../shared/data/umsab/english --out prior_estimate.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from xlingual.data.textfile import read_lines
from xlingual.evaluation.prior_correction import estimate_target_priors, fit_label_shift
from xlingual.inference import load

MIXES = ((1 / 3, 1 / 3, 1 / 3), (0.5, 0.25, 0.25), (0.25, 0.5, 0.25), (0.25, 0.25, 0.5), (0.2, 0.2, 0.6),
         (0.6, 0.2, 0.2), (0.2, 0.6, 0.2))
POOL = 1000
SEED = 20261206


def draw(labels: list[int], mix: tuple[float, ...], size: int, rng: random.Random) -> list[int]:
    by_class = {c: [i for i, label in enumerate(labels) if label == c] for c in range(len(mix))}
    return [i for c, share in enumerate(mix) for i in rng.sample(by_class[c], round(size * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="teacher run folders (each judged on its own)")
    parser.add_argument("--english", type=Path, required=True, help="labelled English folder (train_text/labels)")
    parser.add_argument("--dev", type=Path, required=True, help="the source dev folder (val_text/labels)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    texts = read_lines(args.english / "train_text.txt")
    labels = [int(x) for x in read_lines(args.english / "train_labels.txt")]
    dev_texts = read_lines(args.dev / "val_text.txt")
    dev_labels = [int(x) for x in read_lines(args.dev / "val_labels.txt")]
    rng = random.Random(SEED)
    pools = {"/".join(f"{round(100 * m)}" for m in mix): draw(labels, mix, POOL, rng) for mix in MIXES}
    needed = sorted({i for pool in pools.values() for i in pool})
    report: dict = {"pool_size": POOL, "seed": SEED, "runs": {}}
    for run in args.runs:
        model = load(run)
        probabilities = dict(zip(needed, model.predict_proba([texts[i] for i in needed]), strict=True))
        fit = fit_label_shift(model.predict_proba(dev_texts), dev_labels)
        rows = {}
        for name, pool in pools.items():
            truth = torch.bincount(torch.tensor([labels[i] for i in pool]), minlength=3).double() / len(pool)
            pool_probabilities = torch.stack([probabilities[i] for i in pool])
            mean = pool_probabilities.double().mean(0)
            em, _ = estimate_target_priors(pool_probabilities, fit)
            rows[name] = {"true": [round(x, 3) for x in truth.tolist()],
                          "mean": [round(x, 3) for x in mean.tolist()], "em": [round(x, 3) for x in em.tolist()],
                          "l1_mean": round(float((mean - truth).abs().sum()), 4),
                          "l1_em": round(float((em.double() - truth).abs().sum()), 4)}
            print(f"{Path(run).name} {name}: mean L1 {rows[name]['l1_mean']:.3f}, EM L1 {rows[name]['l1_em']:.3f}")
        report["runs"][str(run)] = {
            "temperature": round(fit["temperature"], 4), "pools": rows,
            "mean_l1_mean": round(sum(r["l1_mean"] for r in rows.values()) / len(rows), 4),
            "mean_l1_em": round(sum(r["l1_em"] for r in rows.values()) / len(rows), 4)}
        print(f"{run}: average L1 mean {report['runs'][str(run)]['mean_l1_mean']}, "
              f"EM {report['runs'][str(run)]['mean_l1_em']}")
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
