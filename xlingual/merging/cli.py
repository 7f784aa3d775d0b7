"""``xlingual soup`` and ``xlingual interpolate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import run_folder as rf
from ..errors import RunFolderError
from ..reports.model_card import print_results
from ..results import Results
from .interpolate import interpolate
from .soup import soup


def _floats(value: str) -> list[float]:
    try:
        return [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise RunFolderError(f"--alpha: expected comma-separated numbers in [0, 1], got {value!r}") from None


def register(subparsers) -> None:
    """``xlingual soup`` and ``xlingual interpolate``."""
    p = subparsers.add_parser(
        "soup", help="average runs (or one run's snapshots) into a new run folder",
        description="Uniform model soup (Wortsman et al. 2022) of runs fine-tuned from the same base with the same "
                    "labels, or checkpoint averaging of RUN/snapshots/*.safetensors (written with "
                    "averaging.keep_snapshots); one snapshot file alone is evaluated as it is. --greedy adds "
                    "ingredients by source-dev score and keeps each only if "
                    "source dev does not drop. OUT is a normal, evaluated run folder naming every ingredient.",
        epilog="examples:\n  xlingual soup sweeps/umsab/umsab_e5small/seed{1,2,3} --out runs/soup\n"
               "  xlingual soup runs/umsab_e5small-seed1/snapshots/*.safetensors --out runs/seed1-averaged\n"
               "  xlingual soup runs/umsab_e5small-seed1/snapshots/step-000460.safetensors --out runs/seed1-epoch4\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ingredients", nargs="+", help="run folders, or snapshot files of one run")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--greedy", action="store_true", help="greedy soup on source dev")
    p.add_argument("--name", help="recipe name recorded in results.json (default: <recipe>-soup)")
    p.add_argument("--base-model", help="where LoRA checkpoints' encoder is, if it moved")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a finished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_soup)

    p = subparsers.add_parser(
        "interpolate", help="WiSE-FT: move a run's encoder toward the pretrained one, α chosen on source dev",
        description="θ(α) = (1−α)·θ_pretrained + α·θ_fine-tuned on the encoder (LoRA merged first), for every α "
                    "given and 1. The head is refitted on the source train split per α (a linear probe on cached "
                    "features, --head refit) or kept. α is chosen on the source dev split; every α's score is "
                    "recorded. --analysis also scores every α on the evaluation splits and plots it (analysis "
                    "only, never used to choose α).",
        epilog="example:\n  xlingual interpolate runs/umsab_e5small-seed1 --alpha 0.2,0.4,0.6,0.8 "
               "--out runs/umsab_e5small-seed1-wiseft\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder written by 'xlingual train'")
    p.add_argument("--alpha", default="0.2,0.4,0.6,0.8", help="comma-separated α values (1 is always added)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--head", choices=["refit", "kept"], default="refit", help="refit the head per α, or keep it")
    p.add_argument("--analysis", action="store_true", help="also score and plot every α on the evaluation splits")
    p.add_argument("--name", help="recipe name recorded in results.json (default: <recipe>-wiseft-<head>)")
    p.add_argument("--base-model", help="the pretrained encoder, if the run's base model moved")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a finished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_interpolate)


def _cmd_soup(args) -> int:
    out = soup(args.ingredients, args.out, greedy=args.greedy, name=args.name, base_model=args.base_model,
               overwrite=args.overwrite, progress=not args.no_progress)
    _print_summary(out)
    return 0


def _cmd_interpolate(args) -> int:
    out = interpolate(args.run, _floats(args.alpha), args.out, head=args.head, analysis=args.analysis,
                      name=args.name, base_model=args.base_model, overwrite=args.overwrite,
                      progress=not args.no_progress)
    record = Results.read(out / rf.RESULTS).interpolation
    scores = ", ".join(f"α={a}: {100 * s:.1f}" for a, s in record.source_dev_macro_f1.items())
    print(f"source dev macro-F1 ({record.head} head): {scores}; chose α={record.chosen_alpha:g}")
    _print_summary(out)
    return 0


def _print_summary(out: Path) -> None:
    print_results(Results.read(out / rf.RESULTS).splits)
    print(f"run folder: {out}")
