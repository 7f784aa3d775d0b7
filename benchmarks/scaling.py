"""Scaling: how xlingual's training time and memory grow with examples and max length, and evaluation with languages.

Each training point trains one epoch with xlingual's ``TrainingLoop`` (recipe default unless
``--recipe``; no selection split, no checkpoints) in a fresh child process and times
``run()``; its peak RSS (and peak GPU memory on a GPU) belongs to that process alone:

examples   500, 1000, 2000, 4000 English training examples at the recipe's max length
           (UMSAB English train first, then ../shared/data/tweeteval_en_extra);
max length 64, 128, 256 tokens at a fixed number of examples (1000).

``--max-steps N`` times only the first N (shuffled, length-grouped) batches of an epoch and
extrapolates to the whole epoch (the first step as timed + the other steps at the mean of the
later ones); such points are marked "extrapolated".

languages  evaluation time of an untrained classifier (``evaluate_languages``, tokenisation
           included) over the first 1, 2, 4, 8 UMSAB languages, model loaded once.

Least-squares fits: seconds per example and per real (non-pad) token over the examples
sweep; seconds per real and per padded token over the max-length sweep; a power law
``seconds ∝ examples^k`` (k = 1: linear); seconds per evaluated example and token. With
``--figure`` (default ``<out>/scaling.png``) the points and fits are drawn in one figure.
"""

from __future__ import annotations

import argparse
import math
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
    parser.add_argument("--max-steps", type=int, default=None,
                        help="time at most N steps per point and extrapolate to the epoch (default: whole epochs)")
    parser.add_argument("--eval-languages", default=None,
                        help="language counts of the evaluation sweep (1,2,4,8; quick 1,2); 'none' skips it")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="first N test examples per language in the evaluation sweep (all; quick 20)")
    parser.add_argument("--figure", type=Path, default=None, help="where to draw the figure (<out>/scaling.png)")
    parser.add_argument("--figure-from", type=Path, default=None, metavar="RESULTS_JSON",
                        help="only redraw the figure from an earlier run's results.json (to --figure)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the fits and the figure use: wall-clock seconds, or CPU seconds of the child "
                             "(steadier on a shared machine, with --threads 1) (wall)")
    return parser


def measure(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import eval_throughput  # the sibling script: its export and language-scaling code

    if config["kind"] == "export":
        return eval_throughput.export_model(env, config)
    if config["kind"] == "eval":
        return eval_throughput.scaling_eval(env, config)
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
        "max_steps": args.max_steps,
        "eval_counts": ([] if args.eval_languages == "none" else
                        [k for k in _ints(args.eval_languages, [1, 2] if quick else [1, 2, 4, 8])
                         if 1 <= k <= len(env["languages"])]),
        "eval_examples": args.eval_examples or (20 if quick else None),
        "eval_max_length": recipe.model.max_length if not tiny else min(recipe.model.max_length, limit),
        "languages": list(env["languages"]),
        "clock": args.clock,
        "threads": args.threads,
    }


