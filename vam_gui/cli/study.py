"""``study create|set|add|predict|info``: a study file from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vam_gui.cli.common import CliError, open_study
from vam_gui.cli.predict import add_threads_option


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
    from vam_gui.model.predictor import set_threads
    from vam_gui.model.study_predict import load_predictor, predict_study_images

    if not Path(args.checkpoint).is_file():
        raise CliError(f"checkpoint not found: {args.checkpoint}")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    set_threads(args.threads)
    with open_study(args.file, write=True) as study:
        infos = study.list_images()
        todo = [i.image_id for i in infos if args.all or i.worst_confidence is None]
        try:
            predictor = load_predictor(args.checkpoint, args.device, refine=not args.no_refine)
            with tqdm(total=len(todo), unit="img", desc="predict", disable=args.quiet) as bar:
                result = predict_study_images(study, predictor, todo, batch_size=args.batch_size,
                                              progress=lambda d, t: bar.update(d - bar.n))
        except (CheckpointError, ValueError) as exc:
            raise CliError(str(exc)) from None
    for _image_id, message in result["errors"]:
        print(f"skipped {message}", file=sys.stderr)
    print(f"{len(result['done'])} image(s) predicted and stored in {Path(args.file).name}", file=sys.stderr)
    return 1 if result["errors"] else 0


def _study_info(args: argparse.Namespace) -> int:
    with open_study(args.file, read_only=True) as study:
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
            "blind_first": study.blind_first,
            "readers": study.readers(),
        }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{info['study']}\n  schema      {info['schema']} (K = {info['keypoints']})\n"
          f"  images      {info['images']} ({info['predicted']} predicted)")
    if info["blind_first"] or info["readers"]:
        print(f"  readers     {', '.join(info['readers']) or 'none yet'}"
              f"{' (blind-first)' if info['blind_first'] else ''}")
    for status, n in info["status"].items():
        print(f"  {status:<11} {n}")
    if missing:
        print(f"  missing     {len(missing)} image file(s):")
        for rel in info["missing"]:
            print(f"    {rel}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    if args.study_command == "create":
        with open_study(args.file, create_schema=args.schema) as study:
            if args.blind_first:
                study.set_blind_first(True)
            return _add_with_progress(study, args.paths, args.quiet) if args.paths else 0
    if args.study_command == "set":
        with open_study(args.file, write=True) as study:
            study.set_blind_first(args.blind_first == "on")
            print(f"{study.path.name}: blind-first reading {args.blind_first}", file=sys.stderr)
        return 0
    if args.study_command == "add":
        with open_study(args.file, write=True) as study:
            return _add_with_progress(study, args.paths, args.quiet)
    if args.study_command == "predict":
        return _study_predict(args)
    if args.study_command == "check":
        return _study_check(args)
    return _study_info(args)


def _study_check(args: argparse.Namespace) -> int:
    """SQLite's check of every page of the file (--full: and that indexes match their tables)."""
    with open_study(args.file, read_only=True) as study:
        problems = study.check_integrity(full=args.full)
    if not problems:
        print(f"{Path(args.file).name}: sound ({'full' if args.full else 'quick'} check of every page)")
        return 0
    shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
    print(f"{Path(args.file).name}: damaged, {len(problems)} problem(s):\n  " + "\n  ".join(shown), file=sys.stderr)
    return 1


_BLIND_HELP = ("a reader study read blind first: the window shows a reader no prediction, heatmap or other "
               "reader's points until they accept their own reading of the image")


def add_study(sub) -> None:
    p = sub.add_parser("study", help="create, extend or inspect a study file (headless)",
                       description="Create, extend or inspect a study file (*.vamstudy).")
    study_sub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    q = study_sub.add_parser("create", help="create a study, optionally adding images",
                             description="Create a study file and add images (files or folders, recursive).")
    q.add_argument("file", help="the new study file (*.vamstudy)")
    q.add_argument("paths", nargs="*", help="images or folders to add")
    q.add_argument("--schema", default="lumbar-ap-20", help="keypoint schema (default lumbar-ap-20)")
    q.add_argument("--blind-first", action="store_true", help=_BLIND_HELP)
    q.add_argument("--quiet", "-q", action="store_true")
    q = study_sub.add_parser("set", help="change a study's settings",
                             description="Change a study's settings.")
    q.add_argument("file")
    q.add_argument("--blind-first", choices=("on", "off"), required=True, help=_BLIND_HELP)
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
    q.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    add_threads_option(q)
    q.add_argument("--quiet", "-q", action="store_true")
    q = study_sub.add_parser("info", help="counts by status and missing images",
                             description="Show a study's images by review status and any missing image files.")
    q.add_argument("file")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q = study_sub.add_parser("check", help="check the study file for damage (reads all of it)",
                             description="SQLite's check of every page of the study file, which opening "
                                         "does not make (it reads the whole file). Exit status 1 if damaged.")
    q.add_argument("file")
    q.add_argument("--full", action="store_true", help="also check that every index matches its table (slower)")
    p.set_defaults(func=_cmd_study)
