"""``open`` and ``screenshot``: the commands that show or render the review window."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vam_gui.cli.common import CliError

if TYPE_CHECKING:
    import argparse


def _cmd_open(args: argparse.Namespace) -> int:
    from vam_gui.cli.qt_check import qt_platform_problem
    from vam_gui.gui.app import display_available, run_app

    if display_available() and (problem := qt_platform_problem()) is not None:
        raise CliError(problem)  # instead of Qt's abort (exit 134) with a misleading hint
    return run_app([Path(p) for p in args.paths])


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


def add_open(sub) -> None:
    p = sub.add_parser("open", help="open the window on images", description="Open the window on images.")
    p.add_argument("paths", nargs="*", help="radiographs to show")
    p.set_defaults(func=_cmd_open)


def add_screenshot(sub) -> None:
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
