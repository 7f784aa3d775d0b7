"""The ``xlingual`` command line: train, evaluate, predict, export (and more, per subcommand).

User mistakes print one line (``error: ...``) and exit with status 2; heavy libraries
are imported only inside the commands so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ._version import __version__
from .data.textfile import read_lines
from .errors import CheckpointError, ConfigError, DataError, XlingualError
from .evaluation.other_data import describe
from .io import NO_SPACE
from .reports.compare import register as register_compare
from .reports.diagnostics import register as register_diagnose
from .reports.model_card import print_results
from .results import Results
from .run_folder import RESULTS
from .sweep import failure_summary, run_sweep

QUANTIZE_NAMES = ("int8", "int8-dynamic", "int8-ffn-fp32", "int8-static")  # quantization.QUANTIZE_CHOICES (a test
# keeps them equal): named here so that --help answers without importing torch

EXIT_USER_ERROR = 2

DESCRIPTION = """Cross-lingual sentiment transfer: train on English with a multilingual encoder
(full fine-tuning, frozen layers or LoRA), evaluate zero-shot in other languages,
and use or export the checkpoint."""

EPILOG = """examples:
  xlingual train recipes/umsab_e5small.yaml --set data.root=../shared/data/umsab --set model.name=/tmp/e5-small
  xlingual evaluate runs/umsab_e5small-seed1 --languages spanish,german
  xlingual predict runs/umsab_e5small-seed1 "Me encanta esta película" "Odio los lunes"
  xlingual export runs/umsab_e5small_lora-seed1 exported/ --merge
  xlingual export runs/umsab_e5small-seed1 exported-int8/ --quantize int8
"""


# The file system said no (permissions, a full disk, a name too long): one line, not a traceback.
_FILESYSTEM_REFUSALS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS,
                        errno.ENAMETOOLONG}


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers: slow to import, only when a model is loaded
    import transformers
    from transformers.utils import logging as hf_logging

    transformers.logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class _Parser(argparse.ArgumentParser):
    """argparse with its usage mistakes as one ``error:`` line (exit 2), like every other user mistake."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _no_verify_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-verify", action="store_true",
                        help="load a checkpoint whose weights do not match the sha256 fingerprints it recorded")


