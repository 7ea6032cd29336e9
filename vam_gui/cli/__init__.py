"""The ``vam-gui`` command: the window by default, and headless subcommands.

One module per group of subcommands, each declaring its arguments next to its handler:
window (open, screenshot), labels (export, import), study, predict, training (synth, train,
evaluate), agreement and bench. Handlers import their room's code when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from vam_gui.cli import agreement, bench, labels, predict, study, training, window
from vam_gui.cli.common import CliError

__all__ = ["CliError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from vam_gui import __version__

    parser = argparse.ArgumentParser(
        prog="vam-gui",
        description="Review, correct and retrain vertebral corner landmarks on spine radiographs. "
                    "Without a subcommand the review window opens.",
    )
    parser.add_argument("--version", action="version", version=f"vam-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # The order here is the order of `vam-gui --help`.
    for add in (window.add_open, window.add_screenshot, labels.add_export, labels.add_import, study.add_study,
                predict.add_predict, training.add_synth, training.add_train, training.add_evaluate,
                agreement.add_agreement, bench.add_bench):
        add(sub)
    return parser


def _quiet_stdout() -> None:
    """After a failed write to stdout (a full disk, a closed pipe), send what is still buffered
    to /dev/null: the interpreter's last flush must not add a second message."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


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
        _quiet_stdout()
        print(f"vam-gui: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:
        from vam_gui.io.study_errors import StudyError

        if not isinstance(exc, StudyError):  # a failed write, a damaged row, mid-command: one line
            raise
        print(f"vam-gui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vam-gui: interrupted", file=sys.stderr)
        return 130
