"""The PCA figure of a diagnosis."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...io import atomic_write_bytes
from .measures import principal_components

if TYPE_CHECKING:
    import numpy as np
    import torch

    Matrix = torch.Tensor | np.ndarray


def plot_pca(embeddings: Matrix, languages: Sequence[str], labels: Sequence[str] | None, path: str | Path,
             title: str = "2-D PCA of sentence embeddings", label_order: Sequence[str] | None = None) -> list[float]:
    """Scatter the 2-D PCA, one colour per language and (with labels) one marker per label; returns variance shares.

    Drawn on an Agg canvas (no pyplot), like :mod:`xlingual.reports.plots`.
    """

    # matplotlib: slow to import, only when a figure is drawn
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    coordinates, shares = principal_components(embeddings, 2)
    points = coordinates.numpy()
    figure = Figure(figsize=(8.5, 6.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    label_names = [*dict.fromkeys([*(label_order or []), *labels])] if labels else [None]
    for i, language in enumerate(dict.fromkeys(languages)):
        for j, label in enumerate(label_names):
            rows = [k for k, lang in enumerate(languages) if lang == language and (label is None or labels[k] == label)]
            if rows:
                axes.scatter(points[rows, 0], points[rows, 1], s=14, alpha=0.6, color=palette(i % 10),
                             marker=markers[j % len(markers)], linewidths=0,
                             label=language if label is None else f"{language} · {label}")
    axes.set_xlabel(f"PC1 ({100 * shares[0]:.1f}% of variance)")
    axes.set_ylabel(f"PC2 ({100 * shares[1]:.1f}% of variance)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                ncol=2 if len(languages) and labels else 1)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return shares
