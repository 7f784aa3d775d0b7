"""Sweeps: every recipe × seed into one folder, each run in its own process, resumable.

``<sweep>/<recipe name>/seed<seed>/`` is an ordinary run folder. Runs already complete
are skipped, so re-running the same command after an interruption continues where it
stopped; an unfinished run is resumed from its last checkpoint (started again if it stopped before
its first one).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .config import load_recipe
from .errors import ConfigError
from .io import atomic_write_json
from .run_folder import is_complete, is_run_folder, resumable


def plan(recipes: list[str], seeds: list[int], out: Path, overrides: list[str]) -> list[tuple[str, int, Path]]:
    """Check every recipe loads (with the overrides) and list the runs, before anything starts."""
    for assignment in overrides:
        key = assignment.split("=", 1)[0].strip()
        if key in ("training.seed", "output_dir"):
            raise ConfigError(f"--set {key}: a sweep sets it for every run (use --seeds and --out instead)")
    runs = []
    names: dict[str, str] = {}
    for recipe in recipes:
        config = load_recipe(recipe, overrides)
        if config.name in names:
            raise ConfigError(f"recipes {names[config.name]} and {recipe} share the name '{config.name}'")
        names[config.name] = recipe
        runs.extend((recipe, seed, out / config.name / f"seed{seed}") for seed in seeds)
    return runs


def run_sweep(recipes: list[str], seeds: list[int], out: str | Path, overrides: list[str] | None = None,
              progress: bool = False) -> list[dict]:
    """Run the sweep; returns one status record per run (also written to ``sweep.json``)."""
    out = Path(out)
    overrides = list(overrides or [])
    runs = plan(recipes, seeds, out, overrides)
    records = []
    for number, (recipe, seed, folder) in enumerate(runs, start=1):
        label = f"[{number}/{len(runs)}] {Path(recipe).stem} seed {seed}"
        if is_complete(folder):
            print(f"{label}: done already, skipped ({folder})", flush=True)
            records.append({"recipe": recipe, "seed": seed, "run": str(folder), "status": "skipped"})
            continue
        command = [sys.executable, "-m", "xlingual", "train", recipe, "--set", f"training.seed={seed}",
                   "--set", f"output_dir={folder}"]
        for override in overrides:
            command += ["--set", override]
        if resumable(folder):
            command.append("--resume")
        elif is_run_folder(folder):  # started by this sweep but stopped before its first saved state
            command.append("--overwrite")
        if not progress:
            command.append("--no-progress")
        print(f"{label}: running → {folder}", flush=True)
        start = time.perf_counter()
        result = subprocess.run(command)
        seconds = time.perf_counter() - start
        status = "complete" if result.returncode == 0 and is_complete(folder) else f"failed ({result.returncode})"
        print(f"{label}: {status} in {seconds / 60:.1f} min", flush=True)
        records.append({"recipe": recipe, "seed": seed, "run": str(folder), "status": status, "seconds": seconds})
        atomic_write_json(out / "sweep.json", {"recipes": recipes, "seeds": seeds, "overrides": overrides,
                                               "runs": records})
    atomic_write_json(out / "sweep.json", {"recipes": recipes, "seeds": seeds, "overrides": overrides,
                                           "runs": records})
    return records
