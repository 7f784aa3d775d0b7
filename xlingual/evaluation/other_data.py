"""Re-evaluation of a saved run: a reproduction check on its own data, a result of its own on other data.

``xlingual evaluate RUN`` on the data the run was scored on should give the same numbers:
that is a reproduction check. With ``--set data.root=OTHER`` (or other languages or splits'
files) the same numbers would be a coincidence, so comparing them says nothing; instead the
evaluation is a result in its own right: ``--out DIR`` writes a results.json in the run
schema, marked with the evaluated files, their fingerprints and the original run, which
``xlingual compare`` puts beside in-domain runs as a row of its own.

Whether an evaluated language and split is "the run's data" is decided by content: the
fingerprint of its (text, label) pairs against the one in the run's results.json (the file
description, for runs written before fingerprints were recorded).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import RunFolderError
from ..results import EvaluationRecord, Results, ResultsError, SplitResults
from ..run_folder import RESULTS, folder_content

KIND = "evaluation"


def same_data(saved: Results | None, evaluated: dict[str, SplitResults]) -> tuple[list[str], list[str]]:
    """``(same, other)``: the ``split/language`` keys scored on the run's own examples, and the rest."""
    same, other = [], []
    for split, block in evaluated.items():
        saved_block = saved.splits.get(split) if saved is not None else None
        for language in block.languages:
            key = f"{split}/{language}"
            recorded = saved_block.test_fingerprints.get(language) if saved_block is not None else None
            mine = block.test_fingerprints.get(language)
            if recorded is None and saved_block is not None:  # written before fingerprints: the file descriptions
                recorded, mine = saved_block.test_files.get(language), block.test_files.get(language)
            in_saved = saved_block is not None and language in saved_block.languages
            (same if in_saved and recorded is not None and recorded == mine else other).append(key)
    return same, other


def reproduction(saved: Results, evaluated: dict[str, SplitResults], same: list[str]) -> dict[str, bool]:
    """For each ``split/language`` on the run's own data: is the macro-F1 identical to results.json?"""
    out = {}
    for key in same:
        split, language = key.split("/", 1)
        recorded = saved.scores(split, language)
        out[key] = recorded is not None and recorded.macro_f1 == evaluated[split].languages[language].macro_f1
    return out


def evaluation_record(run: Path, saved: Results | None, overrides: list[str], same: list[str],
                      other: list[str], name: str | None) -> EvaluationRecord:
    """The ``evaluation`` block of an evaluation's results.json: what was evaluated, against which run."""
    return EvaluationRecord(
        kind="in-domain" if not other else "other-data",
        evaluated_on=name,
        original_run=str(run.resolve()),
        original_recipe=saved.recipe if saved is not None else None,
        overrides=list(overrides),
        same_data_as_run=same,
        other_data=other,
    )


def check_name(name: str) -> None:
    """``--name`` is one folder name under RUN/evaluations/: no path, nothing that climbs out of the run."""
    if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\")) or name.startswith("."):
        raise RunFolderError(f"--name {name!r}: must be a plain folder name (no '/', not '.' or '..', not hidden); "
                             "it names RUN/evaluations/NAME. Use --out for a folder elsewhere")


def check_output_folder(out: Path, run: Path) -> None:
    """Refuse to write an evaluation over the run itself or over a folder that holds something else."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if out.resolve() == run.resolve():
        raise RunFolderError(f"--out {out} is the run folder itself; its results.json must stay the run's. "
                             "Choose another folder, or --name NAME for RUN/evaluations/NAME")
    if not folder_content(out):
        return
    try:
        previous = Results.read(out / RESULTS).kind if (out / RESULTS).is_file() else None
    except ResultsError:
        previous = None
    if previous != KIND:
        raise RunFolderError(f"--out {out} already holds files that are not an earlier 'xlingual evaluate' "
                             "result; choose a new folder")


def describe(result: Results) -> list[str]:
    """The lines ``xlingual evaluate`` prints after the tables: a reproduction check, or what was evaluated."""
    lines = []
    record = result.evaluation or EvaluationRecord("in-domain")
    matches = result.matches_saved or {}
    if result.protocol.prior_correction and not matches:
        lines.append(f"scored with label-prior correction ({result.protocol.prior_correction}), unlike the run: "
                     "a result of its own, not a reproduction check")
    if matches:
        identical = sum(matches.values())
        scope = "" if not record.other_data else f" (those on the run's own data: {', '.join(matches)})"
        lines.append(f"reproduces results.json: {identical}/{len(matches)} language scores identical{scope}")
    if record.other_data:
        files = {f"{split}/{lang}": path for split, block in result.splits.items()
                 for lang, path in block.test_files.items()}
        lines.append("evaluated on other data than the run's results.json was scored on (other examples, languages "
                     "or splits), so this is a result of its own, not a reproduction check:")
        lines += [f"  {key}: {files.get(key, '?')}" for key in record.other_data]
        if result.written_to:
            lines.append(f"wrote {result.written_to} (original run: {record.original_run})")
        else:
            lines.append("pass --out DIR (or --name NAME) to keep it as a results.json that 'xlingual compare' reads")
    elif result.written_to:
        lines.append(f"wrote {result.written_to}")
    return lines
