"""Int8 CPU inference: throughput and macro-F1 of dynamic int8 against fp32 on the same trained run.

A = fp32: ``load_checkpoint(RUN)``; B = int8: ``load_checkpoint(RUN, quantize="int8")`` (the
encoder's Linear layers as dynamic int8, ``xlingual.quantization``; the same weights an
``xlingual export --quantize int8`` folder holds). Both tokenise and evaluate the run's test
split of every language with ``evaluate_languages`` (length-sorted batches of the recipe's
evaluation batch size, ``inference_mode``), timed from raw texts to labels; model loading is
outside the timed part. A and B alternate (A B A B …), each in a fresh process; ratios are
paired within a repeat. Reported: examples/s (and CPU seconds), macro-F1 per language, the
target-average macro-F1, and how often int8 predicts the fp32 label.

``--quick`` trains a tiny run on toy data first (tests/conftest.py), so it needs neither the
real encoder nor ../shared; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, fmt_stats, markdown_table, ratio_stats

SCRIPT = "int8_inference"
GOAL_SPEEDUP = 1.8
GOAL_F1_LOSS = 0.5  # points of target-average macro-F1


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--run", type=Path, default=None,
                        help="a run folder written by 'xlingual train' (required unless --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating repeats (2; quick 1)")
    parser.add_argument("--max-examples", type=int, default=None, help="first N test examples per language (all)")
    return parser


# ----------------------------------------------------------------------------- child side


def train_tiny(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Quick mode: a tiny trained run on the toy data, to quantize."""
    import xlingual

    overrides = config["overrides"] + ["training.epochs=3", "training.learning_rate=5e-3", "freeze.embeddings=false",
                                       f"output_dir={config['run']}"]
    xlingual.train(common.FULL_RECIPE, overrides, progress=False)
    return {}


