"""Training throughput: xlingual's training loop vs the stock ``transformers.Trainer``; alignment overhead; memory.

Three sections, each configuration in a fresh child process (``--quick``: one shared child):

throughput
    A = xlingual's ``TrainingLoop`` on the recipe's model and settings with
    ``freeze.embeddings=false`` (every weight trains: the same work as the stock Trainer),
    plus a "recipe default" row with the recipe's frozen embeddings; B = ``Trainer`` with
    ``AutoModelForSequenceClassification`` and run_classification.py's default padding (every
    example padded to max length). Same first S×B English examples, tokenizer, text prefix,
    max length, batch size, steps, seed, learning rate, weight decay and warm-up. Run
    alternately (A B A B …); samples/s, real (non-pad) tokens/s and xlingual/stock ratios.
alignment
    The recipe default (plain fine-tuning) vs the same with each alignment loss (coral, mmd,
    dann on unlabeled Spanish/German UMSAB train text; contrastive on Tatoeba pairs), same
    steps and batch size. A plain step with as many source rows as the aligned step has
    (source + target rows) separates the extra forward/backward from the loss term itself.
memory
    Peak RSS (and s/step) of full fine-tuning (all weights; recipe default), LoRA, each with and
    without gradient checkpointing, and LoRA + each loss.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, fmt_stats, markdown_table, ratio_stats

SCRIPT = "train_throughput"
LOSSES = ("coral", "mmd", "dann", "contrastive")
SECTIONS = ("throughput", "alignment", "memory")
GOAL_SPEEDUP = 1.3
GOAL_LORA_RSS = 0.6
GOAL_LOSS_OVERHEAD = 0.30


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per configuration (30; quick 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (32; quick 8)")
    parser.add_argument("--max-length", type=int, default=None, help="max tokens (128; quick with the tiny model 64)")
    parser.add_argument("--learning-rate", type=float, default=3e-5, help="learning rate of the A/B comparison (3e-5)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating repeats (3; quick 1)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated subset of " + ", ".join(SECTIONS) + " (all)")
    parser.add_argument("--losses", default=",".join(LOSSES),
                        help="alignment losses to measure (" + ", ".join(LOSSES) + ")")
    parser.add_argument("--target-languages", default="spanish,german",
                        help="languages of the unlabeled target text and the translation pairs (spanish,german)")
    parser.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default="no",
                        help="on a GPU: autocast for both xlingual (training.mixed_precision) and the stock "
                             "Trainer (bf16=/fp16=True) (no)")
    parser.add_argument("--with-dynamic-stock", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the Trainer with dynamic padding (DataCollatorWithPadding), a stronger "
                             "baseline than run_classification.py's default (on; --no-with-dynamic-stock leaves "
                             "it out)")
    return parser


# ----------------------------------------------------------------------------- child side


def measure_stock(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The stock Trainer on the same examples, tokenizer, max length, batch size, steps and seed."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    from xlingual.data.loading import label_scheme

    recipe = common.load_recipe(Path(config["recipe"]), config["overrides"])
    training, model_config = recipe.training, recipe.model
    scheme = label_scheme(recipe.data)
    examples = common.english_pool(env, config["examples"], scheme)
    tokenizer = AutoTokenizer.from_pretrained(model_config.name)
    texts = [model_config.text_prefix + text for text in examples.texts]
    pad_to_max = config["padding"] == "max_length"
    encoded = tokenizer(texts, padding="max_length" if pad_to_max else False, max_length=model_config.max_length,
                        truncation=True)
    columns = list(encoded.keys())
    dataset = [{**{k: encoded[k][i] for k in columns}, "labels": label} for i, label in enumerate(examples.labels)]
    set_seed(training.seed)
    model = AutoModelForSequenceClassification.from_pretrained(model_config.name, num_labels=scheme.num_labels)
    steps = config["steps"]
    args = TrainingArguments(
        output_dir=str(Path(env["workdir"]) / "trainer"), per_device_train_batch_size=training.batch_size,
        learning_rate=training.learning_rate, max_steps=steps, seed=training.seed, logging_strategy="no",
        save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
        disable_tqdm=True, bf16=training.mixed_precision == "bf16", fp16=training.mixed_precision == "fp16",
        weight_decay=training.weight_decay, warmup_steps=training.warmup_ratio, max_grad_norm=training.max_grad_norm,
    )
    collator = default_data_collator if pad_to_max else DataCollatorWithPadding(tokenizer)
    marks: list[float] = []

    class StepTimes(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            marks.append(time.perf_counter())

    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=[StepTimes()])
    start = time.perf_counter()
    trainer.train()
    common.synchronize()
    seconds = time.perf_counter() - start
    done = trainer.state.global_step
    tokens = sum(sum(mask) for mask in encoded["attention_mask"])
    samples = done * training.batch_size
    return {
        "seconds": seconds, "steps": done, "seconds_per_step": seconds / max(done, 1), "samples": samples,
        "steady_seconds_per_step": common.steady_step(marks),
        "tokens": tokens if samples == len(dataset) else None,
        "padded_tokens": samples * model_config.max_length if pad_to_max else None,
        "batch_size": training.batch_size, "max_length": model_config.max_length, "optim": str(args.optim),
        "parameters": {"trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                       "total": sum(p.numel() for p in model.parameters())},
        "method": "full", "losses": [],
    }


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    if config["kind"] == "stock":
        return measure_stock(env, config)
    return common.train_xlingual(env, config)


# ----------------------------------------------------------------------------- parent side


def settings(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    quick, tiny = args.quick, env["model_kind"] == "tiny"
    max_length = args.max_length or (64 if tiny else 128)
    if tiny and max_length > 64:
        print(f"note: the tiny model takes at most 64 tokens; --max-length {max_length} → 64", file=sys.stderr)
        max_length = 64
    targets = [t.strip() for t in args.target_languages.split(",") if t.strip()]
    if env["data_kind"] == "toy":
        targets = [t for t in targets if t in common.TOY_LANGUAGES] or ["spanish", "german"]
    return {
        "steps": args.steps or (3 if quick else 30),
        "batch_size": args.batch_size or (8 if quick else 32),
        "max_length": max_length,
        "learning_rate": args.learning_rate,
        "mixed_precision": args.mixed_precision,
        "repeats": args.repeats or (1 if quick else 3),
        "target_languages": targets,
        "sections": [s.strip() for s in args.sections.split(",") if s.strip()],
        "losses": [s.strip() for s in args.losses.split(",") if s.strip()],
    }


def alignment_overrides(env: dict[str, Any], loss: str, targets: list[str]) -> dict[str, Any]:
    languages = "[" + ", ".join(targets) + "]"
    if loss == "contrastive":
        return {"alignment.pairs": f"{{root: '{env['pairs']}', languages: {languages}}}",
                "alignment.losses": "[{name: contrastive}]"}
    return {"alignment.unlabeled_target": f"{{split: train, languages: {languages}}}",
            "alignment.losses": f"[{{name: {loss}}}]"}


def xlingual_config(env: dict[str, Any], name: str, recipe: Path, s: dict[str, Any], batch: int | None = None,
                    **extra: Any) -> dict[str, Any]:
    batch = batch or s["batch_size"]
    overrides = common.recipe_overrides(env, **{"training.batch_size": batch, "training.epochs": 1,
                                                "model.max_length": s["max_length"],
                                                "training.mixed_precision": s["mixed_precision"], **extra})
    common.load_recipe(recipe, overrides)  # a bad override fails here, before any child starts
    return {"kind": "xlingual", "name": name, "recipe": str(recipe), "overrides": overrides,
            "examples": s["steps"] * batch}


def plan(env: dict[str, Any], s: dict[str, Any], with_dynamic_stock: bool) -> list[dict[str, Any]]:
    """Every configuration to run, in order (repeats alternate the rows of a section)."""
    lr = {"training.learning_rate": s["learning_rate"]}
    configs: list[dict[str, Any]] = []
    if "throughput" in s["sections"]:
        row = [xlingual_config(env, "xlingual", common.FULL_RECIPE, s, **lr, **{"freeze.embeddings": "false"}),
               {**xlingual_config(env, "stock", common.FULL_RECIPE, s, **lr, **{"freeze.embeddings": "false"}),
                "kind": "stock", "padding": "max_length", "steps": s["steps"]},
               xlingual_config(env, "xlingual_recipe_default", common.FULL_RECIPE, s, **lr)]
        if with_dynamic_stock:
            row.append({**row[1], "name": "stock_dynamic_padding", "padding": "longest"})
        configs += [{**c, "section": "throughput", "repeat": r} for r in range(s["repeats"]) for c in row]
    if "alignment" in s["sections"]:
        row = [xlingual_config(env, "plain", common.FULL_RECIPE, s)]
        sizes = {}
        for loss in s["losses"]:
            rows = 3 if loss == "contrastive" else 2
            if rows not in sizes:
                sizes[rows] = xlingual_config(env, f"plain_x{rows}", common.FULL_RECIPE, s,
                                              batch=rows * s["batch_size"])
                row.append(sizes[rows])
            row.append(xlingual_config(env, loss, common.FULL_RECIPE, s,
                                       **alignment_overrides(env, loss, s["target_languages"])))
        configs += [{**c, "section": "alignment", "repeat": r} for r in range(s["repeats"]) for c in row]
    if "memory" in s["sections"]:
        row = [xlingual_config(env, "full_ft", common.FULL_RECIPE, s, **{"freeze.embeddings": "false"}),
               xlingual_config(env, "full_ft_recipe_default", common.FULL_RECIPE, s),
               xlingual_config(env, "lora", common.LORA_RECIPE, s),
               xlingual_config(env, "full_ft+checkpointing", common.FULL_RECIPE, s,
                               **{"freeze.embeddings": "false", "training.gradient_checkpointing": "true"}),
               xlingual_config(env, "lora+checkpointing", common.LORA_RECIPE, s,
                               **{"training.gradient_checkpointing": "true"})]
        row += [xlingual_config(env, f"lora+{loss}", common.LORA_RECIPE, s,
                                **alignment_overrides(env, loss, s["target_languages"])) for loss in s["losses"]]
        configs += [{**c, "section": "memory", "repeat": 0} for c in row]
    return configs


def by_name(results: list[dict[str, Any]], section: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result["section"] == section and "skipped" not in result:
            grouped.setdefault(result["name"], []).append(result)
    return grouped


def rate(result: dict[str, Any], key: str) -> float | None:
    """``samples``/``tokens`` per second of the whole run; ``steady`` = samples/s after the first step."""
    if key == "steady":
        step = result.get("steady_seconds_per_step")
        return result["batch_size"] / step if step else None
    value = result.get(key)
    return value / result["seconds"] if value is not None and result["seconds"] > 0 else None


def step_time(result: dict[str, Any]) -> float:
    """Seconds per step after the warm-up step (the whole-run average when there is one step)."""
    return result.get("steady_seconds_per_step") or result["seconds_per_step"]


def paired_ratios(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> list[float]:
    pairs = {r["repeat"]: r for r in b}
    out = []
    for result in a:
        other = pairs.get(result["repeat"])
        x, y = rate(result, key), rate(other, key) if other else None
        if x is not None and y:
            out.append(x / y)
    return out


ROW_LABELS = {
    "xlingual": "xlingual TrainingLoop, all weights train (A)",
    "stock": "stock Trainer, padded to max length (B)",
    "xlingual_recipe_default": "xlingual, recipe default (frozen embeddings)",
    "stock_dynamic_padding": "stock Trainer, dynamic padding",
}


def summarise_throughput(results: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    grouped = by_name(results, "throughput")
    stock = grouped.get("stock", [])
    dynamic = grouped.get("stock_dynamic_padding", [])
    gpu = any(r.get("peak_gpu_mb") for runs in grouped.values() for r in runs)
    section: dict[str, Any] = {"rows": {}, "runs": grouped}
    table = []
    for name, runs in grouped.items():
        row = {
            "samples_per_second": ratio_stats([rate(r, "samples") for r in runs]),
            "real_tokens_per_second": ratio_stats([rate(r, "tokens") for r in runs]),
            "seconds": ratio_stats([r["seconds"] for r in runs]),
            "padding_fraction": (1 - runs[0]["tokens"] / runs[0]["padded_tokens"]
                                 if runs[0].get("tokens") and runs[0].get("padded_tokens") else None),
            "peak_rss_mb": ratio_stats([r["peak_rss_mb"] for r in runs]),
            "trainable_parameters": runs[0]["parameters"]["trainable"],
            "ratio_samples_vs_stock": ratio_stats(paired_ratios(runs, stock, "samples")) if name != "stock" else None,
            "ratio_tokens_vs_stock": ratio_stats(paired_ratios(runs, stock, "tokens")) if name != "stock" else None,
            "steady_samples_per_second": ratio_stats([rate(r, "steady") for r in runs]),
            "ratio_steady_vs_stock": ratio_stats(paired_ratios(runs, stock, "steady")) if name != "stock" else None,
            "ratio_samples_vs_dynamic_stock": (ratio_stats(paired_ratios(runs, dynamic, "samples"))
                                               if dynamic and name.startswith("xlingual") else None),
            "peak_gpu_mb": ratio_stats([r["peak_gpu_mb"] for r in runs]) if gpu else None,
        }
        section["rows"][name] = row
        table.append([ROW_LABELS.get(name, name), fmt_stats(row["samples_per_second"]),
                      fmt_stats(row["real_tokens_per_second"], 0),
                      fmt(row["padding_fraction"] * 100 if row["padding_fraction"] is not None else None, 1),
                      fmt_stats(row["peak_rss_mb"], 0), f"{row['trainable_parameters']:,}",
                      fmt_stats(row["ratio_samples_vs_stock"]) if row["ratio_samples_vs_stock"] else "1 (baseline)",
                      fmt_stats(row["steady_samples_per_second"]),
                      fmt_stats(row["ratio_steady_vs_stock"]) if row["ratio_steady_vs_stock"] else "1 (baseline)"]
                     + ([fmt_stats(row["ratio_samples_vs_dynamic_stock"])
                         if row["ratio_samples_vs_dynamic_stock"] else "–"] if dynamic else [])
                     + ([fmt_stats(row["peak_gpu_mb"], 0)] if gpu else []))
    tokens = {name: runs[0].get("tokens") for name, runs in grouped.items()}
    section["same_real_tokens"] = len({t for t in tokens.values() if t is not None}) <= 1
    markdown = markdown_table(
        ["configuration", "samples/s", "real tokens/s", "padding %", "peak RSS MiB", "trainable params",
         "samples/s ratio vs stock", "samples/s after step 1", "ratio after step 1"]
        + (["samples/s ratio vs dynamic-padding stock"] if dynamic else []) + (["peak GPU MiB"] if gpu else []),
        table)
    markdown += ("\n\nCells: median (min–max) over repeats; ratios are paired within a repeat (A and B run back to "
                 "back). samples/s and tokens/s cover the whole training call (first step included); \"after step 1\" "
                 "leaves out the warm-up step. Same real tokens in every row: "
                 f"{fmt(section['same_real_tokens'])}.\n")
    return section, markdown


def summarise_alignment(results: list[dict[str, Any]], losses: list[str]) -> tuple[dict[str, Any], str]:
    grouped = by_name(results, "alignment")
    plain = {r["repeat"]: r for r in grouped.get("plain", [])}
    section: dict[str, Any] = {"rows": {}, "runs": grouped}
    table = []
    for loss in losses:
        runs = grouped.get(loss)
        if not runs:
            continue
        rows = 3 if loss == "contrastive" else 2
        combined = {r["repeat"]: r for r in grouped.get(f"plain_x{rows}", [])}
        total, extra, term = [], [], []
        for run in runs:
            base, both = plain.get(run["repeat"]), combined.get(run["repeat"])
            if not base or not both:
                continue
            t0, tc, tl = step_time(base), step_time(both), step_time(run)
            total.append(tl / t0 - 1)
            extra.append(tc / t0 - 1)
            term.append((tl - tc) / t0)
        row = {"rows_per_step": run["rows_per_step"], "combined_plain": f"plain_x{rows}",
               "seconds_per_step": ratio_stats([step_time(r) for r in runs]),
               "total_overhead": ratio_stats(total), "extra_forward_overhead": ratio_stats(extra),
               "loss_term_overhead": ratio_stats(term)}
        row["meets_goal"] = (row["loss_term_overhead"]["median"] <= GOAL_LOSS_OVERHEAD
                             if row["loss_term_overhead"]["median"] is not None else None)
        section["rows"][loss] = row
        table.append([loss, fmt(row["rows_per_step"], 0), fmt_stats(row["seconds_per_step"], 3),
                      fmt_stats(_pct(row["total_overhead"]), 1, " %"),
                      f"{fmt_stats(_pct(row['extra_forward_overhead']), 1, ' %')} ({rows}× rows)",
                      fmt_stats(_pct(row["loss_term_overhead"]), 1, " %"), fmt(row["meets_goal"])])
    base_step = ratio_stats([step_time(r) for r in plain.values()])
    section["plain_seconds_per_step"] = base_step
    markdown = markdown_table(
        ["loss", "rows/step", "s/step", "total overhead", "of which extra forward (plain step, same rows)",
         "loss-term overhead", f"loss term ≤ {GOAL_LOSS_OVERHEAD:.0%}"], table)
    markdown += (f"\n\nPlain fine-tuning (recipe default): {fmt_stats(base_step, 3)} s/step. Overheads are relative to "
                 "it (seconds per step after the warm-up step): total = aligned/plain − 1; "
                 "extra forward = (plain step with the aligned step's rows)/plain − 1; "
                 "loss term = (aligned − that plain step)/plain.\n")
    return section, markdown


def _pct(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: (v * 100 if isinstance(v, float) else v) for k, v in stats.items()}


def summarise_memory(results: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Peak RSS per configuration; on a GPU also peak GPU memory, where the activations live."""
    grouped = by_name(results, "memory")
    gpu = any(r.get("peak_gpu_mb") for runs in grouped.values() for r in runs)
    gpu_peak = {name: max(r.get("peak_gpu_mb") or 0 for r in runs) for name, runs in grouped.items()}
    peak = {name: max(r["peak_rss_mb"] for r in runs) for name, runs in grouped.items()}
    full, default = peak.get("full_ft"), peak.get("full_ft_recipe_default")
    section: dict[str, Any] = {"rows": {}, "runs": grouped}
    table = []
    for name, runs in grouped.items():
        row = {"peak_rss_mb": peak[name], "ratio_vs_full_ft": peak[name] / full if full else None,
               "ratio_vs_recipe_default": peak[name] / default if default else None,
               "trainable_parameters": runs[0]["parameters"]["trainable"],
               "seconds_per_step": statistics.median(step_time(r) for r in runs),
               "peak_gpu_mb": gpu_peak[name] if gpu else None,
               "gpu_ratio_vs_full_ft": (gpu_peak[name] / gpu_peak["full_ft"]
                                        if gpu and gpu_peak.get("full_ft") else None),
               "rss_isolated": all(r["rss_isolated"] for r in runs), "rss_note": runs[0]["rss_note"]}
        section["rows"][name] = row
        table.append([name, fmt(row["peak_rss_mb"], 0), fmt(row["ratio_vs_full_ft"]),
                      fmt(row["ratio_vs_recipe_default"]), f"{row['trainable_parameters']:,}",
                      fmt(row["seconds_per_step"]), row["rss_note"]]
                     + ([fmt(row["peak_gpu_mb"], 0), fmt(row["gpu_ratio_vs_full_ft"])] if gpu else []))
    markdown = markdown_table(["configuration", "peak RSS MiB", "× full FT", "× full FT (frozen embeddings)",
                               "trainable params", "s/step", "measured in"]
                              + (["peak GPU MiB", "GPU × full FT"] if gpu else []), table)
    return section, markdown + "\n"


