"""Sweeps: every recipe × seed into one folder, each run in its own process, resumable; in parallel if asked.

``<sweep>/<recipe name>/seed<seed>/`` is an ordinary run folder. Runs already complete are skipped, so
re-running the same command after an interruption continues where it stopped; an unfinished run is resumed
from its last checkpoint (started again if it stopped before its first one). Each run's output goes to
``<sweep>/logs/<recipe>-seed<N>.log``; a run that fails does not stop the others, and the sweep ends with
what failed and why (the run's own one-line error).

Where the runs go:
- ``jobs=1`` (the default): one after another, on this machine, their output also on the terminal.
- ``jobs=N``: N at once on this machine. With GPUs each job gets its own (``CUDA_VISIBLE_DEVICES``); on a CPU
  the cores are divided between the jobs (``OMP_NUM_THREADS``), never oversubscribed.
- ``backend="ray"``: each run is a Ray task holding its CPUs and GPUs, on a local Ray instance or a cluster
  (``ray_address``), at most ``jobs`` at a time. Workers need xlingual installed and the same paths (a shared
  file system), as for any Ray job.

Training is deterministic, so every placement gives the same scores as the sequential sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import load_recipe
from .errors import ConfigError
from .io import atomic_write_json
from .run_folder import is_complete, is_run_folder, resumable

SWEEP_LOGS = "logs"
"""Inside the sweep folder: one ``<recipe>-seed<N>.log`` per run started."""


@dataclass
class SweepRun:
    """One recipe × seed of a sweep, and what became of it."""

    recipe: str
    seed: int
    run: str
    name: str
    status: str = "pending"
    """``complete``, ``skipped`` (finished before), or ``failed (<exit code>)``."""
    seconds: float | None = None
    error: str | None = None
    """Why it failed: the run's last ``error:`` line (or its last line of output)."""
    log: str | None = None
    placement: dict[str, str] = field(default_factory=dict)
    """The environment the run was given (its GPU or thread count)."""

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}


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


def train_command(recipe: str, seed: int, folder: Path, overrides: list[str], progress: bool) -> list[str]:
    """``xlingual train`` for one run: resumed if it saved state, started again if it stopped before that."""
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
    return command


def cpu_count() -> int:
    """Cores this process may use (its affinity mask, as torch sees them)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def local_slots(jobs: int, gpus: int | None = None, cpus: int | None = None) -> list[dict[str, str]]:
    """The environment of each of ``jobs`` parallel slots: one GPU each where there are GPUs, else an equal share
    of the cores. One job changes nothing (the run's own defaults)."""
    if jobs < 1:
        raise ConfigError(f"--jobs: must be at least 1, got {jobs}")
    if jobs == 1:
        return [{}]
    if gpus is None:
        # torch: slow to import, and this module works without it
        import torch

        gpus = torch.cuda.device_count()
    if gpus:
        if jobs > gpus:
            raise ConfigError(f"--jobs {jobs}: this machine has {gpus} GPU(s) and each job gets its own; "
                              f"use --jobs {gpus} or fewer")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = [d.strip() for d in visible.split(",")] if visible else [str(i) for i in range(gpus)]
        return [{"CUDA_VISIBLE_DEVICES": devices[i]} for i in range(jobs)]
    cpus = cpus or cpu_count()
    if jobs > cpus:
        raise ConfigError(f"--jobs {jobs}: this machine has {cpus} CPU core(s) and each job needs at least one; "
                          f"use --jobs {cpus} or fewer")
    threads = str(cpus // jobs)
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "CUDA_VISIBLE_DEVICES": ""}
            for _ in range(jobs)]


def last_error(log: Path, offset: int = 0) -> str | None:
    """The run's one-line ``error:`` message, else its last line of output (of this attempt: from ``offset``)."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line.split("\r")[-1] for line in lines if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [None])[-1]


def launch(command: list[str], env: dict[str, str], log: Path, echo: bool = False, cwd: str | None = None,
           started=None) -> int:
    """Run ``command`` with ``env`` added, its output (stdout and stderr) appended to ``log`` and, with ``echo``,
    onto this terminal as it comes. ``started(process)`` is told the process. Returns the exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
        if started is not None:
            started(process)
        assert process.stdout is not None
        while chunk := process.stdout.read1(65536):
            handle.write(chunk)
            handle.flush()
            if echo:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        return process.wait()


