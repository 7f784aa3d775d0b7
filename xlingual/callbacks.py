"""The events a run tells its callbacks about, as transformers' ``TrainerCallback`` lists them.

Subclassing :class:`Callback` is optional: the runner and the training loop call an event on every callback
that has a method of that name, so any object with some of them will do. Each event takes one record (a
dict); events are called on the main process only. A callback observes: what it returns is ignored, and the
run's folder is written the same with or without it.
"""

from __future__ import annotations

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
