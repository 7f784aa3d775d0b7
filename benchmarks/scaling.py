"""Training-time scaling: how xlingual's training time grows with examples and with max length.

Each point trains one epoch with xlingual's ``TrainingLoop`` (recipe default unless
``--recipe``; no selection split, no checkpoints) in a fresh child process and times
``run()``:

examples   500, 1000, 2000, 4000 English training examples at the recipe's max length
           (UMSAB English train first, then ../shared/data/tweeteval_en_extra);
max length 64, 128, 256 tokens at a fixed number of examples (1000).

Least-squares fits: seconds per example and per real (non-pad) token over the examples
sweep; seconds per real and per padded token over the max-length sweep.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import common
from common import fmt, fmt_stats, linear_fit, markdown_table, ratio_stats

SCRIPT = "scaling"


def build_parser() -> argparse.ArgumentParser:
    parser = common.base_parser(SCRIPT, __doc__)
    parser.add_argument("--recipe", type=Path, default=common.FULL_RECIPE,
                        help="recipe to train (default: recipes/umsab_e5small.yaml)")
    parser.add_argument("--examples", default=None, help="example counts (500,1000,2000,4000; quick 32,64)")
    parser.add_argument("--lengths", default=None, help="max lengths (64,128,256; quick 32,64)")
    parser.add_argument("--length-examples", type=int, default=None,
                        help="examples per point of the max-length sweep (1000; quick 32)")
    parser.add_argument("--max-length", type=int, default=None,
                        help="max length of the examples sweep (the recipe's, 128; with the tiny model 64)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (the recipe's; quick 8)")
    parser.add_argument("--repeats", type=int, default=1, help="repeats of every point (1)")
    return parser


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return common.train_xlingual(env, config)


def _ints(text: str | None, default: list[int]) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()] if text else default


def settings(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    quick, tiny = args.quick, env["model_kind"] == "tiny"
    limit = 64 if tiny else 512
    lengths = _ints(args.lengths, [32, 64] if quick else [64, 128, 256])
    if any(length > limit for length in lengths):
        print(f"note: the model takes at most {limit} tokens; longer max lengths dropped", file=sys.stderr)
    recipe = common.load_recipe(args.recipe, common.recipe_overrides(env))
    return {
        "recipe": str(args.recipe),
        "examples": _ints(args.examples, [32, 64] if quick else [500, 1000, 2000, 4000]),
        "lengths": [length for length in lengths if length <= limit],
        "length_examples": args.length_examples or (32 if quick else 1000),
        "max_length": min(args.max_length or recipe.model.max_length, limit),
        "batch_size": args.batch_size or (8 if quick else recipe.training.batch_size),
        "repeats": args.repeats,
    }


def plan(env: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    recipe = Path(s["recipe"])

    def point(sweep: str, examples: int, max_length: int, repeat: int) -> dict[str, Any]:
        overrides = common.recipe_overrides(env, **{"training.batch_size": s["batch_size"], "training.epochs": 1,
                                                    "model.max_length": max_length})
        common.load_recipe(recipe, overrides)
        return {"kind": "xlingual", "name": f"{sweep}:{examples}x{max_length}", "sweep": sweep, "recipe": str(recipe),
                "overrides": overrides, "examples": examples, "repeat": repeat}

    configs = []
    for repeat in range(s["repeats"]):
        configs += [point("examples", n, s["max_length"], repeat) for n in s["examples"]]
        configs += [point("max_length", s["length_examples"], length, repeat) for length in s["lengths"]]
    return configs


def _fit_text(fit: dict[str, Any], unit: str) -> str:
    if fit["slope"] is None:
        return f"per {unit}: – (fewer than two distinct points)"
    return (f"{common.fmt_sig(fit['slope'])} s per {unit} (intercept {fmt(fit['intercept'], 2)} s, "
            f"R² {fmt(fit['r2'], 3)}, {fit['n']} points)")


def summarise(children: list[dict[str, Any]], s: dict[str, Any]) -> tuple[dict[str, Any], str]:
    done = [c for c in children if "skipped" not in c]
    sections: dict[str, Any] = {}
    parts = []
    examples = [c for c in done if c["sweep"] == "examples"]
    if examples:
        fits = {"seconds_per_example": linear_fit([c["samples"] for c in examples], [c["seconds"] for c in examples]),
                "seconds_per_real_token": linear_fit([c["tokens"] for c in examples], [c["seconds"] for c in examples])}
        rows = _rows(examples, "samples")
        sections["examples"] = {"points": examples, "fits": fits}
        table = markdown_table(["examples", "steps", "real tokens", "padded tokens", "seconds", "examples/s",
                                "peak RSS MiB"], rows)
        parts.append(f"## Training time vs number of examples (max length {s['max_length']})\n\n{table}\n\n"
                     f"- {_fit_text(fits['seconds_per_example'], 'example')}\n"
                     f"- {_fit_text(fits['seconds_per_real_token'], 'real token')}\n")
    lengths = [c for c in done if c["sweep"] == "max_length"]
    if lengths:
        fits = {"seconds_per_real_token": linear_fit([c["tokens"] for c in lengths], [c["seconds"] for c in lengths]),
                "seconds_per_padded_token": linear_fit([c["padded_tokens"] for c in lengths],
                                                       [c["seconds"] for c in lengths]),
                "seconds_per_max_length_token": linear_fit([c["max_length"] for c in lengths],
                                                           [c["seconds"] for c in lengths])}
        rows = _rows(lengths, "max_length")
        sections["max_length"] = {"points": lengths, "fits": fits}
        table = markdown_table(["max length", "steps", "real tokens", "padded tokens", "seconds", "examples/s",
                                "peak RSS MiB"], rows)
        parts.append(f"## Training time vs max length ({s['length_examples']} examples)\n\n{table}\n\n"
                     f"- {_fit_text(fits['seconds_per_real_token'], 'real token')}\n"
                     f"- {_fit_text(fits['seconds_per_padded_token'], 'padded token')}\n"
                     f"- {_fit_text(fits['seconds_per_max_length_token'], 'unit of max length')}\n"
                     "\n"
                     "Tweets are short: past the length of the longest tweet a larger max length changes neither "
                     "the real nor (with dynamic padding) the padded tokens.\n")
    return sections, "\n".join(parts)


def _rows(points: list[dict[str, Any]], key: str) -> list[list[str]]:
    rows = []
    for value in sorted({p[key] for p in points}):
        mine = [p for p in points if p[key] == value]
        rows.append([fmt(value), fmt(mine[0]["steps"]), fmt(mine[0]["tokens"]), fmt(mine[0]["padded_tokens"]),
                     fmt_stats(ratio_stats([p["seconds"] for p in mine])),
                     fmt_stats(ratio_stats([p["samples"] / p["seconds"] for p in mine]), 1),
                     fmt_stats(ratio_stats([p["peak_rss_mb"] for p in mine]), 0)])
    return rows


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    results = common.header(SCRIPT, args.quick)
    with common.workdir() as tmp:
        env = common.resolve_inputs(args, Path(tmp))
        s = settings(args, env)
        configs = plan(env, s)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
    for config, child in zip(configs, children):
        child.update(sweep=config["sweep"], examples_wanted=config["examples"])
    skipped = sorted({f"{c['name']}: {c['skipped']}" for c in children if "skipped" in c})
    common.finish_header(results, children, started)
    results.update(inputs=common.public_inputs(env), settings=s, isolated=args.isolate, skipped=skipped)
    results["sections"], text = summarise(children, s)
    markdown = common.markdown_header(results, "Training-time scaling")
    markdown += (f"- settings: recipe {Path(s['recipe']).name}, batch {s['batch_size']}, one epoch per point, "
                 f"repeats {s['repeats']}; {'one fresh process per point' if args.isolate else 'one shared process'}\n")
    if skipped:
        markdown += "- skipped: " + "; ".join(skipped) + "\n"
    common.write_results(args.out, results, markdown + "\n" + text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
