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
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        # Checked first: a long prediction run must not end in an unwritable output.
        raise CliError(f"cannot write {args.out}: {out_dir} is not a writable folder")

    from vam_gui.model import CheckpointError, Predictor

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


def _cmd_bench(args: argparse.Namespace) -> int:
    from vam_gui.model.bench import run_model_benchmarks
    from vam_gui.model.predictor import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    import tempfile

    from vam_gui.io.bench import bench_dicom_load
    from vam_gui.io.export.bench import bench_export
    from vam_gui.io.study import bench_edit_latency

    results = run_model_benchmarks(device, quick=args.quick)
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        results.update(bench_edit_latency(tmp, repeats=50 if args.quick else 200))
        results.update(bench_dicom_load(tmp, side=512 if args.quick else 2000, repeats=3 if args.quick else 7))
        results.update(bench_export(tmp, n=4 if args.quick else 12, side=512 if args.quick else 2000))
    if not args.no_gui:
        from vam_gui.gui.bench import run_gui_benchmarks

        results.update(run_gui_benchmarks(quick=args.quick))
    if args.json:
        print(json.dumps(results))
    else:
        width = max(len(k) for k in results)
        for key, value in results.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0


def _open_study(path: str, *, create_schema: str | None = None):
    from vam_gui.core.schema import SchemaError
    from vam_gui.io import Study, StudyError

    try:
        if create_schema is not None:
            return Study.create(path, schema=create_schema)
        return Study.open(path)
    except (StudyError, SchemaError) as exc:
        raise CliError(str(exc)) from None


def _add_with_progress(study, paths: list[str], quiet: bool) -> int:
    from tqdm import tqdm

    with tqdm(unit="img", desc="add", disable=quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = study.add_images(paths, progress=progress)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for path in report.duplicates:
        print(f"already in the study: {path}", file=sys.stderr)
    print(f"{len(report.added)} image(s) added to {study.path.name}", file=sys.stderr)
    return 0


def _study_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vam_gui.model import CheckpointError
    from vam_gui.model.study_predict import load_predictor, predict_study_images

    if not Path(args.checkpoint).is_file():
        raise CliError(f"checkpoint not found: {args.checkpoint}")
    with _open_study(args.file) as study:
        infos = study.list_images()
        todo = [i.image_id for i in infos if args.all or i.worst_confidence is None]
        try:
            predictor = load_predictor(args.checkpoint, args.device, refine=not args.no_refine)
            with tqdm(total=len(todo), unit="img", desc="predict", disable=args.quiet) as bar:
                result = predict_study_images(study, predictor, todo, progress=lambda d, t: bar.update(d - bar.n))
        except (CheckpointError, ValueError) as exc:
            raise CliError(str(exc)) from None
    for _image_id, message in result["errors"]:
        print(f"skipped {message}", file=sys.stderr)
    print(f"{len(result['done'])} image(s) predicted and stored in {Path(args.file).name}", file=sys.stderr)
    return 1 if result["errors"] else 0


def _cmd_study(args: argparse.Namespace) -> int:
    if args.study_command == "create":
        with _open_study(args.file, create_schema=args.schema) as study:
            return _add_with_progress(study, args.paths, args.quiet) if args.paths else 0
    if args.study_command == "add":
        with _open_study(args.file) as study:
            return _add_with_progress(study, args.paths, args.quiet)
    if args.study_command == "predict":
        return _study_predict(args)
    with _open_study(args.file) as study:
        images = study.list_images()
        missing = study.missing_images()
        info = {
            "study": str(study.path),
            "schema": study.schema.name,
            "keypoints": study.schema.k,
            "images": len(images),
            "status": study.counts_by_status(),
            "predicted": sum(1 for i in images if i.worst_confidence is not None),
            "missing": [study.image_info(i).rel_path for i in missing],
        }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{info['study']}\n  schema      {info['schema']} (K = {info['keypoints']})\n"
          f"  images      {info['images']} ({info['predicted']} predicted)")
    for status, n in info["status"].items():
        print(f"  {status:<11} {n}")
    if missing:
        print(f"  missing     {len(missing)} image file(s):")
        for rel in info["missing"]:
            print(f"    {rel}")
    return 0


