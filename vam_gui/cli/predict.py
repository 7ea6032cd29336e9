"""``predict``: keypoints for image files, written to one JSON file (pseudonymous by default)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vam_gui.cli.common import CliError


def threads_count(text: str) -> int:
    """--threads N: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return n


def add_threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=threads_count, metavar="N",
                   help="CPU threads for torch (default: every core this process may use)")


def _cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vam_gui.core.atomic import write_json_atomic
    from vam_gui.model.batch_predict import expand_inputs, parse_shard, predict_files, select_shard

    try:
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    files = select_shard(expand_inputs(args.inputs), shard)
    if not files:
        raise CliError("no input images found")
    if not Path(args.checkpoint).is_file():
        raise CliError(f"checkpoint not found: {args.checkpoint}")
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        # Checked first: a long prediction run must not end in an unwritable output.
        raise CliError(f"cannot write {args.out}: {out_dir} is not a writable folder")

    from vam_gui.model import CheckpointError, Predictor
    from vam_gui.model.predictor import set_threads

    set_threads(args.threads)
    try:
        from vam_gui.core.schema import load_schema

        predictor = Predictor(args.checkpoint, device=args.device, refine=not args.no_refine,
                              schema=load_schema(args.schema) if args.schema else None)
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    with tqdm(total=len(files), unit="img", desc="predict", disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result, key = predict_files(files, predictor, batch_size=args.batch_size, keep_names=args.keep_names,
                                    progress=progress)
    if shard is not None:
        result["shard"] = {"index": shard[0], "count": shard[1]}
    if key:  # written first: a result whose key is lost could not be matched back
        key_path = Path(args.out).with_suffix(".key.json")
        write_json_atomic(key_path, {"format": "vam-gui-prediction-key", "predictions": Path(args.out).name,
                                     "ids": key})
        print(f"pseudonym key (id -> file): {key_path}", file=sys.stderr)
    write_json_atomic(args.out, result)
    for err in result["errors"]:
        shown = key[err["id"]]["file"] if "id" in err else err["file"]
        print(f"skipped {shown}: {err['reason']}", file=sys.stderr)
    print(f"{len(result['images'])} image(s) predicted -> {args.out}", file=sys.stderr)
    return 1 if result["errors"] else 0


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="predict keypoints for images (headless)",
                       description="Predict the schema's keypoints for every image; write one JSON file "
                                   "with the points in original pixel coordinates.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--checkpoint", "-c", required=True, help="model checkpoint (.safetensors)")
    p.add_argument("--out", "-o", required=True, help="output JSON file")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cuda, cuda:N or cpu")
    p.add_argument("--batch-size", type=int, default=4)
    add_threads_option(p)
    p.add_argument("--schema", help="predict only this subset of the model's schema (e.g. lumbar-ap-20)")
    p.add_argument("--keep-names", action="store_true",
                   help="write file paths and image ids into the JSON (default: pseudonymous ids, with the "
                        "id -> file key in OUT.key.json beside it)")
    p.add_argument("--no-refine", action="store_true", help="one pass on the whole film (no crop pass)")
    p.add_argument("--shard", help="i/n: take every n-th file of the sorted list starting at i (0-based)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)
