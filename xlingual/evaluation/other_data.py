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
from typing import Any

from ..errors import RunFolderError
from ..run_folder import RESULTS

KIND = "evaluation"


def same_data(saved: dict[str, Any] | None, evaluated: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(same, other)``: the ``split/language`` keys scored on the run's own examples, and the rest."""
    same, other = [], []
    for split, block in evaluated.items():
        saved_block = ((saved or {}).get("splits") or {}).get(split) or {}
        for language in block.get("languages", {}):
            key = f"{split}/{language}"
            recorded = (saved_block.get("test_fingerprints") or {}).get(language)
            mine = (block.get("test_fingerprints") or {}).get(language)
            if recorded is None:  # written before fingerprints: compare the file descriptions
                recorded, mine = (saved_block.get("test_files") or {}).get(language), block["test_files"].get(language)
            in_saved = language in (saved_block.get("languages") or {})
            (same if in_saved and recorded is not None and recorded == mine else other).append(key)
    return same, other


def reproduction(saved: dict[str, Any], evaluated: dict[str, Any], same: list[str]) -> dict[str, bool]:
    """For each ``split/language`` on the run's own data: is the macro-F1 identical to results.json?"""
    out = {}
    for key in same:
        split, language = key.split("/", 1)
        recorded = saved["splits"][split]["languages"][language].get("macro_f1")
        out[key] = recorded == evaluated[split]["languages"][language]["macro_f1"]
    return out


def evaluation_record(run: Path, saved: dict[str, Any] | None, overrides: list[str], same: list[str],
                      other: list[str], name: str | None) -> dict[str, Any]:
    """The ``evaluation`` block of an evaluation's results.json: what was evaluated, against which run."""
    return {
        "kind": "in-domain" if not other else "other-data",
        "evaluated_on": name,
        "original_run": str(run.resolve()),
        "original_recipe": (saved or {}).get("recipe"),
        "overrides": list(overrides),
        "same_data_as_run": same,
        "other_data": other,
    }


def check_output_folder(out: Path, run: Path) -> None:
    """Refuse to write an evaluation over the run itself or over a folder that holds something else."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} exists and is not a folder")
    if out.resolve() == run.resolve():
        raise RunFolderError(f"--out {out} is the run folder itself; its results.json must stay the run's. "
                             "Choose another folder, or --name NAME for RUN/evaluations/NAME")
    if not out.is_dir() or not any(out.iterdir()):
        return
    results = out / RESULTS
    try:
        import json

        previous = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else None
    except (ValueError, OSError):
        previous = None
    if not isinstance(previous, dict) or previous.get("kind") != KIND:
        raise RunFolderError(f"--out {out} already holds files that are not an earlier 'xlingual evaluate' "
                             "result; choose a new folder")


def describe(result: dict[str, Any]) -> list[str]:
    """The lines ``xlingual evaluate`` prints after the tables: a reproduction check, or what was evaluated."""
    lines = []
    record = result.get("evaluation") or {}
    matches = result.get("matches_saved") or {}
    if matches:
        identical = sum(matches.values())
        scope = "" if not record.get("other_data") else f" (those on the run's own data: {', '.join(matches)})"
        lines.append(f"reproduces results.json: {identical}/{len(matches)} language scores identical{scope}")
    other = record.get("other_data") or []
    if other:
        files = {f"{split}/{lang}": path for split, block in result["splits"].items()
                 for lang, path in (block.get("test_files") or {}).items()}
        lines.append("evaluated on other data than the run's results.json was scored on (other examples, languages "
                     "or splits), so this is a result of its own, not a reproduction check:")
        lines += [f"  {key}: {files.get(key, '?')}" for key in other]
        if result.get("written_to"):
            lines.append(f"wrote {result['written_to']} (original run: {record.get('original_run')})")
        else:
            lines.append("pass --out DIR (or --name NAME) to keep it as a results.json that 'xlingual compare' reads")
    elif result.get("written_to"):
        lines.append(f"wrote {result['written_to']}")
    return lines