def _log_size(log: str | None) -> int:
    try:
        return Path(log).stat().st_size if log else 0
    except OSError:
        return 0


def _finish(run: SweepRun, code: int, seconds: float, offset: int = 0) -> None:
    run.seconds = seconds
    if code == 0 and is_complete(Path(run.run)):
        run.status = "complete"
    else:
        run.status = f"failed ({code})"
        if run.error:  # said already (the Ray task itself died)
            return
        reason = last_error(Path(run.log), offset) if run.log else None
        if code < 0:
            reason = f"stopped by signal {-code}" + (f"; last output: {reason}" if reason else "")
        run.error = reason or "no output"


class _Ledger:
    """``sweep.json``, rewritten (atomically) whenever a run changes state, from any thread."""

    def __init__(self, out: Path, header: dict[str, Any], runs: list[SweepRun]) -> None:
        self.out, self.header, self.runs = out, header, runs
        self.lock = threading.Lock()

    def write(self) -> None:
        with self.lock:
            atomic_write_json(self.out / "sweep.json", {**self.header, "runs": [r.record() for r in self.runs
                                                                                if r.status != "pending"]})


def run_sweep(recipes: list[str], seeds: list[int], out: str | Path, overrides: list[str] | None = None,
              progress: bool = False, jobs: int = 1, backend: str = "local", ray_address: str | None = None,
              cpus_per_run: float | None = None, gpus_per_run: float | None = None) -> list[dict]:
    """Run the sweep; returns one status record per run (also written to ``sweep.json``)."""
    out = Path(out)
    overrides = list(overrides or [])
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: 'local' or 'ray', got {backend!r}")
    if jobs < 1:
        raise ConfigError(f"--jobs: must be at least 1, got {jobs}")
    runs = [SweepRun(recipe, seed, str(folder), f"{Path(recipe).stem} seed {seed}")
            for recipe, seed, folder in plan(recipes, seeds, out, overrides)]
    ledger = _Ledger(out, {"recipes": recipes, "seeds": seeds, "overrides": overrides, "jobs": jobs,
                           "backend": backend}, runs)
    todo = []
    for number, run in enumerate(runs, start=1):
        run.name = f"[{number}/{len(runs)}] {run.name}"
        if is_complete(Path(run.run)):
            print(f"{run.name}: done already, skipped ({run.run})", flush=True)
            run.status = "skipped"
        else:
            todo.append(run)
    if todo and backend == "ray":
        _run_on_ray(todo, out, overrides, progress, jobs, ray_address, cpus_per_run, gpus_per_run, ledger)
    elif todo:
        _run_locally(todo, out, overrides, progress, local_slots(min(jobs, len(todo))), ledger)
    ledger.write()
    return [run.record() for run in runs]


def _log_path(out: Path, run: SweepRun) -> Path:
    return out / SWEEP_LOGS / f"{Path(run.run).parent.name}-seed{run.seed}.log"


def _run_locally(todo: list[SweepRun], out: Path, overrides: list[str], progress: bool,
                 slots: list[dict[str, str]], ledger: _Ledger) -> None:
    free = list(range(len(slots)))
    lock = threading.Lock()
    stop = threading.Event()
    running: set[subprocess.Popen] = set()
    echo = len(slots) == 1

    def started(process: subprocess.Popen) -> None:
        with lock:
            running.add(process)

    def one(run: SweepRun) -> None:
        if stop.is_set():  # interrupted: runs not yet started stay as they are, for the next sweep
            return
        with lock:
            slot = free.pop(0)
        try:
            run.placement = slots[slot]
            run.log = str(_log_path(out, run))
            offset = _log_size(run.log)
            command = train_command(run.recipe, run.seed, Path(run.run), overrides, progress and echo)
            where = f" [{', '.join(f'{k}={v}' for k, v in slots[slot].items() if v)}]" if len(slots) > 1 else ""
            print(f"{run.name}: running → {run.run}{where}", flush=True)
            start = time.perf_counter()
            code = launch(command, slots[slot], Path(run.log), echo=echo, started=started)
            if stop.is_set():
                return
            _finish(run, code, time.perf_counter() - start, offset)
            print(f"{run.name}: {run.status} in {run.seconds / 60:.1f} min"
                  + (f": {run.error}" if run.error else ""), flush=True)
            ledger.write()
        finally:
            with lock:
                free.append(slot)

    pool = ThreadPoolExecutor(max_workers=len(slots))
    try:
        for future in [pool.submit(one, run) for run in todo]:
            future.result()
    except BaseException:  # Ctrl-C (or any failure here): start nothing more, stop the runs in progress
        stop.set()
        with lock:
            for process in running:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)  # a run stops as on Ctrl-C: its saved state is kept
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _ray_train(command: list[str], env: dict[str, str], log: str, cwd: str | None) -> tuple[int, float]:
    """A Ray task: the same ``xlingual train`` process, on whichever node Ray placed it."""
    start = time.perf_counter()
    code = launch(command, env, Path(log), cwd=cwd if cwd and Path(cwd).is_dir() else None)
    return code, time.perf_counter() - start