def evaluate(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import eval_throughput

    return eval_throughput.xlingual_eval(env, {**config, "export": config["run"]})


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return train_tiny(env, config) if config["kind"] == "train" else evaluate(env, config)


# ----------------------------------------------------------------------------- parent side


def plan(env: dict[str, Any], args: argparse.Namespace, run: Path) -> list[dict[str, Any]]:
    repeats = args.repeats or (1 if args.quick else 2)
    recipe = run / "config.yaml"
    overrides = [f"data.root={env['data']}"]
    configs: list[dict[str, Any]] = []
    if args.quick:
        recipe = common.FULL_RECIPE
        overrides = common.recipe_overrides(env, **{"model.max_length": 32})
        configs.append({"kind": "train", "name": "train", "overrides": overrides, "run": str(run), "repeat": 0})
        languages = list(env["languages"])
    else:
        languages = [lang for lang in common.load_recipe(recipe, overrides).data.languages
                     if lang in env["languages"]]
    base = {"recipe": str(recipe), "overrides": overrides, "run": str(run), "languages": languages,
            "max_examples": args.max_examples}
    for repeat in range(repeats):
        configs += [{**base, "kind": "eval", "name": "fp32", "quantize": None, "repeat": repeat},
                    {**base, "kind": "eval", "name": "int8", "quantize": "int8", "repeat": repeat}]
    return configs


def summarise(children: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    runs = {name: [c for c in children if c["name"] == name] for name in ("fp32", "int8")}
    fp32 = {r["repeat"]: r for r in runs["fp32"]}
    ratios, cpu_ratios = [], []
    for b in runs["int8"]:
        a = fp32.get(b["repeat"])
        if a:
            ratios.append(a["seconds"] / b["seconds"])
            cpu_ratios.append(a["cpu_seconds"] / b["cpu_seconds"])
    first_a, first_b = runs["fp32"][0], runs["int8"][0]
    same = {lang: sum(x == y for x, y in zip(first_a["predictions"][lang], first_b["predictions"][lang]))
            for lang in first_a["predictions"]}
    total = sum(len(p) for p in first_a["predictions"].values())
    source = next(lang for lang, m in first_a["metrics"].items() if m["role"] == "source")
    languages = list(first_a["metrics"])
    f1 = {name: {lang: r[0]["metrics"][lang]["macro_f1"] for lang in languages} for name, r in runs.items()}
    avg = {name: runs[name][0]["summary"]["target_avg_macro_f1"] for name in runs}
    section: dict[str, Any] = {
        "speedup": ratio_stats(ratios), "cpu_speedup": ratio_stats(cpu_ratios),
        "agreement": sum(same.values()) / total, "agreement_per_language": {k: v / len(first_a["predictions"][k])
                                                                             for k, v in same.items()},
        "macro_f1": f1, "target_avg_macro_f1": avg,
        "target_avg_macro_f1_loss_points": 100 * (avg["fp32"] - avg["int8"]),
        "deterministic": all(r["predictions"] == runs[r["name"]][0]["predictions"] for r in children),
    }
    rows = []
    for name, items in runs.items():
        rows.append([name, fmt(items[0]["examples"]), fmt_stats(ratio_stats([r["seconds"] for r in items]), 1),
                     fmt_stats(ratio_stats([r["examples"] / r["seconds"] for r in items]), 1),
                     fmt_stats(ratio_stats([r["cpu_seconds"] for r in items]), 1),
                     fmt_stats(ratio_stats([r["peak_rss_mb"] for r in items]), 0),
                     fmt(100 * avg[name], 2), fmt(100 * f1[name][source], 2),
                     fmt_stats(section["speedup"]) if name == "int8" else "1 (baseline)"])
    markdown = markdown_table(["weights", "examples", "seconds", "examples/s", "CPU seconds", "peak RSS MiB",
                               "target-avg macro-F1", f"{source} macro-F1", "speed-up vs fp32"], rows)
    per_language = markdown_table(["language", "fp32 macro-F1", "int8 macro-F1", "Δ points", "same label as fp32"],
                                  [[lang, fmt(100 * f1["fp32"][lang], 2), fmt(100 * f1["int8"][lang], 2),
                                    fmt(100 * (f1["int8"][lang] - f1["fp32"][lang]), 2),
                                    f"{100 * section['agreement_per_language'][lang]:.1f} %"] for lang in languages])
    markdown += (f"\n\nint8 predicts the fp32 label on {100 * section['agreement']:.2f} % of {total} test examples; "
                 f"target-average macro-F1 {fmt(section['target_avg_macro_f1_loss_points'], 2)} points lower. "
                 f"CPU-seconds ratio (fp32/int8): {fmt_stats(section['cpu_speedup'])}. Cells: median (min–max) over "
                 "repeats; ratios paired within a repeat; F1 from the first repeat (every repeat predicts the same "
                 f"labels: {fmt(section['deterministic'])}).\n\n{per_language}\n")
    for child in children:
        child.pop("predictions", None)
    section["runs"] = runs
    return section, markdown


def run_inputs(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """A full run reads the run folder's own checkpoint (its encoder included) and the UMSAB test sets."""
    data = (args.data or common.UMSAB).expanduser()
    languages = [lang for lang in common.UMSAB_LANGUAGES if (data / lang / "test_text.txt").is_file()]
    if not languages:
        raise common.Skip(f"no UMSAB test sets under {data}; pass --data")
    return {"quick": False, "workdir": str(tmp), "threads": args.threads, "model": str(args.run),
            "model_kind": "trained run", "data": str(data.resolve()), "data_kind": "umsab", "languages": languages}


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    results = common.header(SCRIPT, args.quick)
    if not args.quick and args.run is None:
        print("error: --run RUN_FOLDER is required (a folder written by 'xlingual train'), or use --quick",
              file=sys.stderr)
        return 2
    if args.run is not None and not (args.run / "checkpoint" / "config.json").is_file():
        print(f"error: --run {args.run}: no checkpoint/config.json; pass a run folder written by 'xlingual train'",
              file=sys.stderr)
        return 2
    with common.workdir() as tmp:
        env = common.resolve_inputs(args, Path(tmp)) if args.quick else run_inputs(args, Path(tmp))
        run_folder = args.run.resolve() if args.run else Path(tmp) / "tiny-run"
        configs = plan(env, args, run_folder)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
        children = [c for c in children if c["name"] != "train"]
        common.finish_header(results, children, started)
        section, table = summarise(children)
    results.update(inputs={**common.public_inputs(env), "run": str(args.run) if args.run else "tiny toy run"},
                   isolated=args.isolate, section=section)
    speedup, loss = section["speedup"]["median"], section["target_avg_macro_f1_loss_points"]
    results["goals"] = [
        {"goal": f"int8 ≥ {GOAL_SPEEDUP}× fp32 CPU evaluation throughput", "measured": speedup,
         "met": speedup is not None and speedup >= GOAL_SPEEDUP},
        {"goal": f"≤ {GOAL_F1_LOSS} points of target-average macro-F1 lost", "measured": loss,
         "met": loss <= GOAL_F1_LOSS, "unit": " points"},
    ]
    markdown = common.markdown_header(results, "Int8 CPU inference vs fp32 (same run folder)")
    markdown += (f"- run: {args.run or 'tiny toy run (quick)'}; repeats {args.repeats or (1 if args.quick else 2)}; "
                 f"{'one fresh process per evaluation' if args.isolate else 'one shared process'}\n")
    markdown += f"\n## Goals\n\n{common.goals_table(results['goals'])}\n\n## Throughput and accuracy\n\n{table}"
    common.write_results(args.out, results, markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
