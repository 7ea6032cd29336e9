"""``export`` and ``import``: labels and training datasets in and out of a study."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vam_gui.cli.common import CliError, open_study, progress_bar


def _cmd_export(args: argparse.Namespace) -> int:
    from vam_gui.io.export import ExportError, ExportOptions, export_study

    try:
        options = ExportOptions(all_images=args.all, include_flagged=args.include_flagged,
                                keep_names=args.keep_names, sigma=args.sigma, size=args.size,
                                write_images=not args.no_images, deidentify_sr=args.deidentify_sr,
                                key_file=Path(args.key_file) if args.key_file else None, readers=args.readers)
        if args.readers and args.format != "json":
            raise ExportError("--readers: only the json format carries readers' annotations")
    except ExportError as exc:
        raise CliError(str(exc)) from None
    with open_study(args.study, read_only=True) as study:
        bar, progress = progress_bar(f"export {args.format}", args.quiet)
        try:
            with bar:
                report = export_study(study, args.format, args.out, options, progress=progress)
        except (ExportError, OSError) as exc:
            raise CliError(str(exc)) from None
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for name, reason in report.left_out:
        print(f"left out {name}: {reason}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.key_file is not None:
        print(f"key file (pseudonym -> original file; keep it apart from the export) -> {report.key_file}",
              file=sys.stderr)
    if report.unlabelled:
        print(f"{len(report.unlabelled)} image(s) without a labelled point left out", file=sys.stderr)
    print(f"{report.images} image(s) exported as {args.format} -> {args.out}", file=sys.stderr)
    return 1 if report.skipped else 0


def _cmd_import(args: argparse.Namespace) -> int:
    from vam_gui.io.importers import LabelImportError, import_labels

    with open_study(args.study, write=True) as study:
        bar, progress = progress_bar(f"import {args.format}", args.quiet)
        try:
            with bar:
                report = import_labels(study, args.format, args.paths, user=args.user, progress=progress,
                                       partial=args.partial, reader=args.reader)
        except (LabelImportError, OSError) as exc:
            raise CliError(str(exc)) from None
        failing = "" if args.reader else _check_summary(study, report.imported)
    for origin, reason in report.skipped:
        print(f"skipped {origin}: {reason}", file=sys.stderr)
    whose = f" as {args.reader}'s readings" if args.reader else ""
    print(f"{len(report.imported)} image(s) imported into {Path(args.study).name}{whose}", file=sys.stderr)
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


def add_export(sub) -> None:
    p = sub.add_parser("export", help="export labels or a training dataset (de-identified)",
                       description="Export a study's labels (json, coco, csv) or a training dataset (letterboxed "
                                   "16-bit PNGs, float16 Gaussian targets, manifest.json) into a folder. Names "
                                   "and ids are per-study pseudonyms unless --keep-names; a pseudonymised label "
                                   "export also writes de-identified copies of its images (DICOM per PS3.15's basic "
                                   "profile, other images as metadata-free PNG) under the names the labels use. "
                                   "dicom-sr writes a TID 1500 measurement report per DICOM image that keeps the "
                                   "patient's identifiers (for the archive) unless --deidentify-sr.")
    p.add_argument("study", help="the study file (*.vamstudy)")
    p.add_argument("--format", "-f", required=True, choices=("json", "coco", "csv", "dataset", "dicom-sr"))
    p.add_argument("--out", "-o", required=True, help="the folder to write into")
    p.add_argument("--all", action="store_true", help="every image, not only accepted ones (flagged still "
                                                      "need --include-flagged)")
    p.add_argument("--include-flagged", action="store_true", help="include flagged images")
    p.add_argument("--sigma", type=float, default=2.0, help="dataset: target sigma in model px (default 2)")
    p.add_argument("--size", type=int, default=512, help="dataset: model input S (default 512)")
    p.add_argument("--keep-names", action="store_true", help="keep original file names (not de-identified)")
    p.add_argument("--no-images", action="store_true",
                   help="json/coco/csv: labels only, no image copies (the files they name are then not in the folder)")
    p.add_argument("--key-file", metavar="PATH",
                   help="also write PATH, a CSV of pseudonym -> original file (it re-identifies the export: "
                        "refused inside the export folder)")
    p.add_argument("--deidentify-sr", action="store_true",
                   help="dicom-sr: de-identified reports that reference de-identified copies (written beside them)")
    p.add_argument("--readers", action="store_true",
                   help="json: each image also carries every reader's blind and revised annotation (a reader "
                        "study); without it only the consensus, as always")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_export)


def add_import(sub) -> None:
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
    p.add_argument("--partial", action="store_true",
                   help="accept files that label only some keypoints of an image (the others stay as they are); "
                        "without it such a file is refused")
    p.add_argument("--reader", metavar="NAME",
                   help="the labels are this reader's annotations in a reader study (kept beside the consensus, "
                        "which is not changed; see vam-gui agreement)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)
