"""Evaluation throughput: xlingual's multi-language evaluation vs ``transformers.pipeline("text-classification")``.

An untrained classifier is built from the model (``build_model`` on the full fine-tuning
recipe) and saved with ``save_checkpoint`` as a full checkpoint (the same files as a
merged export). Both sides load that folder and score the same UMSAB test texts of every
language (8 × 870 in a full run), outside the timed part:

A  ``load_checkpoint`` + ``tokenize_examples`` + ``evaluate_languages`` (length-sorted,
   dynamically padded batches under ``inference_mode``); timed from raw texts to labels.
B  ``pipeline("text-classification", model=<export>, batch_size=…, device="cpu")`` (after
   ``import xlingual.modeling``, which registers the model type with the Auto classes),
   called per language on the texts with the recipe's text prefix prepended, with
   ``truncation=True`` and the recipe's ``max_length``.

A and B run alternately (A B A B …), each in a fresh process; the predicted labels of
both are compared. Scaling: xlingual's evaluation time over the first 1, 2, 4, 8 languages,
with a least-squares fit of seconds per example and per token.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, fmt_stats, linear_fit, markdown_table, ratio_stats

SCRIPT = "eval_throughput"
GOAL_SPEEDUP = 1.5


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--languages", type=int, default=None,
                        help="how many UMSAB languages, English first (8; quick 2)")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="first N test examples per language (all; quick 50)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch size of both sides (the recipe's evaluation.batch_size, 128)")
    parser.add_argument("--max-length", type=int, default=None, help="max tokens (128; with the tiny model 64)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating repeats (3; quick 1)")
    parser.add_argument("--scaling", default=None, help="language counts for the scaling fit (1,2,4,8; quick 1,2)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling section")
    return parser


# ----------------------------------------------------------------------------- child side


def test_examples(env: dict[str, Any], recipe, languages: list[str], limit: int | None) -> dict[str, Any]:
    """The first ``limit`` test examples of each language (raw :class:`Examples`)."""
    from xlingual.data.examples import Examples
    from xlingual.data.loading import load_examples

    out = {}
    for language in languages:
        ex = load_examples(recipe.data, language, "test")
        if limit is not None and limit < len(ex):
            ex = Examples(ex.texts[:limit], ex.labels[:limit], ex.language, ex.split, f"{ex.origin}[:{limit}]")
        out[language] = ex
    return out


def export_model(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Build an untrained classifier and save it as a full checkpoint (what a merged export holds)."""
    from accelerate.utils import set_seed

    from xlingual.checkpoint import save_checkpoint
    from xlingual.data.loading import label_scheme
    from xlingual.modeling.build import build_model

    recipe = common.load_recipe(Path(config["recipe"]), config["overrides"])
    set_seed(recipe.training.seed)
    model, tokenizer = build_model(recipe, label_scheme(recipe.data))
    folder = save_checkpoint(model, tokenizer, config["export"])
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return {"export_bytes": size}


def xlingual_eval(env: dict[str, Any], config: dict[str, Any], model=None, tokenizer=None,
                  languages: list[str] | None = None) -> dict[str, Any]:
    """A: tokenise and evaluate every language with ``evaluate_languages``."""
    from xlingual.checkpoint import load_checkpoint
    from xlingual.data.batching import tokenize_examples
    from xlingual.evaluation.zero_shot import evaluate_languages

    recipe = common.load_recipe(Path(config["recipe"]), config["overrides"])
    device = config.get("device", "cpu")
    if model is None:
        model, tokenizer = load_checkpoint(config["export"], device=device, quantize=config.get("quantize"))
    raw = test_examples(env, recipe, languages or config["languages"], config["max_examples"])
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    start, cpu_start = time.perf_counter(), time.process_time()
    data = {lang: (ex, tokenize_examples(ex, tokenizer, recipe.model.max_length, recipe.model.text_prefix))
            for lang, ex in raw.items()}
    tokenized = time.perf_counter()
    report = evaluate_languages(model, data, names, "test", recipe.data.source_language,
                                recipe.evaluation.batch_size, device, None, progress=False)
    common.synchronize()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds, "tokenize_seconds": tokenized - start, "evaluate_seconds": seconds - (tokenized - start),
        "cpu_seconds": time.process_time() - cpu_start, "metrics": report.metrics(), "summary": report.summary(),
        "examples": sum(len(ex) for ex in raw.values()),
        "tokens": sum(sum(tok.lengths) for _, tok in data.values()),
        "languages": list(raw), "per_language_seconds": {k: r.seconds for k, r in report.languages.items()},
        "predictions": {k: r.predictions for k, r in report.languages.items()},
        "batch_size": recipe.evaluation.batch_size, "max_length": recipe.model.max_length,
    }