def goals(sections: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    rows = []
    throughput = sections.get("throughput", {}).get("rows", {})
    if "xlingual" in throughput and throughput["xlingual"]["ratio_samples_vs_stock"]:
        value = throughput["xlingual"]["ratio_samples_vs_stock"]["median"]
        rows.append({"goal": f"training samples/s ≥ {GOAL_SPEEDUP}× stock Trainer (same work)",
                     "measured": f"{fmt(value)}×", "met": value is not None and value >= GOAL_SPEEDUP})
        dynamic = throughput["xlingual"].get("ratio_samples_vs_dynamic_stock")
        if dynamic:
            value = dynamic["median"]
            rows.append({"goal": f"training samples/s ≥ {GOAL_SPEEDUP}× stock Trainer with dynamic padding "
                                 "(a stronger baseline)", "measured": f"{fmt(value)}×",
                         "met": value is not None and value >= GOAL_SPEEDUP})
    memory = sections.get("memory", {}).get("rows", {})
    gpu = any(row.get("gpu_ratio_vs_full_ft") is not None for row in memory.values())
    key = "gpu_ratio_vs_full_ft" if gpu else "ratio_vs_full_ft"
    what = "peak GPU memory" if gpu else "peak RSS"
    if "lora" in memory and memory["lora"][key] is not None:
        value = memory["lora"][key]
        rows.append({"goal": f"LoRA {what} ≤ {GOAL_LORA_RSS}× full fine-tuning", "measured": f"{fmt(value)}×",
                     "met": value <= GOAL_LORA_RSS})
        if "lora+checkpointing" in memory and memory["lora+checkpointing"][key] is not None:
            value = memory["lora+checkpointing"][key]
            rows.append({"goal": f"LoRA with gradient checkpointing: {what} ≤ {GOAL_LORA_RSS}× full fine-tuning "
                                 "(without it)", "measured": f"{fmt(value)}×", "met": value <= GOAL_LORA_RSS})
    for loss, row in sections.get("alignment", {}).get("rows", {}).items():
        value = row["loss_term_overhead"]["median"]
        extra = row["extra_forward_overhead"]["median"]
        rows.append({"goal": f"{loss} adds ≤ {GOAL_LOSS_OVERHEAD:.0%} to the step (loss term; extra forward named "
                             "separately)",
                     "measured": f"{fmt(value * 100 if value is not None else None, 1)} % "
                                 f"(+ extra forward {fmt(extra * 100 if extra is not None else None, 1)} %)",
                     "met": row["meets_goal"]})
    table = markdown_table(["goal", "measured (median)", "met"], [[r["goal"], r["measured"], fmt(r["met"])]
                                                                   for r in rows])
    return rows, table


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.mixed_precision != "no":
        import torch

        if not torch.cuda.is_available():
            print(f"error: --mixed-precision {args.mixed_precision} needs a GPU; none is visible", file=sys.stderr)
            return 2
    results = common.header(SCRIPT, args.quick)
    with common.workdir() as tmp:
        wants_pairs = "contrastive" in args.losses and ("alignment" in args.sections or "memory" in args.sections)
        env = common.resolve_inputs(args, Path(tmp), need_pairs=wants_pairs)
        s = settings(args, env)
        configs = plan(env, s, args.with_dynamic_stock)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
    for config, child in zip(configs, children):
        child["section"] = config["section"]
    skipped = sorted({f"{c['name']}: {c['skipped']}" for c in children if "skipped" in c})
    common.finish_header(results, children, started)
    results.update(inputs=common.public_inputs(env), settings=s, isolated=args.isolate, skipped=skipped)
    sections: dict[str, Any] = {}
    parts = []
    if "throughput" in s["sections"]:
        sections["throughput"], text = summarise_throughput(children)
        parts.append(f"## Training throughput: xlingual vs stock Trainer\n\n{text}")
    if "alignment" in s["sections"]:
        sections["alignment"], text = summarise_alignment(children, s["losses"])
        parts.append(f"## Alignment-loss overhead (same steps and batch size)\n\n{text}")
    if "memory" in s["sections"]:
        sections["memory"], text = summarise_memory(children)
        parts.append(f"## Peak RSS\n\n{text}")
    results["goals"], goal_table = goals(sections)
    results["sections"] = sections
    settings_line = (f"steps {s['steps']}, batch {s['batch_size']}, max length {s['max_length']}, "
                     f"lr {s['learning_rate']}, mixed precision {s['mixed_precision']}, repeats {s['repeats']}, "
                     f"target text {', '.join(s['target_languages'])}"
                     f"; {'one fresh process per configuration' if args.isolate else 'one shared process'}")
    markdown = common.markdown_header(results, "Training throughput, alignment overhead and memory")
    markdown += f"- settings: {settings_line}\n"
    if skipped:
        markdown += "- skipped: " + "; ".join(skipped) + "\n"
    markdown += f"\n## Goals\n\n{goal_table}\n\n" + "\n".join(parts)
    common.write_results(args.out, results, markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