def _run_on_ray(todo: list[SweepRun], out: Path, overrides: list[str], progress: bool, jobs: int,
                address: str | None, cpus_per_run: float | None, gpus_per_run: float | None,
                ledger: _Ledger) -> None:
    try:
        # optional dependency (ray): only for --backend ray
        import ray
    except ImportError:
        raise ConfigError("--backend ray: needs the ray package (pip install 'xlingual[ray]')") from None
    for flag, value in (("--cpus-per-run", cpus_per_run), ("--gpus-per-run", gpus_per_run)):
        if value is not None and (value < 0 or (flag == "--cpus-per-run" and value == 0)):
            raise ConfigError(f"{flag}: must be {'positive' if flag == '--cpus-per-run' else '>= 0'}, got {value}")
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:  # a local instance on this machine's cores; the runs keep their data out of the object store
                ray.init(num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False,
                         object_store_memory=100 * 1024 * 1024)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ConfigError(f"--backend ray: could not start or reach {where} ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        resources = ray.cluster_resources()
        cpus = cpus_per_run if cpus_per_run is not None else max(1, int(resources.get("CPU", 1)) // jobs)
        gpus = gpus_per_run if gpus_per_run is not None else (1 if resources.get("GPU", 0) >= 1 else 0)
        for name, wanted in (("CPU", cpus), ("GPU", gpus)):
            if wanted > resources.get(name, 0):  # Ray would wait for it forever
                raise ConfigError(f"--backend ray: each run asks for {wanted:g} {name}(s) and the cluster has "
                                  f"{resources.get(name, 0):g}; lower --{name.lower()}s-per-run")
        task = ray.remote(_ray_train).options(num_cpus=cpus, num_gpus=gpus)
        env = {"OMP_NUM_THREADS": str(max(1, int(cpus))), "MKL_NUM_THREADS": str(max(1, int(cpus)))}
        pending: dict[Any, SweepRun] = {}
        offsets: dict[str, int] = {}
        queue = list(todo)
        cwd = os.getcwd()
        while queue or pending:
            while queue and len(pending) < jobs:
                run = queue.pop(0)
                run.log = str(_log_path(out, run).resolve())
                offsets[run.run] = _log_size(run.log)
                run.placement = {"backend": "ray", "num_cpus": str(cpus), "num_gpus": str(gpus)}
                command = train_command(run.recipe, run.seed, Path(run.run).resolve(), overrides, False)
                print(f"{run.name}: submitted to Ray (num_cpus={cpus}, num_gpus={gpus}) → {run.run}", flush=True)
                pending[task.remote(command, env, run.log, cwd)] = run
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                run = pending.pop(ref)
                try:
                    code, seconds = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the task itself died (node lost, worker killed)
                    code, seconds = -1, 0.0
                    run.error = f"ray: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                _finish(run, code, seconds, offsets[run.run])
                print(f"{run.name}: {run.status} in {seconds / 60:.1f} min"
                      + (f": {run.error}" if run.error else ""), flush=True)
                ledger.write()
    finally:
        if started_here:
            ray.shutdown()


def failure_summary(records: list[dict]) -> str | None:
    """What failed and why, one line per run; ``None`` when nothing failed."""
    failed = [r for r in records if r["status"].startswith("failed")]
    if not failed:
        return None
    lines = [f"{len(failed)} of {len(records)} runs failed:"]
    for r in failed:
        lines.append(f"  {Path(r['recipe']).stem} seed {r['seed']}: {r.get('error', r['status'])}"
                     + (f" (log: {r['log']})" if r.get("log") else ""))
    return "\n".join(lines)
