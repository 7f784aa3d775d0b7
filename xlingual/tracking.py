"""Experiment trackers (``logging.report_to``) on accelerate's tracker API, fed by the training loop's callbacks.

A lab that follows its runs in TensorBoard, MLflow, W&B or trackio gets them there, as the stock ``Trainer``'s
``report_to`` does: the resolved recipe as hyper-parameters, every logged training step, every epoch's selection
scores, and at the end the per-language scores, the target average and the transfer gap of every evaluated split.
``protocol.target_resources`` goes in with the hyper-parameters, so a tracker's table keeps protocols apart too.
The run folder stays the record (``results.json``); a tracker is a copy for the lab's dashboards.

Where each tracker writes is its own convention: TensorBoard under ``RUN/logs/trackers/<project>``; MLflow to
``MLFLOW_TRACKING_URI`` (the lab's server or store); W&B and trackio to their configured projects.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from .callbacks import Callback
from .config import TRACKERS, RecipeConfig
from .errors import ConfigError

logger = logging.getLogger(__name__)

TRACKER_PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb", "trackio": "trackio",
                    "comet_ml": "comet_ml", "aim": "aim", "clearml": "clearml", "dvclive": "dvclive",
                    "swanlab": "swanlab"}
"""The package each tracker imports (TensorBoard also works with tensorboardX)."""



def _installed(name: str) -> bool:
    if name == "tensorboard":
        return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))
    return importlib.util.find_spec(TRACKER_PACKAGES[name]) is not None


def _store_problem(name: str) -> str | None:
    """Why a tracker that is installed still cannot record, where that can be seen without writing anything."""
    if name != "mlflow":
        return None
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri is None:
        # optional dependency (mlflow): only when that tracker is used
        import mlflow

        uri = mlflow.get_tracking_uri()  # MLflow 3: sqlite:///mlflow.db in the working folder
    if uri.startswith("sqlite") and importlib.util.find_spec("sqlalchemy") is None:
        return (f"mlflow's tracking store {uri} needs the full mlflow package (mlflow-skinny has no database "
                "store); set MLFLOW_TRACKING_URI to your tracking server, or pip install mlflow")
    return None


def resolve_trackers(recipe: RecipeConfig) -> list[str]:
    """The trackers this run reports to, checked before anything is written: a named tracker whose package is
    missing, or which has nowhere to record, is a one-line error (``all`` leaves such trackers out, saying so)."""
    names = recipe.logging.trackers
    if names == ["all"]:
        usable = []
        for name in (n for n in TRACKERS if _installed(n)):
            problem = _store_problem(name)
            if problem:
                logger.warning("logging.report_to: all: %s left out: %s", name, problem)
            else:
                usable.append(name)
        return usable
    for name in names:
        if not _installed(name):
            raise ConfigError(f"logging.report_to: '{name}' needs the {TRACKER_PACKAGES[name]} package "
                              f"(pip install {TRACKER_PACKAGES[name]}, or pip install 'xlingual[trackers]')")
        problem = _store_problem(name)
        if problem:
            raise ConfigError(f"logging.report_to: '{name}': {problem}")
    return names


def flat_config(data: Mapping[str, Any], prefix: str = "") -> dict[str, str | int | float | bool]:
    """The recipe as dotted keys with scalar values (lists as JSON, ``None`` as ``"null"``): what every tracker's
    hyper-parameter table takes."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_config(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = "null" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    return flat


def numeric(record: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a log record (nested mappings as ``a/b``); lists and strings stay in the JSONL."""
    values: dict[str, float] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            values.update(numeric(value, f"{prefix}{key}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values[f"{prefix}{key}"] = float(value)
    return values


class TrackerCallback(Callback):
    """Reports a run to accelerate's trackers: ``on_log`` for steps and selection scores, :meth:`log_results` for
    the final scores. Built by the runner when ``logging.report_to`` names trackers; ``end`` closes them.

    A tracker is a copy of the record, so its failure never stops a run: the first error is a warning and the
    trackers are off from then on. Steps are counted on across self-training rounds (each counts from 1
    again), because some trackers drop a step lower than one already logged."""

    def __init__(self, accelerator, recipe: RecipeConfig, target_resources: list[str]) -> None:
        self.accelerator = accelerator
        self.active = True
        self.closed = False
        self.phase: object = None
        self.offset = 0
        self.last_step = 0
        run_name = f"{recipe.name}-seed{recipe.training.seed}"
        config = flat_config(recipe.to_dict())
        config["protocol.target_resources"] = ",".join(target_resources) or "none"
        init_kwargs = {"mlflow": {"run_name": run_name}, "wandb": {"name": run_name},
                       "trackio": {"name": run_name}, "swanlab": {"experiment_name": run_name}}
        self._guard("start", accelerator.init_trackers, recipe.logging.project or recipe.name, config=config,
                    init_kwargs=init_kwargs)

    def _guard(self, what: str, function, *args, **kwargs) -> None:
        if not self.active:
            return
        try:
            function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (any tracker's own failure: server down, store refused, ...)
            self.active = False
            message = str(exc).splitlines()[0] if str(exc) else ""
            logger.warning("logging.report_to: a tracker failed to %s (%s: %s); the run goes on without trackers, "
                           "and its folder keeps the full record", what, type(exc).__name__, message)

    def _step(self, record: Mapping[str, Any]) -> int:
        phase = record.get("round")
        if phase != self.phase:  # a self-training round counts its steps from 1 again
            self.phase, self.offset = phase, self.last_step
        step = self.offset + int(record.get("step") or 0)
        self.last_step = max(self.last_step, step)
        return step

    def on_log(self, record: dict) -> None:
        step = self._step(record)
        if "selection_macro_f1" in record or "signals" in record:  # an epoch's selection scores
            values = numeric({k: v for k, v in record.items() if k not in ("step", "epoch", "round")}, "selection/")
        else:
            values = numeric({k: v for k, v in record.items() if k not in ("step", "round")}, "train/")
        if "round" in record:
            values = {f"round{record['round']}/{k}": v for k, v in values.items()}
        if values:
            self._guard("log", self.accelerator.log, values, step=step)

    def log_results(self, results) -> None:
        """Per split: every language's accuracy and macro-F1, the target average and the transfer gap."""
        values: dict[str, float] = {}
        for split, block in results.splits.items():
            for language, scores in block.languages.items():
                for metric, value in scores.metrics().items():
                    values[f"{split}/{language}/{metric}"] = float(value)
            for key, value in block.summary.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    values[f"{split}/{key}"] = float(value)
        self._guard("log the results", self.accelerator.log, values, step=self.last_step)

    def end(self) -> None:
        if not self.closed:
            self.closed = True
            self._guard("close", self.accelerator.end_training)