def pipeline_eval(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """B: the stock text-classification pipeline on the exported folder, same texts and truncation."""
    from transformers import pipeline

    import xlingual.modeling  # noqa: F401  (registers the xlingual model type with the Auto classes)

    recipe = common.load_recipe(Path(config["recipe"]), config["overrides"])
    raw = test_examples(env, recipe, config["languages"], config["max_examples"])
    batch_size, max_length = recipe.evaluation.batch_size, recipe.model.max_length
    classifier = pipeline("text-classification", model=config["export"], batch_size=batch_size,
                          device=config.get("device", "cpu"))
    label2id = classifier.model.config.label2id
    prefix = recipe.model.text_prefix
    inputs = {lang: [prefix + text for text in ex.texts] for lang, ex in raw.items()}
    predictions, per_language = {}, {}
    start = time.perf_counter()
    for language, texts in inputs.items():
        begin = time.perf_counter()
        output = classifier(texts, batch_size=batch_size, truncation=True, max_length=max_length)
        predictions[language] = [label2id[item["label"]] for item in output]
        per_language[language] = time.perf_counter() - begin
    common.synchronize()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "examples": sum(len(t) for t in inputs.values()), "tokens": None,
            "languages": list(raw), "per_language_seconds": per_language, "predictions": predictions,
            "batch_size": batch_size, "max_length": max_length}


