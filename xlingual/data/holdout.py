"""A dev split held out from the train split, for datasets that ship train and test only.

Model selection needs a dev split. When a dataset has none, ``data.dev_fraction`` (or
``data.dev_size``) holds out part of the source train split: stratified by label, so the dev
class balance is the train split's, and seeded by ``data.dev_seed`` alone, so every training
seed of a recipe selects on the same dev examples and trains on the same rest. The chosen
positions are written to the run folder (``dev_holdout.json``) and their hash to
``results.json`` (``protocol.dev_holdout``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from ..errors import DataError
from .examples import Examples

HOLDOUT_FILE = "dev_holdout.json"


def holdout_count(n: int, fraction: float | None, size: int | None, where: str) -> int:
    """How many of ``n`` examples go to dev; at least one stays in each part."""
    count = size if size is not None else round((fraction or 0.0) * n)
    setting = f"data.dev_size={size}" if size is not None else f"data.dev_fraction={fraction}"
    if count < 1 or count >= n:
        raise DataError(f"{where}: {setting} holds out {count} of {n} examples; the dev and the train part "
                        "both need at least one")
    return count


def stratified_holdout(labels: Sequence[int], count: int, seed: int) -> list[int]:
    """Sorted positions of ``count`` examples drawn class by class in proportion to the class sizes.

    Each class gets ``count · n_c / n`` rounded by largest remainder (ties to the larger class, then
    the lower class id), so the quotas sum to ``count`` exactly; members are drawn with
    ``random.Random(seed)``. The same labels, count and seed always give the same positions.
    """
    by_class: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(label, []).append(position)
    n = len(labels)
    exact = {label: count * len(members) / n for label, members in by_class.items()}
    quota = {label: int(value) for label, value in exact.items()}
    order = sorted(by_class, key=lambda c: (-(exact[c] - quota[c]), -len(by_class[c]), c))
    for label in order[: count - sum(quota.values())]:
        quota[label] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for label in sorted(by_class):
        members = list(by_class[label])
        rng.shuffle(members)
        chosen += members[: quota[label]]
    return sorted(chosen)


def indices_hash(indices: Sequence[int]) -> str:
    """``sha256:`` of the positions written as ``1,5,9``: identifies a hold-out in results.json."""
    return "sha256:" + hashlib.sha256(",".join(map(str, indices)).encode("ascii")).hexdigest()


def split_holdout(full: Examples, fraction: float | None, size: int | None, seed: int) -> tuple[Examples, Examples]:
    """``(train part, dev part)`` of a labelled train split; each part keeps its positions in ``full``."""
    if full.labels is None:
        raise DataError(f"{full.origin}: a dev hold-out needs labels to stratify on")
    count = holdout_count(len(full), fraction, size, full.origin)
    dev_positions = stratified_holdout(full.labels, count, seed)
    dev_set = set(dev_positions)
    train_positions = [i for i in range(len(full)) if i not in dev_set]
    how = f"dev_size={size}" if size is not None else f"dev_fraction={fraction}"
    dev = full.select(dev_positions, "dev", f"{full.origin} [dev hold-out: {how}, dev_seed={seed}]")
    train = full.select(train_positions, full.split, f"{full.origin} [minus dev hold-out: {how}, dev_seed={seed}]")
    return train, dev


def holdout_record(dev: Examples, from_split: str, fraction: float | None, size: int | None, seed: int,
                   label_names: Sequence[str]) -> dict:
    """What ``dev_holdout.json`` keeps for one language: the settings, the class counts and the positions."""
    indices = list(dev.indices or [])
    return {"from_split": from_split, "dev_fraction": fraction, "dev_size": size, "dev_seed": seed,
            "n": len(indices), "per_class": {name: (dev.labels or []).count(c) for c, name in enumerate(label_names)},
            "sha256": indices_hash(indices), "indices": indices,
            "indices_are": f"0-based positions among the labelled examples of the {from_split} split, in file order"}
