"""The ``vam-gui`` command: the window by default, and headless subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


class CliError(Exception):
    """An error shown to the user as one line, with a non-zero exit."""


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

    from vam_gui.model import CheckpointError, Predictor

    try:
        predictor = Predictor(args.checkpoint, device=args.device)
    except (CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from None
    with tqdm(total=len(files), unit="img", desc="predict", disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = predict_files(files, predictor, batch_size=args.batch_size, progress=progress)
    if shard is not None:
        result["shard"] = {"index": shard[0], "count": shard[1]}
    write_json_atomic(args.out, result)
    for err in result["errors"]:
        print(f"skipped {err['file']}: {err['reason']}", file=sys.stderr)
    print(f"{len(result['images'])} image(s) predicted -> {args.out}", file=sys.stderr)
    return 1 if result["errors"] else 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from vam_gui.model.bench import run_model_benchmarks
    from vam_gui.model.predictor import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    results = run_model_benchmarks(device, quick=args.quick)
    if args.json:
        print(json.dumps(results))
    else:
        width = max(len(k) for k in results)
        for key, value in results.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0


def _cmd_open(args: argparse.Namespace) -> int:
    from vam_gui.gui.app import run_app

    return run_app([Path(p) for p in args.paths])


def build_parser() -> argparse.ArgumentParser:
    from vam_gui import __version__

    parser = argparse.ArgumentParser(
        prog="vam-gui",
        description="Review, correct and retrain vertebral corner landmarks on spine radiographs. "
                    "Without a subcommand the review window opens.",
    )
    parser.add_argument("--version", action="version", version=f"vam-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the window on images", description="Open the window on images.")
    p.add_argument("paths", nargs="*", help="radiographs to show")
    p.set_defaults(func=_cmd_open)

    p = sub.add_parser("predict", help="predict keypoints for images (headless)",
                       description="Predict the schema's keypoints for every image; write one JSON file "
                                   "with the points in original pixel coordinates.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--checkpoint", "-c", required=True, help="model checkpoint (.safetensors)")
    p.add_argument("--out", "-o", required=True, help="output JSON file")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cuda, cuda:N or cpu")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--shard", help="i/n: take every n-th file of the sorted list starting at i (0-based)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("bench", help="measure speed on this machine",
                       description="Measure target generation, DARK decoding and model forward speed.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer repeats and S=256 forward (for smoke tests)")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    # PyTorch's CPU allocator backs large tensors (heatmaps are K x S x S per image) with
    # transparent huge pages when asked: first-touch page faults drop about fivefold.
    # Read once, at torch's first allocation, so it is set before anything imports torch.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["open", *([] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"vam-gui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vam-gui: interrupted", file=sys.stderr)
        return 130