def plan(env: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    recipe = Path(s["recipe"])

    def point(sweep: str, examples: int, max_length: int, repeat: int) -> dict[str, Any]:
        overrides = common.recipe_overrides(env, **{"training.batch_size": s["batch_size"], "training.epochs": 1,
                                                    "model.max_length": max_length})
        common.load_recipe(recipe, overrides)
        return {"kind": "xlingual", "name": f"{sweep}:{examples}x{max_length}", "sweep": sweep, "recipe": str(recipe),
                "overrides": overrides, "examples": examples, "repeat": repeat, "max_steps": s["max_steps"]}

    configs = []
    for repeat in range(s["repeats"]):
        configs += [point("examples", n, s["max_length"], repeat) for n in s["examples"]]
        configs += [point("max_length", s["length_examples"], length, repeat) for length in s["lengths"]]
    if s["eval_counts"]:
        overrides = common.recipe_overrides(env, **{"model.max_length": s["eval_max_length"]})
        base = {"recipe": str(common.FULL_RECIPE), "overrides": overrides, "sweep": "languages", "examples": None,
                "export": str(Path(env["workdir"]) / "export"), "languages": s["languages"],
                "max_examples": s["eval_examples"]}
        configs += [{**base, "kind": "export", "name": "export"},
                    {**base, "kind": "eval", "name": "languages", "counts": s["eval_counts"], "repeats": s["repeats"]}]
    return configs


def _fit_text(fit: dict[str, Any], unit: str, what: str = "s") -> str:
    if fit["slope"] is None:
        return f"per {unit}: – (fewer than two distinct points)"
    return (f"{common.fmt_sig(fit['slope'])} {what} per {unit} (intercept {fmt(fit['intercept'], 2)} {what}, "
            f"R² {fmt(fit['r2'], 3)}, {fit['n']} points)")


def power_fit(xs: list[float], ys: list[float]) -> dict[str, Any]:
    """``y = c · x^k`` by least squares on logarithms: k = 1 is linear growth, k < 1 sub-linear."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    fit = linear_fit([math.log(x) for x, _ in pairs], [math.log(y) for _, y in pairs])
    return {"exponent": fit["slope"], "coefficient": math.exp(fit["intercept"]) if fit["intercept"] is not None
            else None, "r2": fit["r2"], "n": fit["n"]}


def _training_section(points: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Fits of epoch time (the chosen clock) and peak memory over one sweep."""
    seconds = [p["fit_seconds"] for p in points]
    fits = {
        "seconds_per_example": linear_fit([p["samples_per_epoch"] for p in points], seconds),
        "seconds_per_real_token": linear_fit([p["tokens_per_epoch"] for p in points], seconds),
        "seconds_per_padded_token": linear_fit([p["padded_tokens_per_epoch"] for p in points], seconds),
        "power_law_" + key: power_fit([p[key] for p in points], seconds),
        "peak_rss_mb_per_" + key: linear_fit([p[key] for p in points], [p["peak_rss_mb"] for p in points]),
    }
    if key == "max_length":
        fits["seconds_per_unit_of_max_length"] = linear_fit([p["max_length"] for p in points], seconds)
    if all(p.get("peak_gpu_mb") for p in points):
        fits["peak_gpu_mb_per_" + key] = linear_fit([p[key] for p in points], [p["peak_gpu_mb"] for p in points])
    return {"points": points, "fits": fits}


def _per_epoch(point: dict[str, Any], clock: str) -> dict[str, Any]:
    """Samples and tokens of one whole epoch (scaled from the steps timed when extrapolated)."""
    scale = point["epoch_steps"] / max(point["steps"], 1) if point.get("extrapolated") else 1.0
    fit_seconds = point["epoch_cpu_seconds"] if clock == "cpu" else point["epoch_seconds"]
    return {**point, "samples_per_epoch": point["examples_wanted"], "fit_seconds": fit_seconds,
            "tokens_per_epoch": point["tokens"] * scale, "padded_tokens_per_epoch": point["padded_tokens"] * scale}


def summarise(children: list[dict[str, Any]], s: dict[str, Any]) -> tuple[dict[str, Any], str]:
    done = [c for c in children if "skipped" not in c]
    sections: dict[str, Any] = {}
    parts = []
    headers = ["steps (timed / epoch)", "real tokens", "padded tokens", "seconds per epoch", "CPU seconds per epoch",
               "examples/s", "peak RSS MiB"]
    clock = s["clock"]
    what = "CPU seconds" if clock == "cpu" else "s"
    gpu = any(c.get("peak_gpu_mb") for c in done)
    if gpu:
        headers.append("peak GPU MiB")
    examples = [_per_epoch(c, clock) for c in done if c["sweep"] == "examples"]
    if examples:
        section = sections["examples"] = _training_section(examples, "examples_wanted")
        fits = section["fits"]
        power = fits["power_law_examples_wanted"]
        table = markdown_table(["examples", *headers], _rows(examples, "examples_wanted", gpu))
        parts.append(f"## Training time vs number of examples (max length {s['max_length']})\n\n{table}\n\n"
                     f"- {_fit_text(fits['seconds_per_example'], 'example', what)}\n"
                     f"- {_fit_text(fits['seconds_per_real_token'], 'real token', what)}\n"
                     f"- power law: {what} ∝ examples^{fmt(power['exponent'], 3)} (R² {fmt(power['r2'], 3)}; "
                     "1 = linear)\n"
                     f"- peak RSS: {_fit_text(fits['peak_rss_mb_per_examples_wanted'], 'example', 'MiB')}\n")
    lengths = [_per_epoch(c, clock) for c in done if c["sweep"] == "max_length"]
    if lengths:
        section = sections["max_length"] = _training_section(lengths, "max_length")
        fits = section["fits"]
        table = markdown_table(["max length", *headers], _rows(lengths, "max_length", gpu))
        parts.append(f"## Training time vs max length ({s['length_examples']} examples)\n\n{table}\n\n"
                     f"- {_fit_text(fits['seconds_per_real_token'], 'real token', what)}\n"
                     f"- {_fit_text(fits['seconds_per_padded_token'], 'padded token', what)}\n"
                     f"- {_fit_text(fits['seconds_per_unit_of_max_length'], 'unit of max length', what)}\n"
                     f"- peak RSS: {_fit_text(fits['peak_rss_mb_per_max_length'], 'unit of max length', 'MiB')}\n"
                     "\n"
                     "Tweets are short: past the length of the longest tweet a larger max length changes neither "
                     "the real nor (with dynamic padding) the padded tokens.\n")
    if any(c.get("extrapolated") for c in examples + lengths):
        parts.append(f"Points with fewer timed steps than the epoch were timed for {s['max_steps']} steps and "
                     "extrapolated to the epoch (first step + remaining steps at the mean of the later ones); "
                     "their token counts are scaled the same way.\n")
    language_points = [p for c in done if c["sweep"] == "languages" for p in c.get("points", [])]
    if language_points:
        for p in language_points:
            p["fit_seconds"] = p["cpu_seconds"] if clock == "cpu" else p["seconds"]
        seconds = [p["fit_seconds"] for p in language_points]
        fits = {"seconds_per_example": linear_fit([p["examples"] for p in language_points], seconds),
                "seconds_per_real_token": linear_fit([p["tokens"] for p in language_points], seconds)}
        sections["languages"] = {"points": language_points, "fits": fits}
        rows = []
        for k in sorted({p["languages"] for p in language_points}):
            mine = [p for p in language_points if p["languages"] == k]
            rows.append([str(k), fmt(mine[0]["examples"]), fmt(mine[0]["tokens"]),
                         fmt_stats(ratio_stats([p["seconds"] for p in mine]), 2),
                         fmt_stats(ratio_stats([p["cpu_seconds"] for p in mine]), 2)])
        table = markdown_table(["languages", "test examples", "real tokens", "seconds", "CPU seconds"], rows)
        per_language = f"first {s['eval_examples']} test examples" if s["eval_examples"] else "every test example"
        parts.append(f"## Evaluation time vs number of languages ({per_language} of each, untrained classifier)\n\n"
                     f"{table}\n\n- {_fit_text(fits['seconds_per_example'], 'example', what)}\n"
                     f"- {_fit_text(fits['seconds_per_real_token'], 'real token', what)}\n")
    return sections, "\n".join(parts)


def _rows(points: list[dict[str, Any]], key: str, gpu: bool) -> list[list[str]]:
    rows = []
    for value in sorted({p[key] for p in points}):
        mine = [p for p in points if p[key] == value]
        first = mine[0]
        steps = (f"{first['steps']} / {first['epoch_steps']} (extrapolated)" if first.get("extrapolated")
                 else f"{first['steps']} / {first['epoch_steps']}")
        rows.append([fmt(value), steps, fmt(round(first["tokens_per_epoch"])),
                     fmt(round(first["padded_tokens_per_epoch"])),
                     fmt_stats(ratio_stats([p["epoch_seconds"] for p in mine])),
                     fmt_stats(ratio_stats([p["epoch_cpu_seconds"] for p in mine])),
                     fmt_stats(ratio_stats([p["samples_per_epoch"] / p["epoch_seconds"] for p in mine]), 1),
                     fmt_stats(ratio_stats([p["peak_rss_mb"] for p in mine]), 0)]
                    + ([fmt_stats(ratio_stats([p["peak_gpu_mb"] for p in mine]), 0)] if gpu else []))
    return rows


def _joint_legend(ax, twin) -> None:
    """One legend for an axis and its twin."""
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    ax.legend(handles + more, labels + more_labels, fontsize=8, loc="lower right")


def draw_figure(sections: dict[str, Any], path: Path, title: str, clock: str = "wall") -> Path | None:
    """Training time and peak memory vs examples and max length, evaluation time vs languages, with the fits."""
    if not sections:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xlingual.io import atomic_write_bytes

    unit = "CPU seconds" if clock == "cpu" else "seconds"
    short = "CPU s" if clock == "cpu" else "s"
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (time_examples, time_lengths), (memory, languages) = axes

    def line(ax, fit: dict[str, Any], xs: list[float], transform=lambda x: x, **style: Any) -> None:
        if fit.get("slope") is not None:
            lo, hi = min(xs), max(xs)
            ax.plot([transform(lo), transform(hi)], [fit["intercept"] + fit["slope"] * lo,
                                                     fit["intercept"] + fit["slope"] * hi], **style)

    examples = sections.get("examples")
    if examples:
        pts = examples["points"]
        fit, power = examples["fits"]["seconds_per_example"], examples["fits"]["power_law_examples_wanted"]
        xs = [p["examples_wanted"] for p in pts]
        time_examples.plot(xs, [p["fit_seconds"] for p in pts], "o", color="C0", label="measured")
        line(time_examples, fit, xs, color="C0", alpha=0.6,
             label=f"{common.fmt_sig(fit['slope'])} {short}/example, R² {fmt(fit['r2'], 3)}")
        if power["exponent"] is not None:
            time_examples.plot([], [], " ", label=f"power law: examples^{power['exponent']:.2f}")
        time_examples.set(xlabel="English training examples", ylabel=f"{unit} per epoch",
                          title="Training time vs examples")
        time_examples.legend(fontsize=8)
        memory.plot(xs, [p["peak_rss_mb"] for p in pts], "o-", color="C0", label="vs examples (bottom axis)")
        memory.set(xlabel="English training examples", ylabel="peak RSS MiB", title="Peak RSS per point")
        memory.set_ylim(bottom=0)
    else:
        time_examples.set_visible(False)
    lengths = sections.get("max_length")
    if lengths:
        pts = lengths["points"]
        xs = [p["max_length"] for p in pts]
        time_lengths.plot(xs, [p["fit_seconds"] for p in pts], "o-", color="C1", label=f"{unit} per epoch")
        twin = time_lengths.twinx()
        twin.plot(xs, [p["tokens_per_epoch"] for p in pts], "s--", color="C2", label="real tokens per epoch")
        twin.plot(xs, [p["padded_tokens_per_epoch"] for p in pts], "^:", color="C3", label="padded tokens per epoch")
        twin.set_ylabel("tokens per epoch")
        twin.set_ylim(bottom=0)
        _joint_legend(time_lengths, twin)
        time_lengths.set(xlabel="max length (tokens)", ylabel=f"{unit} per epoch", xticks=xs,
                         title=f"Training time vs max length ({pts[0]['examples_wanted']} examples)")
        time_lengths.set_ylim(bottom=0)
        top = memory.twiny()
        top.plot(xs, [p["peak_rss_mb"] for p in pts], "s-", color="C1", label="vs max length (top axis)")
        top.set_xlabel("max length (tokens)")
        top.set_ylim(bottom=0)
        _joint_legend(memory, top)
    else:
        time_lengths.set_visible(False)
    if not examples and not lengths:
        memory.set_visible(False)
    evaluation = sections.get("languages")
    if evaluation:
        pts = evaluation["points"]
        fit = evaluation["fits"]["seconds_per_example"]
        per_language = {p["languages"]: p["examples"] for p in pts}
        languages.plot([p["languages"] for p in pts], [p["fit_seconds"] for p in pts], "o", color="C4",
                       label="measured")
        counts = sorted(per_language)
        if fit.get("slope") is not None:
            languages.plot(counts, [fit["intercept"] + fit["slope"] * per_language[k] for k in counts], "-",
                           color="C4", alpha=0.6,
                           label=f"{common.fmt_sig(fit['slope'])} {short}/example, R² {fmt(fit['r2'], 3)}")
        languages.set(xlabel="languages evaluated", ylabel=unit, xticks=counts,
                      title="Evaluation time vs languages")
        languages.legend(fontsize=8)
    else:
        languages.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def figure_title(results: dict[str, Any]) -> str:
    machine, settings = results["machine"], results["settings"]
    where = machine.get("gpu") or f"{machine['cpu_count']}-CPU machine"
    threads = f", {settings['threads']} torch thread(s)" if settings.get("threads") else ""
    quick = " (quick: numbers meaningless)" if results["quick"] else ""
    return f"xlingual scaling — {where}{threads}, {results['date'][:10]}{quick}"


def run(args: argparse.Namespace) -> int:
    if args.figure_from:
        import json

        earlier = json.loads(args.figure_from.read_text(encoding="utf-8"))
        figure = draw_figure(earlier["sections"], args.figure or args.figure_from.with_name("scaling.png"),
                             figure_title(earlier), earlier["settings"].get("clock", "wall"))
        print(f"wrote {figure}", file=sys.stderr)
        return 0
    started = time.perf_counter()
    results = common.header(SCRIPT, args.quick)
    with common.workdir() as tmp:
        env = common.resolve_inputs(args, Path(tmp))
        s = settings(args, env)
        configs = plan(env, s)
        children = common.run_configs(SCRIPT, env, configs, args.isolate, args.verbose, out=Path(args.out))
    for config, child in zip(configs, children):
        child.update(sweep=config["sweep"], examples_wanted=config["examples"])
    children = [c for c in children if c["name"] != "export"]
    skipped = sorted({f"{c['name']}: {c['skipped']}" for c in children if "skipped" in c})
    common.finish_header(results, children, started)
    results.update(inputs=common.public_inputs(env), settings=s, isolated=args.isolate, skipped=skipped)
    results["sections"], text = summarise(children, s)
    figure = draw_figure(results["sections"], args.figure or Path(args.out) / "scaling.png", figure_title(results),
                         args.clock)
    results["figure"] = str(figure) if figure else None
    markdown = common.markdown_header(results, "Scaling: training time and memory, evaluation time")
    capped = f" (at most {s['max_steps']} steps timed)" if s["max_steps"] else ""
    threads = f", torch threads {s['threads']}" if s["threads"] else ""
    markdown += (f"- settings: recipe {Path(s['recipe']).name}, batch {s['batch_size']}, one epoch per point{capped}, "
                 f"fits on {'CPU' if s['clock'] == 'cpu' else 'wall-clock'} seconds{threads}, "
                 f"repeats {s['repeats']}; {'one fresh process per point' if args.isolate else 'one shared process'}\n")
    if figure:
        markdown += f"- figure: {figure}\n"
    if skipped:
        markdown += "- skipped: " + "; ".join(skipped) + "\n"
    common.write_results(args.out, results, markdown + "\n" + text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main_wrapper(SCRIPT, argv, build_parser(), measure, run)


if __name__ == "__main__":
    sys.exit(main())
