"""``agreement``: a reader study's agreement between readers and with the model."""

from __future__ import annotations

import argparse
import json
import sys

from vam_gui.cli.common import CliError, open_study


def _cmd_agreement(args: argparse.Namespace) -> int:
    from vam_gui.io.agreement import study_agreement, write_agreement_csv

    with open_study(args.study, read_only=True) as study:
        if not study.readers():
            raise CliError(f"{study.path.name} has no readers' annotations (mark images in a blind-first "
                           "study, or vam-gui import --reader NAME)")
        report = study_agreement(study, args.phase)
    if args.csv:
        for path in write_agreement_csv(report, args.csv):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(report.format_table())
    return 0


def add_agreement(sub) -> None:
    p = sub.add_parser("agreement", help="agreement between a study's readers and with the model",
                       description="Reader-study agreement: per keypoint the mean and 95th-percentile distance "
                                   "between readers and between each reader and the model (mm with pixel "
                                   "spacing, px otherwise), the readers' per-axis noise, per measurement "
                                   "ICC(2,1) and Bland-Altman bias and 95%% limits, and the images where two "
                                   "readers sit one vertebra apart.")
    p.add_argument("study", help="the study file (*.vamstudy)")
    p.add_argument("--phase", choices=("blind", "revised", "latest"), default="blind",
                   help="which readings: blind (default: before the model was shown), revised (after), "
                        "latest (revised where there is one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", metavar="DIR", help="also write keypoints.csv, measurements.csv and "
                                                 "level_disagreements.csv into DIR")
    p.set_defaults(func=_cmd_agreement)
