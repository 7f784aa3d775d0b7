"""``xlingual rounds``: teacher → pseudo-labels → student → pseudo-labels → student …, each step its own folder.

Round r labels the target text with round r−1's student (round 1: the given teachers — one run, a soup, or
several runs whose probabilities are averaged, which is how an ensemble or a soup is distilled into one model)
and trains a fresh student from the recipe on the source labels plus those pseudo-labels:

    OUT/round1/pseudo-labels/   an ``xlingual pseudo-label`` folder (manifest: teachers, rule, counts)
    OUT/round1/student/         an ordinary run folder (protocol: pseudo-labels; cost: teachers + 1)
    OUT/round2/...

Running the same command again skips finished steps and resumes an unfinished student, as ``xlingual sweep``
does. Students start from the recipe's pretrained encoder, not from their teacher.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import load_recipe
from .errors import ConfigError
from .pseudo_labeling import MANIFEST, pseudo_label
from .run_folder import is_complete, is_run_folder, resumable
from .training.pseudo_labels import SELECTION_RULES


def run_rounds(recipe: str | Path, teachers: list[str | Path], out: str | Path, rounds: int = 1,
               rule: str = "prior-matched", k: int | None = 300, threshold: float | None = None,
               overrides: list[str] | tuple[str, ...] = (), progress: bool = True) -> list[Path]:
    """Run (or continue) the chain; returns the students' run folders, one per round."""
    # transformers: slow to import, so only when the command runs
    from .runner import train

    out, overrides = Path(out), list(overrides)
    if rounds < 1:
        raise ConfigError(f"--rounds: must be at least 1, got {rounds}")
    for assignment in overrides:
        key = assignment.split("=", 1)[0].strip()
        if key in ("output_dir", "data.pseudo_labeled", "data.pseudo_labeled.root"):
            raise ConfigError(f"--set {key}: rounds sets it for every student (OUT/round<r>/…)")
    # a bad recipe or override is said before any teacher is loaded (with the root each round will set, so that
    # --set data.pseudo_labeled.targets=soft and the like are checked as the students will read them)
    load_recipe(recipe, [*overrides, f"data.pseudo_labeled.root={out / 'round1' / 'pseudo-labels'}"])
    current = [Path(t) for t in teachers]
    students = []
    for number in range(1, rounds + 1):
        folder = out / f"round{number}"
        labels, student = folder / "pseudo-labels", folder / "student"
        if not (labels / MANIFEST).is_file():
            print(f"round {number}: pseudo-labels from {', '.join(map(str, current))} → {labels}", flush=True)
            pseudo_label(current, labels, rule=rule, k=k, threshold=threshold)
        if is_complete(student):
            print(f"round {number}: student done already ({student})", flush=True)
        else:
            resume = resumable(student)
            print(f"round {number}: {'resuming' if resume else 'training'} the student → {student}", flush=True)
            train(recipe, [*overrides, f"data.pseudo_labeled.root={labels}", f"output_dir={student}"],
                  resume=resume, overwrite=not resume and is_run_folder(student), progress=progress)
        students.append(student)
        current = [student]
    return students


def cmd_rounds(args: argparse.Namespace) -> int:
    students = run_rounds(args.recipe, args.teachers, args.out, args.rounds, args.rule, args.k, args.threshold,
                          args.set or [], progress=args.progress)
    print(f"students: {', '.join(map(str, students))}")
    return 0


def register(subparsers) -> None:
    """``xlingual rounds``."""
    p = subparsers.add_parser(
        "rounds", help="chain teacher → pseudo-labels → student for N rounds (resumable)",
        description="Round 1 labels the target train text with TEACHERS (one run; several: the mean of their "
                    "probabilities) and trains a fresh student from RECIPE on the source labels plus those "
                    "pseudo-labels; each later round's teacher is the previous student. OUT/round<r>/pseudo-labels "
                    "and OUT/round<r>/student; run the command again to continue an interrupted chain.")
    p.add_argument("recipe", help="the students' recipe YAML")
    p.add_argument("--teachers", nargs="+", required=True, help="round 1's teacher run folder(s)")
    p.add_argument("--out", required=True, help="folder of the rounds")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--rule", default="prior-matched", choices=list(SELECTION_RULES))
    p.add_argument("--k", type=int, default=300, help="texts kept per language (prior-matched) or per class")
    p.add_argument("--threshold", type=float, help="the threshold rule's minimum top probability")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override in the students' recipe")
    p.add_argument("--progress", action="store_true", help="show the students' progress bars")
    p.set_defaults(func=cmd_rounds)
