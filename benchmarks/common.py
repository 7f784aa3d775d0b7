"""Shared helpers for the benchmark scripts: inputs, child processes, statistics and result files.

A benchmark script is two programs in one file. The *parent* (what a person runs) finds
the model and data, builds a list of configurations and runs each in a *child*,
``python benchmarks/<script>.py --_child JSON``, so that peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``) and timings belong to one configuration and
one fresh interpreter. In ``--quick`` mode every configuration runs in one shared child
(interpreter start-up and imports take longer than the measurements); peak RSS is then
reset between configurations through ``/proc/self/clear_refs`` where Linux allows it,
and the results say that memory was not isolated.

The parent never imports torch or transformers: it starts in well under a second.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xlingual.callbacks import Callback  # no torch: the parent stays light

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RECIPES = REPO / "recipes"
FULL_RECIPE = RECIPES / "umsab_e5small.yaml"
LORA_RECIPE = RECIPES / "umsab_e5small_lora.yaml"
UMSAB = SHARED / "data" / "umsab"
ENGLISH_EXTRA = SHARED / "data" / "tweeteval_en_extra"
TATOEBA = SHARED / "data" / "tatoeba"
TOY_LANGUAGES = ["english", "spanish", "german"]

def _write_atomically(path: Path, text: str) -> None:
    from xlingual.io import atomic_write_text  # imported late: the parent process stays light

    atomic_write_text(path, text)


Measure = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class Skip(Exception):
    """The inputs a benchmark needs are absent: report why and exit 0."""


# ----------------------------------------------------------------------------- arguments


def base_parser(script: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(
        prog=f"python benchmarks/{script}.py", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in well under 2 minutes (tiny model and toy data unless --model/--data "
                             "are given); checks the script works, its numbers mean nothing")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / script,
                        help=f"folder for results.json and results.md (default: benchmarks/results/{script})")
    parser.add_argument("--model", default=None,
                        help="encoder folder (default: $XLINGUAL_E5_SMALL or ~/.cache/xlingual/e5-small; "
                             "build it with ../shared/models/build-e5-small DEST)")
    parser.add_argument("--data", type=Path, default=None, help=f"UMSAB folder (default: {UMSAB})")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                        help="one fresh child process per configuration (default: on, off with --quick)")
    parser.add_argument("--verbose", action="store_true", help="show the children's output as they run")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads in each child (default: torch's). On a shared machine, 1 thread makes "
                             "CPU seconds (also recorded) a measure of the work that other processes barely move")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    return parser


# ----------------------------------------------------------------------------- inputs


def default_model() -> Path:
    return Path(os.environ.get("XLINGUAL_E5_SMALL", Path.home() / ".cache" / "xlingual" / "e5-small")).expanduser()


def _is_model(path: Path) -> bool:
    return (path / "config.json").is_file()


def _is_umsab(path: Path, languages: Iterable[str] = ("english",)) -> bool:
    return all((path / lang / "train_text.txt").is_file() and (path / lang / "test_text.txt").is_file()
               for lang in languages)


def write_toy_pairs(folder: Path, languages: Sequence[str], n: int = 64) -> str:
    """Toy 'translation pairs' (English TSV column first) per language; returns the root template."""
    from xlingual import testing
    folder.mkdir(parents=True, exist_ok=True)
    english, _ = testing.toy_sentences("english", n, seed=7)
    for language in languages:
        other, _ = testing.toy_sentences(language, n, seed=7)
        (folder / f"{language}.tsv").write_text("".join(f"{e}\t{o}\n" for e, o in zip(english, other)),
                                                encoding="utf-8")
    return str(folder / "{language}.tsv")


def resolve_inputs(args: argparse.Namespace, workdir: Path, toy_sizes: dict[str, int] | None = None,
                   need_extra: bool = False, need_pairs: bool = False, extra: Path = ENGLISH_EXTRA) -> dict[str, Any]:
    """Where the model, UMSAB data, extra English and translation pairs come from.

    Full runs use the real encoder and data and raise :class:`Skip` where they are absent.
    ``--quick`` uses the tiny random BERT and toy data of ``xlingual.testing`` unless
    ``--model`` / ``--data`` name real ones, so a smoke run never costs real-model time.
    """
    env: dict[str, Any] = {"quick": bool(args.quick), "workdir": str(workdir), "threads": args.threads}
    explicit_model = args.model is not None
    model = Path(args.model).expanduser() if explicit_model else default_model()
    if args.quick and not explicit_model:
        env.update(model=str(workdir / "tiny-bert"), model_kind="tiny")
    elif _is_model(model):
        env.update(model=str(model.resolve()), model_kind="real")
    else:
        raise Skip(f"no encoder at {model} (config.json missing); build it with "
                   f"'{SHARED / 'models' / 'build-e5-small'} {model}' or pass --model (or run with --quick)")
    data = args.data
    if args.quick and data is None:
        from xlingual import testing
        root = workdir / "toy-umsab"
        testing.write_umsab(root, toy_sizes)
        env.update(data=str(root), data_kind="toy", languages=list(TOY_LANGUAGES), extra=None,
                   pairs=write_toy_pairs(workdir / "toy-pairs", ["spanish", "german"]))
        return env
    data = (data or UMSAB).expanduser()
    if not _is_umsab(data):
        raise Skip(f"no UMSAB data at {data} (english/train_text.txt missing); pass --data or run with --quick")
    from xlingual.languages import UMSAB_LANGUAGES  # light: no torch in the parent process

    languages = [lang for lang in dict.fromkeys(("english", *UMSAB_LANGUAGES)) if _is_umsab(data, [lang])]
    env.update(data=str(data.resolve()), data_kind="umsab", languages=languages)
    found = extra if (extra / "train_text.txt").is_file() else None
    if need_extra and found is None:
        raise Skip(f"extra English training data not found at {extra} (needed for more than the 1839 "
                   "UMSAB English training examples)")
    env["extra"] = str(found) if found else None
    pairs = TATOEBA if (TATOEBA / "tatoeba.spa-eng.spa").is_file() else None
    if need_pairs and pairs is None:
        raise Skip(f"translation pairs not found at {TATOEBA} (needed for the contrastive loss)")
    env["pairs"] = str(pairs) if pairs else None
    return env


def ensure_tiny_model(folder: Path) -> None:
    """Build the tiny random BERT of ``xlingual.testing`` once (atomically, by rename)."""
    if _is_model(folder):
        return
    from xlingual import testing
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=folder.parent))
    testing.build_tiny_bert(tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another child built it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def english_pool(env: dict[str, Any], n: int, scheme) -> Any:
    """The first ``n`` English training examples: UMSAB English train, then tweeteval_en_extra."""
    from xlingual.data.examples import Examples
    from xlingual.data.textfile import read_lines
    from xlingual.data.umsab import read_umsab

    base = read_umsab(env["data"], "english", "train", scheme)
    texts, labels, origin = list(base.texts), list(base.labels), base.origin
    if n > len(texts) and env.get("extra"):
        folder = Path(env["extra"])
        extra_texts = read_lines(folder / "train_text.txt")
        raw = read_lines(folder / "train_labels.txt")
        for number, (text, label) in enumerate(zip(extra_texts, raw), start=1):
            encoded = scheme.encode(label, f"{folder / 'train_labels.txt'}:{number}")
            if encoded is not None and text.strip():
                texts.append(text)
                labels.append(encoded)
        origin += f" + {folder}"
    if n > len(texts):
        raise Skip(f"{n} English training examples wanted, {len(texts)} available ({origin})")
    return Examples(texts[:n], labels[:n], "english", "train", f"{origin}[:{n}]")


def recipe_overrides(env: dict[str, Any], **values: Any) -> list[str]:
    """``--set`` overrides pointing a recipe at the benchmark's model and data, plus ``values``."""
    base: dict[str, Any] = {"model.name": env["model"], "data.root": env["data"],
                            "training.select_best_on": "last", "training.checkpoint_steps": 0}
    if env["data_kind"] == "toy":
        base["data.target_languages"] = "spanish,german"
    if env["model_kind"] == "tiny":
        base["model.text_prefix"] = ""
    base.update(values)
    return [f"{key}={value}" for key, value in base.items()]


