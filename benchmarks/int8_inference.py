"""CPU inference as users deploy it: engine (torch, ONNX Runtime) × precision (fp32, int8 variants) × threads.

Every configuration loads the same trained run through ``xlingual.load``/``load_checkpoint`` (ONNX: the folder
``xlingual export RUN OUT --format onnx --quantize int8-dynamic,int8-ffn-fp32,int8-static`` writes, made
first in a child), each in a fresh process, and measures:

- batch throughput: tokenise and label every UMSAB test set (8 × 870 tweets) with ``evaluate_languages``
  (length-sorted batches of the recipe's evaluation batch size), **wall-clock examples/s** (the headline) and
  the child's CPU seconds beside it; model loading is outside the timed part;
- single-text latency: ``predict_proba`` of one English test tweet at a time (after 5 warm-up calls), p50/p99;
- label agreement with torch fp32 (test, every language) and macro-F1 per language, target average;
- label agreement on **English dev** (the source val split): the one number the default is chosen by.

Threads: the default (torch's thread count, which ONNX Runtime sessions are given too) and 1
(``--thread-counts`` picks others). Ratios are to torch fp32 at the same thread count, measured in the same invocation.

Rule for ``quantize="int8"``, written before the measurement: per engine, the fastest int8 variant (default
threads, wall clock) whose labels on English dev agree with fp32's on >= 95% of tweets and whose English dev
macro-F1 is at most 0.5 points lower; if none qualifies, the one that agrees most. No target-language or
test number takes part.

``--quick`` trains a tiny run on toy data first (tests/conftest.py), so it needs neither the real encoder nor
../shared; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, markdown_table

SCRIPT = "int8_inference"
GOAL_SPEEDUP = 2.5
GOAL_AGREEMENT = 0.95
GOAL_F1_LOSS = 0.5  # points of target-average macro-F1
GOAL_ONNX_FP32_AGREEMENT = 0.999
DEV_AGREEMENT, DEV_F1_LOSS = 0.95, 0.5  # the rule for the default int8 variant (English dev only)
ENGINES = {"torch": ("fp32", "int8-dynamic", "int8-ffn-fp32"),
           "onnx": ("fp32", "int8-dynamic", "int8-ffn-fp32", "int8-static")}
LATENCY_TEXTS = 100


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--run", type=Path, default=None,
                        help="a run folder written by 'xlingual train' (required unless --quick)")
    parser.add_argument("--max-examples", type=int, default=None, help="first N test examples per language (all)")
    parser.add_argument("--thread-counts", default="default,1",
                        help="comma-separated torch/onnxruntime thread counts; 'default' is torch's own")
    parser.add_argument("--engines", default="torch,onnx", help="torch, onnx or both")
    return parser


# ----------------------------------------------------------------------------- child side


def train_tiny(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Quick mode: a tiny trained run on the toy data."""
    import xlingual

    overrides = config["overrides"] + ["training.epochs=3", "training.learning_rate=5e-3", "freeze.embeddings=false",
                                       f"output_dir={config['run']}"]
    xlingual.train(common.FULL_RECIPE, overrides, progress=False)
    return {}


