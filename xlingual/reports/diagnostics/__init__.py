"""Alignment diagnostics: how well a model's sentence space lines languages up.

Macro-F1 on the target languages says *whether* transfer worked; these numbers say *why*.
Run ``xlingual diagnose`` on the untrained encoder and on a trained run with the same
translation pairs and compare: translation retrieval, cosine of true vs random pairs and
CKA show whether training pulled translations together or apart, and the language-ID
probe shows how much of the language still shows in the embeddings (lower is more
language-neutral). A 2-D PCA plot shows the same at a glance.

The metric functions are pure (embedding matrices in, numbers out) so they can be tested
on toy matrices and reused in notebooks. Heavy libraries are imported inside functions so
that ``xlingual --help`` stays fast.

    measures.py   the pure measures        models.py   the model a diagnosis embeds with
    run.py        ``diagnose``            plots.py    the PCA figure        cli.py   ``xlingual diagnose``
"""

from __future__ import annotations

from .cli import cmd_diagnose, diagnostics_markdown, register
from .measures import (
    language_id_probe_accuracy,
    linear_cka,
    mean_cosine_true_vs_random,
    pca_2d,
    retrieval_accuracy,
)
from .models import default_out_dir, is_xlingual, load_embedder
from .plots import plot_pca
from .run import DEFAULT_LANGUAGES, DIAGNOSTICS_JSON, PCA_PNG, diagnose

__all__ = [
    "DEFAULT_LANGUAGES", "DIAGNOSTICS_JSON", "PCA_PNG", "cmd_diagnose", "default_out_dir", "diagnose",
    "diagnostics_markdown", "is_xlingual", "language_id_probe_accuracy", "linear_cka", "load_embedder",
    "mean_cosine_true_vs_random", "pca_2d", "plot_pca", "register", "retrieval_accuracy",
]