def _split_list(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def cmd_train(args: argparse.Namespace) -> int:
    # torch and transformers: slow to import, so only when this command runs (the CLI starts fast)
    import accelerate

    from .runner import train

    out = train(args.recipe, args.set or [], overwrite=args.overwrite, resume=args.resume,
                progress=not args.no_progress, command=["xlingual", *sys.argv[1:]])
    if accelerate.PartialState().is_main_process:
        print_results(Results.read(out / RESULTS).splits)
        print(f"run folder: {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    # torch and transformers: slow to import, so only when this command runs (the CLI starts fast)
    from .runner import evaluate_run

    result = evaluate_run(args.run, _split_list(args.languages), _split_list(args.splits), args.set or [],
                          progress=not args.no_progress, base_model=args.base_model, verify=not args.no_verify,
                          out=args.out, name=args.name, command=["xlingual", *sys.argv[1:]])
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print_results(result.splits)
    print()
    for line in describe(result):
        print(line)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    # torch and transformers: slow to import, so only when this command runs (the CLI starts fast)
    from .inference import load

    texts = list(args.texts)
    if args.file:
        texts += [line for line in read_lines(Path(args.file)) if line.strip()]
    if not texts:
        raise DataError("predict: give texts as arguments or --file with one text per line")
    for number, text in enumerate(args.texts, start=1):
        if not text.strip():
            raise DataError(f"predict: text argument {number} is empty or whitespace only")
    classifier = load(args.run, base_model=args.base_model, verify=not args.no_verify, quantize=args.quantize)
    for text, prediction in zip(texts, classifier.predict(texts, batch_size=args.batch_size), strict=True):
        if args.json:
            print(json.dumps({"text": text, "label": prediction.label, "score": prediction.score,
                              "probabilities": prediction.probabilities}, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.3f}" for k, v in prediction.probabilities.items())
            print(f"{prediction.label:<10} {prediction.score:.3f}  [{probs}]  {text}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    # torch and transformers: slow to import, so only when this command runs (the CLI starts fast)
    from .checkpoint import merge_and_export, resolve_checkpoint

    onnx = args.format == "onnx"
    if (not args.merge and not args.quantize and not onnx
            and (resolve_checkpoint(args.run) / "adapter_config.json").is_file()):
        raise CheckpointError(f"{args.run} is a LoRA run: pass --merge to fold the adapter into the encoder")
    calibration = None
    if args.calibration:
        calibration = [line for line in read_lines(Path(args.calibration)) if line.strip()]
    out = merge_and_export(args.run, args.out, base_model=args.base_model, overwrite=args.overwrite,
                           verify=not args.no_verify, quantize=args.quantize, format=args.format,
                           calibration=calibration)
    if onnx:
        print(f"wrote {out}: ONNX graphs for ONNX Runtime (xlingual.load('{out}'); quantize='int8' for the int8 "
              "graph), with the tokenizer and labels")
        return 0
    if args.quantize:
        print(f"wrote {out}: encoder Linear layers as dynamic int8 for CPU inference (load it with xlingual.load; "
              "transformers' Auto classes cannot read int8 weights)")
        return 0
    print(f"wrote {out} (load it with xlingual.load, or AutoModelForSequenceClassification after "
          "'import xlingual.modeling'; outside xlingual.load add the text prefix and max length from its config.json)")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        seeds = [int(s) for s in _split_list(args.seeds) or []]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise ConfigError("--seeds: give at least one seed, e.g. --seeds 1,2,3")
    records = run_sweep(args.recipes, seeds, args.out, args.set or [], progress=args.progress, jobs=args.jobs,
                        backend=args.backend, ray_address=args.ray_address, cpus_per_run=args.cpus_per_run,
                        gpus_per_run=args.gpus_per_run)
    failed = [r for r in records if r["status"].startswith("failed")]
    print(f"sweep folder: {args.out} ({len(records) - len(failed)}/{len(records)} runs complete)")
    summary = failure_summary(records)
    if summary:
        print(summary, file=sys.stderr)
        print("run the same command again to retry them; finished runs are skipped", file=sys.stderr)
    else:
        print(f"next: xlingual compare {args.out}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xlingual", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"xlingual {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune on the source language, then evaluate zero-shot on every language",
                       description="Train a recipe: fine-tune the encoder on the source-language training split "
                                   "(selecting the best epoch on the source dev split), then evaluate on the test "
                                   "split of every listed language. Writes a run folder with config.yaml, "
                                   "results.json, predictions/, checkpoint/ and a model card.")
    p.add_argument("recipe", help="recipe YAML file (see recipes/)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe value with a dotted key, e.g. --set training.learning_rate=2e-5 "
                        "(repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in output_dir (only a folder xlingual created for a run; never the data, "
                        "the recipe's folder or the working directory)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last saved state, with the same settings")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="re-evaluate a saved run on some or all languages",
                       description="Load a run's checkpoint and data settings and score it again. On the run's "
                                   "own data it says whether the numbers reproduce results.json; on other data "
                                   "(--set data.root=...) it says which data was evaluated, and --out keeps the "
                                   "result as a results.json that 'xlingual compare' puts beside in-domain runs.")
    p.add_argument("run", help="run folder written by 'xlingual train'")
    p.add_argument("--languages", help="comma-separated languages (default: all in the run's recipe)")
    p.add_argument("--splits", help="comma-separated splits, e.g. test,dev (default: the recipe's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override data settings, e.g. data.root=...")
    p.add_argument("--out", metavar="DIR",
                   help="write results.json (the run's schema, marked with the evaluated files and the original "
                        "run), predictions/ and config.yaml into DIR, for 'xlingual compare'")
    p.add_argument("--name", help="like --out RUN/evaluations/NAME; NAME labels the result in 'compare'")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--base-model", help="where a LoRA checkpoint's encoder is, if it moved")
    _no_verify_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="label texts with a trained run or checkpoint",
                       description="Print the predicted label and every class's probability for each text.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("texts", nargs="*", help="texts to classify")
    p.add_argument("--file", help="also classify each non-empty line of this UTF-8 file")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--base-model", help="where a LoRA checkpoint's encoder is, if it moved")
    p.add_argument("--quantize", choices=list(QUANTIZE_NAMES),
                   help="int8 CPU inference: int8 (the default variant), int8-dynamic (every Linear), int8-ffn-fp32 "
                        "(FFN output projections kept in fp32); int8-static on an ONNX export only")
    _no_verify_option(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="write a standalone model folder (merging LoRA adapters)",
                       description="Write a self-contained checkpoint: a LoRA adapter is merged into its encoder "
                                   "(--merge), so the folder no longer needs the base model. The result loads with "
                                   "xlingual.load and with transformers' AutoModelForSequenceClassification and "
                                   "pipeline('text-classification') after 'import xlingual.modeling'.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("out", help="folder to write")
    p.add_argument("--merge", action="store_true", help="merge LoRA adapters into the encoder weights")
    p.add_argument("--base-model", help="where a LoRA checkpoint's encoder is, if it moved")
    p.add_argument("--quantize",
                   help="safetensors: store the encoder's Linear layers as int8 for CPU inference (int8, "
                        "int8-dynamic or int8-ffn-fp32; implies --merge for a LoRA run; loads with xlingual.load "
                        "only). "
                        "onnx: the int8 graphs written beside the fp32 one, comma-separated (int8-dynamic, "
                        "int8-ffn-fp32, int8-static), 'int8' for the default variant (the default) or 'none'")
    p.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors",
                   help="safetensors (a checkpoint folder) or onnx (graphs for ONNX Runtime, the tokenizer and the "
                        "labels; needs the onnx extra)")
    p.add_argument("--calibration", help="onnx int8-static: a UTF-8 file of English texts, one per line, to calibrate "
                                         "on (default: 256 texts of the run's source train split)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier export in OUT (only a folder holding just what xlingual exported)")
    _no_verify_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sweep", help="run recipes × seeds into one folder (resumable)",
                       description="Train every recipe with every seed, each in its own process, into "
                                   "SWEEP/<recipe>/seed<N>. Finished runs are skipped, so an interrupted sweep "
                                   "continues when the same command is run again.")
    p.add_argument("recipes", nargs="+", help="recipe YAML files")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default: 1,2,3)")
    p.add_argument("--out", default="sweeps/sweep", help="sweep folder (default: sweeps/sweep)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override applied to every recipe")
    p.add_argument("--progress", action="store_true", help="show each run's progress bars (with --jobs 1)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="runs at once (default: 1). Locally each job gets its own GPU, or an equal share of the CPU "
                        "cores; with --backend ray, at most N Ray tasks at a time")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where runs go: this machine (default), or Ray tasks (pip install 'xlingual[ray]')")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="a running Ray cluster (e.g. ray://head:10001 or auto); default: a local Ray instance")
    p.add_argument("--cpus-per-run", type=float, metavar="C",
                   help="Ray: CPUs each run holds (default: the cluster's CPUs / --jobs)")
    p.add_argument("--gpus-per-run", type=float, metavar="G",
                   help="Ray: GPUs each run holds (default: 1 where the cluster has GPUs, else 0)")
    p.set_defaults(func=cmd_sweep)

    # these commands' modules import torch; registering them is the one import every command pays
    from .merging import register as register_merging
    from .pseudo_labeling import register as register_pseudo_label
    from .rounds import register as register_rounds
    from .word_alignment import register as register_induce

    register_compare(sub)
    register_diagnose(sub)
    register_merging(sub)
    register_pseudo_label(sub)
    register_rounds(sub)
    register_induce(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse with options allowed before or after positionals (``predict RUN --json "text"``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    command = getattr(args, "command", None)
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if command and subparsers is not None and command in argv:
        try:
            parsed = subparsers.choices[command].parse_intermixed_args(argv[argv.index(command) + 1:])
        except TypeError:  # a parser that intermixed parsing cannot handle: keep argparse's plain reading
            parsed = None
        if parsed is not None:
            parsed.command = command
            return parsed
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help and --version exit 0; a usage mistake has printed its one line
        if exc.code == EXIT_USER_ERROR:
            return EXIT_USER_ERROR
        raise
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR

    if hasattr(signal, "SIGXFSZ"):  # under `ulimit -f` a write past the limit fails (EFBIG), one line, no core dump
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        _quiet_libraries()
        return args.func(args)
    except XlingualError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno not in _FILESYSTEM_REFUSALS:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno in NO_SPACE:
            print(f"error: no space left while writing{where or ' a file'} ({NO_SPACE[exc.errno]})", file=sys.stderr)
        else:
            print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