def load_recipe(path: Path, overrides: Sequence[str]):
    """The recipe with overrides applied (validated: a bad override fails before any child starts)."""
    from xlingual.config import load_recipe as _load

    return _load(path, list(overrides))


class StepTimer(Callback):
    """A training callback that notes the wall and CPU time of every logged step (run with
    ``training.logging_steps=1``) and the moment the training loop starts."""

    def __init__(self) -> None:
        self.marks: list[float] = []
        self.cpu_marks: list[float] = []  # time.process_time: every thread of this process
        self.start: float | None = None
        self.cpu_start: float | None = None

    def on_log(self, record: dict[str, Any]) -> None:
        if "task" in record:  # a step record, not a selection score
            synchronize()
            self.marks.append(time.perf_counter())
            self.cpu_marks.append(time.process_time())

    def on_train_begin(self, record: dict[str, Any]) -> None:
        """The moment the training loop starts, so the first step is timed too."""
        self.start, self.cpu_start = time.perf_counter(), time.process_time()


def steady_step(marks: Sequence[float]) -> float | None:
    """Seconds per step after the first (warm-up) step; ``None`` with fewer than two steps."""
    return (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) >= 2 else None


def synchronize() -> None:
    """Wait for queued GPU work, so a wall-clock time covers it (no-op on CPU)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def train_xlingual(env: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Train through ``xlingual.fit`` (the library's own entry point) and report the training loop's time.

    ``config``: ``recipe`` (path), ``overrides`` and ``examples`` (how many English training
    examples, the first of :func:`english_pool`). No selection and no test split, so the loop's
    ``train_seconds`` is the training steps alone (state saves and the final checkpoint are timed apart);
    ``training.epochs`` sets how many. Step times come from an ``on_log`` callback at every step.
    An optional ``max_steps`` stops after that many of the epoch's (shuffled, length-grouped)
    batches; ``epoch_seconds`` then extrapolates to the whole epoch: the first step as timed plus
    the epoch's remaining steps at the mean time of the later ones.
    """
    import xlingual
    from xlingual.data.loading import label_scheme

    recipe = load_recipe(Path(config["recipe"]), [*config["overrides"], "training.logging_steps=1"])
    scheme = label_scheme(recipe.data)
    examples = english_pool(env, config["examples"], scheme)
    epoch_steps = math.ceil(len(examples.texts) / recipe.training.batch_size)
    max_steps = config.get("max_steps")
    if max_steps:  # at most one epoch: the loop stops after max_steps batches
        epochs = min(1.0, max_steps / epoch_steps)
        recipe.training.epochs = epochs if math.ceil(epochs * epoch_steps) <= max_steps else math.nextafter(epochs, 0)
    timer = StepTimer()
    with tempfile.TemporaryDirectory(prefix="xlingual-bench-") as folder:
        classifier = xlingual.fit(recipe, train=(examples.texts, [scheme.names[i] for i in examples.labels]),
                                  callbacks=[timer], output_dir=Path(folder) / "run", progress=False)
    summary = classifier.report.training
    seconds, steps = summary.train_seconds, summary.global_step
    # CPU seconds of the training steps: from the loop's start to the last step (no selection, no test split)
    cpu_seconds = timer.cpu_marks[-1] - timer.cpu_start if timer.cpu_marks and timer.cpu_start is not None else 0.0
    steady = steady_step(timer.marks)
    extrapolated = max_steps is not None and steps < epoch_steps
    first = timer.marks[0] - timer.start if timer.marks and timer.start is not None else seconds
    return {
        "seconds": seconds, "steps": steps, "seconds_per_step": seconds / max(steps, 1),
        "steady_seconds_per_step": steady, "epoch_steps": epoch_steps, "extrapolated": extrapolated,
        "epoch_seconds": first + (epoch_steps - 1) * steady if extrapolated and steady else seconds,
        "cpu_seconds": cpu_seconds,
        "epoch_cpu_seconds": cpu_seconds * epoch_steps / steps if extrapolated and steps else cpu_seconds,
        "samples": summary.samples, "tokens": summary.tokens, "padded_tokens": summary.padded_tokens,
        "auxiliary_samples": summary.auxiliary_samples, "loop_train_seconds": summary.train_seconds,
        "batch_size": recipe.training.batch_size, "max_length": recipe.model.max_length,
        "rows_per_step": (summary.samples + summary.auxiliary_samples) / max(steps, 1),
        "parameters": summary.parameters, "method": recipe.method,
        "losses": [loss.name for loss in recipe.alignment.losses],
    }


