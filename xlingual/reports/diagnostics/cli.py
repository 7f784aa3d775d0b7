"""``xlingual diagnose``: the command, and the Markdown table it prints."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .run import diagnose

if TYPE_CHECKING:
    import numpy as np
    import torch

    Matrix = torch.Tensor | np.ndarray


# ----------------------------------------------------------------------------- CLI


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def diagnostics_markdown(result: dict[str, Any]) -> str:
    """The per-language table and the probe line, as printed by ``xlingual diagnose``."""
    lines = ["| language | retrieval@1 en→x | x→en | cos true | cos random | CKA |", "|---|---|---|---|---|---|"]
    rows = [*result["languages"].items()]
    if len(rows) > 1:
        rows.append(("**average**", result["average"]))
    for language, row in rows:
        cells = [row["retrieval_at_1_en_to_x"], row["retrieval_at_1_x_to_en"], row["cosine_true"],
                 row["cosine_random"], row["cka"]]
        lines.append(f"| {language} | " + " | ".join(_cell(c) for c in cells) + " |")
    probe = result["language_id_probe"]
    lines.append("")
    lines.append(f"language-ID probe accuracy: {_cell(probe['accuracy'])} over {len(probe['languages'])} languages "
                 f"(majority baseline {_cell(probe['majority_baseline'])}; lower = more language-neutral)")
    if result.get("skipped_languages"):
        lines.append(f"skipped (no translation pairs): {', '.join(result['skipped_languages'])}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``diagnose`` to the ``xlingual`` command line."""
    p = subparsers.add_parser(
        "diagnose", help="measure cross-lingual alignment of a run or encoder (retrieval, CKA, language-ID probe)",
        description="Embed English–X translation pairs with a trained run, or with a plain Hugging Face encoder as\n"
                    "it is before training, and report per language: translation retrieval accuracy@1 both ways,\n"
                    "mean cosine of true vs random pairs, and linear CKA between the English and X embeddings;\n"
                    "overall, the held-out accuracy of a linear probe that guesses the language (lower = more\n"
                    "language-neutral). Writes diagnostics.json and a 2-D PCA plot, pca.png.\n\n"
                    "Run it on the encoder and on the trained run, with the same pairs, to see what the recipe did\n"
                    "to the shared space.",
        epilog="examples:\n"
               "  xlingual diagnose /tmp/e5-small --pairs ../shared/data/tatoeba --text-prefix 'query: '\n"
               "  xlingual diagnose runs/umsab_e5small-seed1 --pairs ../shared/data/tatoeba "
               "--data ../shared/data/umsab",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="RUN_OR_MODEL",
                   help="xlingual run folder or checkpoint, or a Hugging Face encoder folder or hub id")
    p.add_argument("--pairs", required=True, metavar="PATH",
                   help="translation pairs: a Tatoeba-style folder (tatoeba.spa-eng.spa / .eng), a TSV file, or a "
                        "path template with {language} or {iso3}")
    p.add_argument("--languages", metavar="LIST",
                   help="comma-separated languages, e.g. spanish,german (default: the run's target languages, or "
                        "UMSAB's for an encoder; those without pairs are skipped)")
    p.add_argument("--data", metavar="DIR",
                   help="UMSAB-style data folder: the PCA plot then shows its test sentences marked by sentiment "
                        "(default: the pair sentences)")
    p.add_argument("--max-pairs", type=int, default=1000, metavar="N",
                   help="use the first N pairs per language (default: 1000)")
    p.add_argument("--text-prefix", metavar="TEXT",
                   help="prepended to every sentence, e.g. 'query: ' for e5 encoders (default: a run's own prefix; "
                        "none for an encoder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pairs, probe split and plot sample")
    p.add_argument("--out", metavar="DIR",
                   help="folder for diagnostics.json and pca.png (default: <run>/diagnostics for a run, "
                        "./diagnostics-<name> for an encoder)")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_diagnose)
    return p


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Print the diagnostics table (or JSON) and the files written."""
    languages = [part.strip() for part in args.languages.split(",") if part.strip()] if args.languages else None
    if args.languages is not None and not languages:
        raise ConfigError("--languages: give a comma-separated list, e.g. spanish,german")
    result = diagnose(args.model, args.pairs, languages, data_root=args.data, max_pairs=args.max_pairs,
                      out=args.out, seed=args.seed, text_prefix=args.text_prefix,
                      progress=not getattr(args, "no_progress", False))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(diagnostics_markdown(result))
    for path in result["written"]:
        print(f"wrote {path}")
    return 0
