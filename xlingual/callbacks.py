"""The events a job tells its callbacks about, as transformers' ``TrainerCallback`` lists them, and the
:class:`Job` base that runs a command's stages and reports them.

Subclassing :class:`Callback` is optional: a job and the training loop call an event on every callback that
has a method of that name, so any object with some of them will do. Each event takes one record (a dict);
events are called on the main process only. A callback observes: what it returns is ignored. It should not
raise: an exception from it stops the job like any other error (the files written before it stay, and a
training resumes with ``--resume``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any


class Callback:
    """A no-op for every event; override the ones you need.

    Runner events (:class:`xlingual.runner.Runner`), in the order of a run:

    - ``on_stage_begin({"stage"})`` and ``on_stage_end({"stage", "seconds"})`` around each of
      :data:`xlingual.runner.STAGES`: check, data, model, folder, train, post_hoc, evaluate, write;
    - ``on_save({"what", "path"})`` after the checkpoint (``what: "checkpoint"``) and after results.json
      (``"results"``);
    - ``on_evaluate({"results"})`` with the run's :class:`~xlingual.results.Results`, before it is written.

    Training-loop events (:class:`xlingual.training.loop.TrainingLoop`; self-training rounds add ``round``):

    - ``on_train_begin(record)`` as the loop starts;
    - ``on_log(record)`` for each logged step (``task``, ``loss``, ...) and each epoch's selection scores
      (``selection_macro_f1``, ``signals``);
    - ``on_epoch_end(record)`` and ``on_train_end(record)``.
    """

    def on_stage_begin(self, record: dict[str, Any]) -> None:
        """A stage of the run starts."""

    def on_stage_end(self, record: dict[str, Any]) -> None:
        """A stage of the run ended without an error (``seconds``: its wall time)."""

    def on_train_begin(self, record: dict[str, Any]) -> None:
        """The training loop starts (also each self-training round)."""

    def on_log(self, record: dict[str, Any]) -> None:
        """A logged training step, or an epoch's selection scores."""

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        """An epoch of the training loop ended."""

    def on_train_end(self, record: dict[str, Any]) -> None:
        """The training loop ended."""

    def on_save(self, record: dict[str, Any]) -> None:
        """A file of the run folder was written: the checkpoint, then results.json."""

    def on_evaluate(self, record: dict[str, Any]) -> None:
        """The run's scores are in (``results``), before results.json is written."""


class Job:
    """A command's work as named stages run in order, each reported to the callbacks (``on_stage_begin`` and
    ``on_stage_end``), as :class:`xlingual.runner.Runner` runs a training. ``xlingual.train``, ``fit``,
    ``merging.soup``, ``merging.interpolate`` and ``runner.evaluate_run`` (the CLI's ``evaluate``) each construct
    one job and call :meth:`run`."""

    stages: tuple[str, ...] = ()
    """The stage names, in the order :meth:`run` calls them."""

    def __init__(self, callbacks: Sequence[object] = ()) -> None:
        self.callbacks = list(callbacks)

    def main_process(self) -> bool:
        """Callbacks hear the main process only (torchrun sets ``RANK`` in every process)."""
        return int(os.environ.get("RANK", "0")) == 0

    def notify(self, event: str, record: dict[str, Any]) -> None:
        """Call ``event`` on every callback that has it."""
        if not self.main_process():
            return
        for callback in self.callbacks:
            handler = getattr(callback, event, None)
            if handler is not None:
                handler(record)

    def stage(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function`` as the stage ``name``, between its two events; returns what it returns."""
        self.notify("on_stage_begin", {"stage": name})
        began = time.perf_counter()
        value = function(*args)
        self.notify("on_stage_end", {"stage": name, "seconds": time.perf_counter() - began})
        return value

    def run(self) -> Any:
        """Every stage, in order."""
        raise NotImplementedError