# ----------------------------------------------------------------------------- child processes


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (2**20 if sys.platform == "darwin" else 2**10)


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux ≥ 4.0); returns whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def child_main(payload: str, measure: Measure) -> int:
    """Run the configurations in ``payload`` one after another and write their results."""
    request = json.loads(payload)
    env, configs = request["env"], request["configs"]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if env.get("model_kind") == "tiny":
        ensure_tiny_model(Path(env["model"]))
    import torch
    import transformers

    if env.get("threads"):
        torch.set_num_threads(env["threads"])
    results = []
    shared = len(configs) > 1
    cuda = torch.cuda.is_available()
    for config in configs:
        reset = reset_peak_rss() if shared else False
        if cuda:  # the previous configuration's cached blocks must not count in this one's peak
            import gc

            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        before = peak_rss_mb()
        start = time.perf_counter()
        try:
            result = measure(env, config)
        except Skip as exc:
            result = {"skipped": str(exc)}
        result.update(
            name=config["name"], repeat=config.get("repeat", 0), child_seconds=time.perf_counter() - start,
            peak_rss_mb=peak_rss_mb(), rss_at_start_mb=before, rss_isolated=not shared,
            rss_note="fresh process" if not shared else ("shared process, peak reset" if reset
                                                          else "shared process, peak NOT reset (cumulative)"),
            torch_threads=torch.get_num_threads(), torch_version=torch.__version__,
            transformers_version=transformers.__version__,
            gpu=torch.cuda.get_device_name(0) if cuda else None,
            peak_gpu_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        )
        results.append(result)
        _write_json(Path(request["result_file"]), results)
        _reset_accelerate()
    return 0