def _cmd_screenshot(args: argparse.Namespace) -> int:
    from vam_gui.gui.screenshot import render_screenshot

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CliError(f"--size must look like 1400x900, got {args.size!r}") from None
    path = render_screenshot(args.out, args.study, width=width, height=height, checkpoint=args.checkpoint,
                             dock=args.dock)
    print(f"window rendered -> {path}", file=sys.stderr)
    return 0


def _run_model_command(name: str):
    """A subcommand implemented in vam_gui.model.cli_commands (imported when it runs)."""
    def run(args: argparse.Namespace) -> int:
        from vam_gui.io.dataset import DatasetError
        from vam_gui.model import cli_commands
        from vam_gui.model.checkpoint import CheckpointError

        try:
            return getattr(cli_commands, name)(args)
        except (DatasetError, CheckpointError, ValueError, FileNotFoundError) as exc:
            raise CliError(str(exc)) from None
    return run


def _cmd_open(args: argparse.Namespace) -> int:
    from vam_gui.gui.app import run_app

    return run_app([Path(p) for p in args.paths])


def _progress_bar(desc: str, quiet: bool):
    from tqdm import tqdm

    bar = tqdm(unit="img", desc=desc, disable=quiet)

    def progress(done: int, total: int) -> None:
        if total and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    return bar, progress


def _cmd_export(args: argparse.Namespace) -> int:
    from vam_gui.io.export import ExportError, ExportOptions, export_study

    try:
        options = ExportOptions(all_images=args.all, include_flagged=args.include_flagged,
                                keep_names=args.keep_names, sigma=args.sigma, size=args.size)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    with _open_study(args.study) as study:
        bar, progress = _progress_bar(f"export {args.format}", args.quiet)
        try:
            with bar:
                report = export_study(study, args.format, args.out, options, progress=progress)
        except (ExportError, OSError) as exc:
            raise CliError(str(exc)) from None
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if report.unlabelled:
        print(f"{len(report.unlabelled)} image(s) without a labelled point left out", file=sys.stderr)
    print(f"{report.images} image(s) exported as {args.format} -> {args.out}", file=sys.stderr)
    return 1 if report.skipped else 0


def _cmd_import(args: argparse.Namespace) -> int:
    from vam_gui.io.importers import LabelImportError, import_labels

    with _open_study(args.study) as study:
        bar, progress = _progress_bar(f"import {args.format}", args.quiet)
        try:
            with bar:
                report = import_labels(study, args.format, args.paths, user=args.user, progress=progress)
        except (LabelImportError, OSError) as exc:
            raise CliError(str(exc)) from None
        failing = _check_summary(study, report.imported)
    for origin, reason in report.skipped:
        print(f"skipped {origin}: {reason}", file=sys.stderr)
    print(f"{len(report.imported)} image(s) imported into {Path(args.study).name}", file=sys.stderr)
    if failing:
        print(failing, file=sys.stderr)
    return 1 if report.skipped else 0