def export_onnx(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from xlingual.checkpoint import merge_and_export

    start = time.perf_counter()
    merge_and_export(config["run"], config["onnx"], format="onnx", overwrite=True,
                     quantize=",".join(v for v in ENGINES["onnx"] if v != "fp32"))
    sizes = {p.name: p.stat().st_size / 2**20 for p in Path(config["onnx"]).glob("*.onnx")}
    return {"export_seconds": time.perf_counter() - start, "graph_mib": sizes}


def evaluate(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import eval_throughput
    import torch

    import xlingual
    from xlingual.data.loading import load_examples

    if config["threads"]:
        torch.set_num_threads(config["threads"])
    source = config["onnx"] if config["engine"] == "onnx" else config["run"]
    quantize = None if config["precision"] == "fp32" else config["precision"]
    result = eval_throughput.xlingual_eval(env, {**config, "export": source, "quantize": quantize})
    recipe = common.load_recipe(Path(config["recipe"]), config["overrides"])
    classifier = xlingual.load(source, quantize=quantize)
    english = load_examples(recipe.data, recipe.data.source_language, "test").texts[:LATENCY_TEXTS + 5]
    times = []
    for index, text in enumerate(english):
        start = time.perf_counter()
        classifier.predict_proba(text)
        if index >= 5:  # warm-up calls are not counted
            times.append(time.perf_counter() - start)
    dev = load_examples(recipe.data, recipe.data.source_language, "dev")
    result.update(latency_ms=[1000 * t for t in times], dev_predictions=classifier.predict_proba(dev.texts)
                  .argmax(-1).tolist(), dev_labels=list(dev.labels or []),
                  threads_used=(classifier.model.session.get_session_options().intra_op_num_threads
                                if config["engine"] == "onnx" else torch.get_num_threads()),
                  engine=config["engine"], precision=config["precision"], thread_label=config["thread_label"])
    return result


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"train": train_tiny, "export": export_onnx, "eval": evaluate}[config["kind"]](env, config)


# ----------------------------------------------------------------------------- parent side


def plan(env: dict[str, Any], args: argparse.Namespace, run: Path, onnx: Path) -> list[dict[str, Any]]:
    recipe = run / "config.yaml"
    overrides = [f"data.root={env['data']}"]
    configs: list[dict[str, Any]] = []
    if args.quick:
        recipe = common.FULL_RECIPE
        overrides = common.recipe_overrides(env, **{"model.max_length": 32})
        configs.append({"kind": "train", "name": "train", "overrides": overrides, "run": str(run)})
        languages = list(env["languages"])
    else:
        languages = [lang for lang in common.load_recipe(recipe, overrides).data.languages
                     if lang in env["languages"]]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "onnx" in engines:
        configs.append({"kind": "export", "name": "export", "run": str(run), "onnx": str(onnx)})
    base = {"kind": "eval", "recipe": str(recipe), "overrides": overrides, "run": str(run), "onnx": str(onnx),
            "languages": languages, "max_examples": args.max_examples}
    for threads in [t.strip() for t in args.thread_counts.split(",") if t.strip()]:
        count = None if threads == "default" else int(threads)
        for engine in engines:
            for precision in ENGINES[engine]:
                configs.append({**base, "name": f"{engine} {precision} ({threads})", "engine": engine,
                                "precision": precision, "threads": count, "thread_label": threads})
    return configs


def _agreement(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1)


def _macro_f1(predictions: list[int], labels: list[int]) -> float:
    classes = sorted(set(labels) | set(predictions))
    scores = []
    for c in classes:
        tp = sum(p == c and y == c for p, y in zip(predictions, labels, strict=True))
        fp = sum(p == c and y != c for p, y in zip(predictions, labels, strict=True))
        fn = sum(p != c and y == c for p, y in zip(predictions, labels, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(children: list[dict[str, Any]]) -> tuple[dict[str, Any], str, dict[str, str]]:
    evals = [c for c in children if "engine" in c]
    reference = next(c for c in evals if c["engine"] == "torch" and c["precision"] == "fp32")
    ref_all = [p for lang in reference["languages"] for p in reference["predictions"][lang]]
    source = next(lang for lang, m in reference["metrics"].items() if m["role"] == "source")
    ref_dev_f1 = _macro_f1(reference["dev_predictions"], reference["dev_labels"])
    rows, records = [], []
    for child in evals:
        same_threads = next(c for c in evals if c["engine"] == "torch" and c["precision"] == "fp32"
                            and c["thread_label"] == child["thread_label"])
        labels = [p for lang in child["languages"] for p in child["predictions"][lang]]
        record = {
            "engine": child["engine"], "precision": child["precision"], "threads": child["thread_label"],
            "threads_used": child["threads_used"], "examples": child["examples"],
            "examples_per_second": child["examples"] / child["seconds"], "seconds": child["seconds"],
            "cpu_seconds": child["cpu_seconds"], "speedup_vs_torch_fp32": same_threads["seconds"] / child["seconds"],
            "latency_p50_ms": _percentile(child["latency_ms"], 0.5),
            "latency_p99_ms": _percentile(child["latency_ms"], 0.99),
            "agreement_with_torch_fp32": _agreement(labels, ref_all),
            "agreement_per_language": {lang: _agreement(child["predictions"][lang], reference["predictions"][lang])
                                       for lang in child["languages"]},
            "dev_agreement": _agreement(child["dev_predictions"], reference["dev_predictions"]),
            "dev_macro_f1_loss_points": 100 * (ref_dev_f1 - _macro_f1(child["dev_predictions"], child["dev_labels"])),
            "target_avg_macro_f1": child["summary"]["target_avg_macro_f1"],
            "macro_f1": {lang: m["macro_f1"] for lang, m in child["metrics"].items()},
            "peak_rss_mb": child["peak_rss_mb"],
        }
        record["target_avg_loss_points"] = 100 * (reference["summary"]["target_avg_macro_f1"]
                                                  - record["target_avg_macro_f1"])
        records.append(record)
        rows.append([record["engine"], record["precision"], f"{record['threads']} ({record['threads_used']})",
                     fmt(record["examples_per_second"], 1), f"{record['speedup_vs_torch_fp32']:.2f}×",
                     fmt(record["cpu_seconds"], 1), fmt(record["latency_p50_ms"], 1), fmt(record["latency_p99_ms"], 1),
                     f"{100 * record['agreement_with_torch_fp32']:.1f}%", f"{100 * record['dev_agreement']:.1f}%",
                     fmt(100 * record["target_avg_macro_f1"], 2), fmt(-record["target_avg_loss_points"], 2),
                     fmt(record["peak_rss_mb"], 0)])
    defaults = {}
    for engine in ENGINES:
        candidates = [r for r in records if r["engine"] == engine and r["precision"] != "fp32"
                      and r["threads"] == "default"]
        if not candidates:
            continue
        qualified = [r for r in candidates if r["dev_agreement"] >= DEV_AGREEMENT
                     and r["dev_macro_f1_loss_points"] <= DEV_F1_LOSS]
        best = (max(qualified, key=lambda r: r["examples_per_second"]) if qualified
                else max(candidates, key=lambda r: r["dev_agreement"]))
        defaults[engine] = best["precision"]
    markdown = markdown_table(
        ["engine", "precision", "threads (used)", "examples/s (wall)", "vs torch fp32", "CPU s", "p50 ms (1 text)",
         "p99 ms", "same label as torch fp32 (test, 8 languages)", "same label (English dev)", "target-avg macro-F1",
         "Δ points", "peak RSS MiB"], rows)
    languages = list(reference["metrics"])
    per_language = markdown_table(
        ["engine", "precision", *languages],
        [[r["engine"], r["precision"], *(f"{100 * r['macro_f1'][lang]:.1f} / "
                                         f"{100 * r['agreement_per_language'][lang]:.0f}%" for lang in languages)]
         for r in records if r["threads"] == "default"])
    markdown += (f"\n\nReference: torch fp32 (source {source}). Per language, default threads: macro-F1 / same "
                 f"label as torch fp32.\n\n{per_language}\n\nDefault int8 variant by the rule (English dev only): "
                 + ", ".join(f"{engine}: {variant}" for engine, variant in defaults.items()) + "\n")
    section = {"records": records, "defaults": defaults,
               "dev_rule": {"agreement": DEV_AGREEMENT, "macro_f1_loss_points": DEV_F1_LOSS}}
    export = next((c for c in children if c["name"] == "export"), None)
    if export is not None:
        section["export"] = {"seconds": export.get("export_seconds"), "graph_mib": export.get("graph_mib")}
    return section, markdown, defaults


def run_inputs(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """A full run reads the run folder's own checkpoint (its encoder included) and the UMSAB test sets."""
    from xlingual.languages import UMSAB_LANGUAGES  # light: no torch in the parent process

    data = (args.data or common.UMSAB).expanduser()
    languages = [lang for lang in dict.fromkeys(("english", *UMSAB_LANGUAGES))
                 if (data / lang / "test_text.txt").is_file()]
    if not languages:
        raise common.Skip(f"no UMSAB test sets under {data}; pass --data")
    return {"quick": False, "workdir": str(tmp), "threads": None, "model": str(args.run),
            "model_kind": "trained run", "data": str(data.resolve()), "data_kind": "umsab", "languages": languages}


def _goals(section: dict[str, Any]) -> list[dict[str, Any]]:
    records = [r for r in section["records"] if r["threads"] == "default"]
    keeping = [r for r in records if r["precision"] != "fp32" and r["agreement_with_torch_fp32"] >= GOAL_AGREEMENT
               and r["target_avg_loss_points"] <= GOAL_F1_LOSS]
    best = max(keeping or records, key=lambda r: r["speedup_vs_torch_fp32"])
    onnx_fp32 = next((r for r in records if r["engine"] == "onnx" and r["precision"] == "fp32"), None)
    goals = [
        {"goal": f"best CPU path ≥ {GOAL_SPEEDUP}× torch fp32 wall-clock throughput (default threads), keeping "
                 f"≥ {100 * GOAL_AGREEMENT:.0f}% of labels and ≤ {GOAL_F1_LOSS} points",
         "measured": f"{best['engine']} {best['precision']}: {best['speedup_vs_torch_fp32']:.2f}×, "
                     f"{100 * best['agreement_with_torch_fp32']:.1f}% labels, "
                     f"{best['target_avg_loss_points']:+.2f} points lost",
         "met": bool(keeping) and best["speedup_vs_torch_fp32"] >= GOAL_SPEEDUP, "unit": ""},
    ]
    if onnx_fp32 is not None:
        goals.append({"goal": f"ONNX fp32 gives torch's label on ≥ {100 * GOAL_ONNX_FP32_AGREEMENT:.1f}%",
                      "measured": f"{100 * onnx_fp32['agreement_with_torch_fp32']:.2f}%",
                      "met": onnx_fp32["agreement_with_torch_fp32"] >= GOAL_ONNX_FP32_AGREEMENT, "unit": ""})
    return goals


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
    if "onnx" in args.engines:
        try:
            import onnxruntime  # noqa: F401  (optional extra)
        except ImportError:
            print('note: onnxruntime is not installed (pip install -e ".[onnx]"): torch rows only', file=sys.stderr)
            args.engines = "torch"
    with common.workdir() as tmp:
        env = common.resolve_inputs(args, Path(tmp)) if args.quick else run_inputs(args, Path(tmp))
        run_folder = args.run.resolve() if args.run else Path(tmp) / "tiny-run"
        configs = plan(env, args, run_folder, Path(tmp) / "onnx")
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
        children = [c for c in children if c["name"] != "train"]
        common.finish_header(results, children, started)
        section, table, _ = summarise(children)
    for child in children:
        for key in ("predictions", "dev_predictions", "dev_labels", "latency_ms"):
            child.pop(key, None)
    results.update(inputs={**common.public_inputs(env), "run": str(args.run) if args.run else "tiny toy run"},
                   isolated=args.isolate, section=section, children=children)
    results["goals"] = _goals(section)
    markdown = common.markdown_header(results, "CPU inference: engine × precision × threads (same run folder)")
    markdown += f"- run: {args.run or 'tiny toy run (quick)'}; one fresh process per row; one repeat\n"
    markdown += f"\n## Goals\n\n{common.goals_table(results['goals'])}\n\n## Engines, precisions, threads\n\n{table}"
    common.write_results(args.out, results, markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