def _reset_accelerate() -> None:
    """Forget accelerate's process-wide state, so the next configuration starts clean."""
    try:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(True)
        GradientState._reset_state()
    except (ImportError, AttributeError):
        pass


PARTIAL = "partial_results.json"


def run_configs(script: str, env: dict[str, Any], configs: list[dict[str, Any]], isolate: bool,
                verbose: bool = False, out: Path | None = None) -> list[dict[str, Any]]:
    """Run ``configs`` in child processes (one each, or all in one) and return their results in order.

    With ``out``, the raw results so far are rewritten to ``out/partial_results.json`` after every
    child, so a benchmark stopped part-way (a time limit, a lost machine) keeps what it measured;
    :func:`write_results` removes the file once the tables are written.
    """
    groups = [[c] for c in configs] if isolate else [configs]
    results: list[dict[str, Any]] = []
    if out is not None:
        (out / PARTIAL).unlink(missing_ok=True)  # an earlier run's leftovers
    workdir = Path(env["workdir"])
    total = len(configs)
    for index, group in enumerate(groups):
        result_file = workdir / f"child-{index}.json"
        result_file.unlink(missing_ok=True)
        payload = json.dumps({"env": env, "configs": group, "result_file": str(result_file)})
        command = [sys.executable, str(REPO / "benchmarks" / f"{script}.py"), "--_child", payload]
        names = ", ".join(f"{c['name']}#{c.get('repeat', 0) + 1}" for c in group)
        done = len(results)
        label = f"[{done + 1}/{total}]" if len(group) == 1 else f"[{done + 1}-{done + len(group)}/{total}]"
        print(f"{label} {names if len(names) < 100 else names[:97] + '...'}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        completed = subprocess.run(command, cwd=REPO, text=True, stdout=None if verbose else subprocess.PIPE,
                                   stderr=subprocess.STDOUT, check=False)
        if completed.returncode != 0:
            tail = "" if verbose else "\n".join((completed.stdout or "").splitlines()[-40:])
            raise RuntimeError(f"child process for {names} failed (exit {completed.returncode}):\n{tail}")
        part = json.loads(result_file.read_text(encoding="utf-8"))
        result_file.unlink()
        print(f"      done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        results.extend(part)
        if out is not None:
            _write_json(out / PARTIAL, {"configs": configs[:len(results)], "results": results})
    return results


# ----------------------------------------------------------------------------- statistics


def ratio_stats(values: Sequence[float]) -> dict[str, float | int | None]:
    """min / median / max (and n) of a list of ratios or timings."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"min": None, "median": None, "max": None, "n": 0}
    return {"min": min(finite), "median": statistics.median(finite), "max": max(finite), "n": len(finite)}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float | None]:
    """Least-squares ``y = intercept + slope · x`` with R² (``None`` where it is undefined)."""
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        return {"slope": None, "intercept": None, "r2": None, "n": n}
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    return {"slope": slope, "intercept": intercept, "r2": 1 - ss_res / ss_tot if ss_tot else None, "n": n}


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a Markdown cell (``–`` for missing)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.{digits}e}"
        return f"{value:,.{digits}f}"
    return str(value)


def fmt_sig(value: float | None) -> str:
    """Three significant digits (for fitted slopes such as seconds per token)."""
    return "–" if value is None else f"{value:.3g}"


def fmt_stats(stats: dict[str, Any], digits: int = 2, suffix: str = "") -> str:
    """``median (min–max)`` of :func:`ratio_stats`."""
    if stats.get("median") is None:
        return "–"
    if stats["n"] == 1:
        return f"{fmt(stats['median'], digits)}{suffix}"
    return f"{fmt(stats['median'], digits)}{suffix} ({fmt(stats['min'], digits)}–{fmt(stats['max'], digits)})"


def goals_table(goals: Sequence[dict[str, Any]]) -> str:
    """The Goals table: each goal's text, its measured median (with ``unit``, default ×) and whether it is met."""
    return markdown_table(["goal", "measured (median)", "met"],
                          [[g["goal"], f"{fmt(g['measured'])}{g.get('unit', '×')}", fmt(g["met"])] for g in goals])


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell if isinstance(cell, str) else fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- results


def machine_info() -> dict[str, Any]:
    """What ran the benchmark; torch threads and versions come from the children."""
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def git_state() -> dict[str, Any]:
    def git(*command: str) -> str | None:
        try:
            done = subprocess.run(["git", *command], cwd=REPO, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def header(script: str, quick: bool) -> dict[str, Any]:
    """The common top of results.json: benchmark, command, date, machine, git state."""
    return {
        "benchmark": script,
        "quick": quick,
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_state(),
    }


def finish_header(results: dict[str, Any], children: Sequence[dict[str, Any]], started: float) -> None:
    """Fill in what only the children know, and the wall time."""
    machine = results["machine"]
    if children:
        machine["torch_threads"] = children[0].get("torch_threads")
        machine["torch"] = children[0].get("torch_version")
        machine["transformers"] = children[0].get("transformers_version")
        machine["gpu"] = children[0].get("gpu")
    if hasattr(os, "getloadavg"):
        machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_seconds"] = round(time.perf_counter() - started, 2)


def markdown_header(results: dict[str, Any], title: str) -> str:
    machine = results["machine"]
    lines = [
        f"# {title}",
        "",
        f"- command: `{results['command']}`",
        f"- date: {results['date']}; git {str(results['git'].get('commit'))[:12]}"
        f"{' (dirty)' if results['git'].get('dirty') else ''}",
        f"- machine: {machine['platform']}, {machine['cpu_count']} CPUs"
        f" ({machine.get('cpus_usable', '?')} usable), torch threads {machine.get('torch_threads', '?')}, "
        f"torch {machine.get('torch', '?')}, transformers {machine.get('transformers', '?')}"
        + (f", GPU {machine['gpu']}" if machine.get("gpu") else ", no GPU"),
        f"- load average at start / end: {machine.get('load_average_at_start')} / {machine.get('load_average_at_end')}",
        f"- inputs: model {results['inputs']['model']} ({results['inputs']['model_kind']}), "
        f"data {results['inputs']['data']} ({results['inputs']['data_kind']})",
        f"- wall time: {results.get('wall_seconds', 0):.0f} s",
    ]
    if results["quick"]:
        lines.append("- **quick mode**: a smoke run; the numbers say nothing about performance")
    load = (machine.get("load_average_at_start") or [0.0])[0]
    cpus = machine.get("cpus_usable") or machine.get("cpu_count") or 1
    if load > 0.5 * cpus:
        lines.append(f"- **warning**: load average {load} on {cpus} CPUs at the start: other work was running, "
                     "so timings are unreliable (torch's threads wait for each other on busy cores)")
    return "\n".join(lines) + "\n"


def _write_json(path: Path, data: Any) -> None:
    _write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_results(out: Path, results: dict[str, Any], markdown: str) -> None:
    """Write ``results.json`` and ``results.md`` atomically and print the Markdown."""
    _write_json(out / "results.json", results)
    _write_atomically(out / "results.md", markdown)
    (out / PARTIAL).unlink(missing_ok=True)
    print(markdown)
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}", file=sys.stderr)


def public_inputs(env: dict[str, Any]) -> dict[str, Any]:
    """The inputs for results.json (no temporary folders)."""
    keep = ("model", "model_kind", "data", "data_kind", "languages", "extra", "pairs")
    result = {k: env.get(k) for k in keep}
    if env.get("model_kind") == "tiny":
        result["model"] = "tiny random BERT (xlingual.testing build_tiny_bert)"
    if env.get("data_kind") == "toy":
        result["data"] = "toy UMSAB (xlingual.testing write_umsab)"
        result["pairs"] = "toy pairs"
    return result


def workdir() -> tempfile.TemporaryDirectory:
    """A temporary folder for the tiny model, toy data, exports and child results."""
    return tempfile.TemporaryDirectory(prefix="xlingual-bench-")


def main_wrapper(script: str, argv: Sequence[str] | None, parser: argparse.ArgumentParser, measure: Measure,
                 run: Callable[[argparse.Namespace], int]) -> int:
    """Dispatch to the child or the parent, and turn :class:`Skip` into a clear message and exit 0."""
    args = parser.parse_args(argv)
    if args._child is not None:
        return child_main(args._child, measure)
    if args.isolate is None:
        args.isolate = not args.quick
    try:
        return run(args)
    except Skip as exc:
        print(f"SKIPPED {script}: {exc}", file=sys.stderr)
        return 0