def _check_summary(study, image_ids: list[str], examples: int = 5) -> str:
    """One paragraph on imported labels that fail the anatomical checks (imported anyway: a
    reviewer decides), e.g. a vertebra's corners at the wrong level in a public label set."""
    from collections import Counter

    from vam_gui.io.review import image_review

    kinds: Counter = Counter()
    lines = []
    images = 0
    for image_id in image_ids:
        flags = image_review(study, image_id, with_measurements=False)[1]
        if not flags:
            continue
        images += 1
        kinds.update(f.kind for f in flags)
        if len(lines) < examples:
            lines.append(f"  {study.image_info(image_id).file_name}: {flags[0].message}")
    if not images:
        return ""
    head = (f"{images} of {len(image_ids)} imported image(s) fail the anatomical checks (imported anyway; "
            f"G in the window jumps to them): " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    return "\n".join([head, *lines, *(["  ..."] if images > len(lines) else [])])


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

    p = sub.add_parser("screenshot", help="render the window offscreen to a PNG",
                       description="Render the review window offscreen with the first image of a study, "
                                   "its heatmap overlay and labelled points. Without --study: the bundled "
                                   "sample study, or a generated phantom whose true corners stand in for "
                                   "the prediction.")
    p.add_argument("out", help="the PNG to write")
    p.add_argument("--study", help="a study file (*.vamstudy)")
    p.add_argument("--checkpoint", help="predict images that have no prediction yet with this model")
    p.add_argument("--size", default="1400x900", help="window size WxH (default 1400x900)")
    p.add_argument("--dock", choices=["Keypoints", "Measurements"], help="bring this dock tab to the front")
    p.set_defaults(func=_cmd_screenshot)

    p = sub.add_parser("export", help="export labels or a training dataset (de-identified)",
                       description="Export a study's labels (json, coco, csv) or a training dataset (letterboxed "
                                   "16-bit PNGs, float16 Gaussian targets, manifest.json) into a folder. Names "
                                   "and ids are per-study pseudonyms unless --keep-names.")
    p.add_argument("study", help="the study file (*.vamstudy)")
    p.add_argument("--format", "-f", required=True, choices=("json", "coco", "csv", "dataset"))
    p.add_argument("--out", "-o", required=True, help="the folder to write into")
    p.add_argument("--all", action="store_true", help="every image, not only accepted ones (flagged still "
                                                      "need --include-flagged)")
    p.add_argument("--include-flagged", action="store_true", help="include flagged images")
    p.add_argument("--sigma", type=float, default=2.0, help="dataset: target sigma in model px (default 2)")
    p.add_argument("--size", type=int, default=512, help="dataset: model input S (default 512)")
    p.add_argument("--keep-names", action="store_true", help="keep original file names (not de-identified)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("import", help="import labels into a study for review",
                       description="Import labels into a study: vam-gui JSON, COCO keypoints, the scoliosis "
                                   "challenge's .mat files or landmarks.csv + filenames.csv, or per-endplate "
                                   "CSV files (x1,y1,x2,y2[,label], two rows per vertebra). Labels of another "
                                   "schema of the same view are converted; files matching no image are reported.")
    p.add_argument("study", help="the study file (*.vamstudy)")
    p.add_argument("--format", "-f", required=True,
                   choices=("json", "coco", "scoliosis-mat", "scoliosis-csv", "endplates"))
    p.add_argument("paths", nargs="+", help="label files or folders")
    p.add_argument("--user", help="the name written in the edit log (default: the login name)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("study", help="create, extend or inspect a study file (headless)",
                       description="Create, extend or inspect a study file (*.vamstudy).")
    study_sub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    q = study_sub.add_parser("create", help="create a study, optionally adding images",
                             description="Create a study file and add images (files or folders, recursive).")
    q.add_argument("file", help="the new study file (*.vamstudy)")
    q.add_argument("paths", nargs="*", help="images or folders to add")
    q.add_argument("--schema", default="lumbar-ap-20", help="keypoint schema (default lumbar-ap-20)")
    q.add_argument("--quiet", "-q", action="store_true")
    q = study_sub.add_parser("add", help="add images to a study",
                             description="Add images (files or folders, recursive) to a study.")
    q.add_argument("file")
    q.add_argument("paths", nargs="+")
    q.add_argument("--quiet", "-q", action="store_true")
    q = study_sub.add_parser("predict", help="predict the study's images and store the results",
                             description="Predict every image of the study that has no prediction yet "
                                         "(--all: every image) and store points and heatmaps in the study.")
    q.add_argument("file")
    q.add_argument("--checkpoint", "-c", required=True)
    q.add_argument("--all", action="store_true", help="also re-predict images that have a prediction")
    q.add_argument("--no-refine", action="store_true", help="one pass on the whole film (no crop pass)")
    q.add_argument("--device", default="auto")
    q.add_argument("--quiet", "-q", action="store_true")
    q = study_sub.add_parser("info", help="counts by status and missing images",
                             description="Show a study's images by review status and any missing image files.")
    q.add_argument("file")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("predict", help="predict keypoints for images (headless)",
                       description="Predict the schema's keypoints for every image; write one JSON file "
                                   "with the points in original pixel coordinates.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--checkpoint", "-c", required=True, help="model checkpoint (.safetensors)")
    p.add_argument("--out", "-o", required=True, help="output JSON file")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cuda, cuda:N or cpu")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--schema", help="predict only this subset of the model's schema (e.g. lumbar-ap-20)")
    p.add_argument("--keep-names", action="store_true",
                   help="write file paths and image ids into the JSON (default: pseudonymous ids, with the "
                        "id -> file key in OUT.key.json beside it)")
    p.add_argument("--no-refine", action="store_true", help="one pass on the whole film (no crop pass)")
    p.add_argument("--shard", help="i/n: take every n-th file of the sorted list starting at i (0-based)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("synth", help="write synthetic spine phantoms with exact labels",
                       description="Procedural spine radiograph phantoms with exact corner labels: images "
                                   "(PNG, or DICOM with pixel spacing, some MONOCHROME1) plus labels.json, "
                                   "optionally a study and a training dataset. Deterministic by seed.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, required=True, help="number of phantoms")
    p.add_argument("--schema", default="lumbar-ap-20")
    p.add_argument("--seed", type=int, default=0, help="phantom i uses seed + i")
    p.add_argument("--dicom", action="store_true", help="write DICOM instead of PNG")
    p.add_argument("--difficulty", type=float, default=1.0,
                   help="0 = clean and upright, 1 = full variation, 2 = also surgical hardware, rulers, "
                        "text, curves to 60 degrees")
    p.add_argument("--study", action="store_true", help="also write a study with the labels imported")
    p.add_argument("--dataset-size", type=int, help="also write a training dataset at this S (multiple of 32)")
    p.add_argument("--no-images", action="store_true", help="only the dataset (no image files, no labels.json)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=_run_model_command("cmd_synth"))

    p = sub.add_parser("train", help="train or fine-tune the network on a dataset",
                       description="Train (or fine-tune with --init) on an exported dataset, a synth folder, "
                                   "or a folder with labels.json. Writes last/best checkpoints, metrics.csv, "
                                   "metrics.png. For several GPUs: torchrun --nproc-per-node N -m vam_gui train ...")
    p.add_argument("dataset")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics)")
    p.add_argument("--epochs", type=int, help="default 30; with --max-minutes: as many as the time allows")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--size", help="model input S or HxW, multiples of 32, e.g. 256 or 384x160 for full-length "
                                  "films (default: a dataset's S, 256 for a folder with labels.json, or --init's size)")
    p.add_argument("--store-size", type=int, default=1024,
                   help="S of the stored images when a folder with labels.json is converted (default 1024: "
                        "crops for the second pass need the resolution)")
    p.add_argument("--augment-strength", type=float, default=1.0,
                   help="appearance augmentation: 0 off, 1 default, 2 strong (gamma, contrast, blur, noise, "
                        "CLAHE, exposure gradients, collimation, burned-in text and markers)")
    p.add_argument("--crop-share", type=float, default=0.65,
                   help="share of training samples cut around a run of vertebrae (what the second pass sees)")
    p.add_argument("--pretrained", help="a local torchvision weights file for the backbone (new runs)")
    p.add_argument("--backbone", choices=["efficientnet_v2_s", "mobilenet_v3_large"])
    p.add_argument("--d-model", type=int)
    p.add_argument("--bridge-layers", type=int)
    p.add_argument("--vam-layers", type=int)
    p.add_argument("--decoder-channels", help="four widths, e.g. 256,128,64,32")
    p.add_argument("--init", help="fine-tune from this checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float,
                   help="stop after this many minutes; the learning rate anneals to zero at the deadline")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=_run_model_command("cmd_train"))

    p = sub.add_parser("evaluate", help="landmark errors of a checkpoint (px, %% of height, vertebral heights, mm)",
                       description="Run the full predictor (both passes) on the images of a folder with "
                                   "labels.json, a study (its accepted images) or a dataset folder, and report "
                                   "mean and median error in original px, %% of image height, vertebral heights "
                                   "and mm (when every image has a spacing), SDR, per-vertebra errors and the "
                                   "number of level-shifted images (prediction one vertebra off the truth).")
    p.add_argument("dataset", help="a folder with labels.json, a .vamstudy or a dataset folder")
    p.add_argument("--checkpoint", "-c", required=True)
    p.add_argument("--schema", help="evaluate only this subset schema's points (e.g. lumbar-ap-20)")
    p.add_argument("--sdr", help="SDR thresholds with units px, mm, %%h or vh, e.g. 2,4mm or 0.5,1%%h")
    p.add_argument("--no-refine", action="store_true", help="one pass on the whole film (no crop pass)")
    p.add_argument("--all", action="store_true", help="a study: every labelled image, not only accepted ones")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_model_command("cmd_evaluate"))

    p = sub.add_parser("bench", help="measure speed on this machine",
                       description="Measure target generation, DARK decoding and model forward speed.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer repeats and S=256 forward (for smoke tests)")
    p.add_argument("--no-gui", action="store_true", help="skip the window benchmarks")
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
    except OSError as exc:  # a disk full, a folder that vanished, no permission: one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"vam-gui: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vam-gui: interrupted", file=sys.stderr)
        return 130
