"""Metrics in one place: the computations every score goes through (:mod:`.classification`), and the same
metrics for the Hugging Face ``evaluate`` ecosystem.

``evaluate.load(xlingual.metrics.transfer_metric_path())`` loads them from the installed package,
offline: per-language accuracy and macro-F1, the target-language average and the transfer gap, on
anyone's predictions. The numbers are the ones results.json holds (the same functions compute them).
"""

from __future__ import annotations

from pathlib import Path


def transfer_metric_path() -> str:
    """Path of the ``evaluate`` metric script shipped with xlingual (pass it to ``evaluate.load``)."""
    return str(Path(__file__).with_name("xlingual_transfer.py"))


__all__ = ["transfer_metric_path"]