def scaling_eval(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """xlingual's evaluation over the first k languages for each k, ``repeats`` times (model loaded once)."""
    from xlingual.checkpoint import load_checkpoint

    model, tokenizer = load_checkpoint(config["export"])
    points = []
    for repeat in range(config["repeats"]):
        for k in config["counts"]:
            result = xlingual_eval(env, config, model, tokenizer, config["languages"][:k])
            points.append({"languages": k, "repeat": repeat, "seconds": result["seconds"],
                           "cpu_seconds": result["cpu_seconds"], "examples": result["examples"],
                           "tokens": result["tokens"]})
    return {"points": points}


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    kind = config["kind"]
    if kind == "export":
        return export_model(env, config)
    if kind == "xlingual":
        return xlingual_eval(env, config)
    if kind == "pipeline":
        return pipeline_eval(env, config)
    return scaling_eval(env, config)


# ----------------------------------------------------------------------------- parent side


def settings(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    tiny = env["model_kind"] == "tiny"
    max_length = min(args.max_length or (64 if tiny else 128), 64 if tiny else 10**6)
    available = list(env["languages"])
    count = args.languages or (2 if args.quick else 8)
    languages = available[:count]
    if len(languages) < count:
        print(f"note: {count} languages wanted, {len(languages)} available ({', '.join(available)})", file=sys.stderr)
    if args.scaling:
        counts = [int(x) for x in args.scaling.split(",") if x.strip()]
    else:
        counts = [1, 2] if args.quick else [1, 2, 4, 8]
    return {
        "languages": languages, "max_examples": args.max_examples or (50 if args.quick else None),
        "batch_size": args.batch_size, "max_length": max_length, "repeats": args.repeats or (1 if args.quick else 3),
        "scaling_counts": [] if args.no_scaling else sorted({k for k in counts if 1 <= k <= len(available)}),
        "scaling_languages": available,
    }


def plan(env: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    values: dict[str, Any] = {"model.max_length": s["max_length"]}
    if s["batch_size"]:
        values["evaluation.batch_size"] = s["batch_size"]
    overrides = common.recipe_overrides(env, **values)
    recipe = common.load_recipe(common.FULL_RECIPE, overrides)
    s["batch_size"] = recipe.evaluation.batch_size
    s["text_prefix"] = recipe.model.text_prefix
    base = {"recipe": str(common.FULL_RECIPE), "overrides": overrides, "export": str(Path(env["workdir"]) / "export"),
            "languages": s["languages"], "max_examples": s["max_examples"]}
    configs = [{**base, "kind": "export", "name": "export", "section": "export"}]
    for repeat in range(s["repeats"]):
        configs += [{**base, "kind": "xlingual", "name": "xlingual", "section": "throughput", "repeat": repeat},
                    {**base, "kind": "pipeline", "name": "pipeline", "section": "throughput", "repeat": repeat}]
    if s["scaling_counts"]:
        configs.append({**base, "kind": "scaling", "name": "scaling", "section": "scaling",
                        "languages": s["scaling_languages"], "counts": s["scaling_counts"], "repeats": s["repeats"]})
    return configs


def compare_predictions(a: dict[str, list[int]], b: dict[str, list[int]]) -> dict[str, Any]:
    per_language = {}
    for language, mine in a.items():
        theirs = b.get(language, [])
        same = sum(x == y for x, y in zip(mine, theirs))
        per_language[language] = {"n": len(mine), "agree": same if len(mine) == len(theirs) else None}
    total = sum(v["n"] for v in per_language.values())
    agree = sum(v["agree"] or 0 for v in per_language.values())
    return {"identical": agree == total and all(v["agree"] is not None for v in per_language.values()),
            "agreement": agree / total if total else None, "disagreements": total - agree,
            "per_language": per_language}


def summarise(children: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    runs = {"xlingual": [c for c in children if c["name"] == "xlingual"],
            "pipeline": [c for c in children if c["name"] == "pipeline"]}
    by_repeat = {r["repeat"]: r for r in runs["pipeline"]}
    ratios, agreements = [], []
    for a in runs["xlingual"]:
        b = by_repeat.get(a["repeat"])
        if b is None:
            continue
        ratios.append((a["examples"] / a["seconds"]) / (b["examples"] / b["seconds"]))
        agreements.append(compare_predictions(a["predictions"], b["predictions"]))
    section: dict[str, Any] = {"rows": {}, "ratio_samples_vs_pipeline": ratio_stats(ratios),
                               "predictions": agreements[0] if agreements else None,
                               "predictions_identical_every_repeat": all(x["identical"] for x in agreements)}
    table = []
    labels = {"xlingual": "xlingual evaluate_languages (A)", "pipeline": "pipeline text-classification (B)"}
    for name, label in labels.items():
        items = runs[name]
        if not items:
            continue
        row = {"samples_per_second": ratio_stats([r["examples"] / r["seconds"] for r in items]),
               "seconds": ratio_stats([r["seconds"] for r in items]),
               "peak_rss_mb": ratio_stats([r["peak_rss_mb"] for r in items]),
               "examples": items[0]["examples"]}
        if name == "xlingual":
            row["tokenize_seconds"] = ratio_stats([r["tokenize_seconds"] for r in items])
            row["real_tokens_per_second"] = ratio_stats([r["tokens"] / r["seconds"] for r in items])
        section["rows"][name] = row
        table.append([label, fmt(row["examples"]), fmt_stats(row["seconds"]), fmt_stats(row["samples_per_second"], 1),
                      fmt_stats(row["peak_rss_mb"], 0),
                      fmt_stats(section["ratio_samples_vs_pipeline"]) if name == "xlingual" else "1 (baseline)"])
    for item in children:
        item.pop("predictions", None)
    section["runs"] = runs
    markdown = markdown_table(["evaluation", "examples", "seconds", "examples/s", "peak RSS MiB",
                               "examples/s ratio vs pipeline"], table)
    agreement = section["predictions"]
    if agreement:
        markdown += (f"\n\nSame predicted labels: {fmt(agreement['identical'])} "
                     f"(agreement {agreement['agreement']:.4%}, {agreement['disagreements']} differ; every repeat "
                     f"identical: {fmt(section['predictions_identical_every_repeat'])}). Cells: median (min–max) over "
                     "repeats; ratios paired within a repeat. Timed from raw texts to labels (A's tokenisation "
                     "included), model loading excluded.\n")
    return section, markdown


def summarise_scaling(children: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    points = [p for c in children if c["name"] == "scaling" for p in c.get("points", [])]
    if not points:
        return {}, ""
    per_example = linear_fit([p["examples"] for p in points], [p["seconds"] for p in points])
    per_token = linear_fit([p["tokens"] for p in points], [p["seconds"] for p in points])
    counts = sorted({p["languages"] for p in points})
    table = []
    for k in counts:
        mine = [p for p in points if p["languages"] == k]
        table.append([str(k), fmt(mine[0]["examples"]), fmt(mine[0]["tokens"]),
                      fmt_stats(ratio_stats([p["seconds"] for p in mine]), 3)])
    section = {"points": points, "fit_seconds_per_example": per_example, "fit_seconds_per_token": per_token}
    markdown = markdown_table(["languages", "examples", "real tokens", "seconds"], table)
    markdown += (f"\n\nLeast-squares fit over all points: {common.fmt_sig(per_example['slope'])} s per example "
                 f"(intercept {fmt(per_example['intercept'], 3)} s, R² {fmt(per_example['r2'], 3)}); "
                 f"{common.fmt_sig(per_token['slope'])} s per real token (R² {fmt(per_token['r2'], 3)}).\n")
    return section, markdown


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    results = common.header(SCRIPT, args.quick)
    with common.workdir() as tmp:
        env = common.resolve_inputs(args, Path(tmp), toy_sizes={"train": 96, "val": 30, "test": 50})
        s = settings(args, env)
        configs = plan(env, s)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
    for config, child in zip(configs, children):
        child["section"] = config["section"]
    common.finish_header(results, children, started)
    results.update(inputs=common.public_inputs(env), settings=s, isolated=args.isolate)
    throughput, table = summarise(children)
    scaling, scaling_table = summarise_scaling(children)
    ratio = throughput["ratio_samples_vs_pipeline"]["median"]
    results["goals"] = [{"goal": f"evaluation examples/s ≥ {GOAL_SPEEDUP}× pipeline", "measured": ratio,
                         "met": ratio is not None and ratio >= GOAL_SPEEDUP}]
    results["export_bytes"] = next((c.get("export_bytes") for c in children if c["name"] == "export"), None)
    results["sections"] = {"throughput": throughput, "scaling": scaling}
    markdown = common.markdown_header(results, "Evaluation throughput: xlingual vs transformers pipeline")
    n = throughput["rows"].get("xlingual", {}).get("examples")
    markdown += (f"- settings: {len(s['languages'])} languages ({', '.join(s['languages'])}), {n} test examples, "
                 f"batch {s['batch_size']}, max length {s['max_length']}, text prefix {s['text_prefix']!r}, "
                 f"repeats {s['repeats']}; {'one fresh process per run' if args.isolate else 'one shared process'}\n")
    goal_table = common.goals_table(results["goals"])
    markdown += f"\n## Goals\n\n{goal_table}\n\n## Throughput\n\n{table}"
    if scaling_table:
        markdown += f"\n## Scaling with the number of languages (xlingual)\n\n{scaling_table}"
    common.write_results(args.out, results, markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
