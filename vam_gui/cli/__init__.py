"""The ``vam-gui`` command: the window by default, and headless subcommands.

One module per group of subcommands, each declaring its arguments next to its handler:
window (open, screenshot), labels (export, import), study, predict, training (synth, train,
evaluate), agreement and bench. Handlers import their room's code when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING

from vam_gui.cli.common import CliError

if TYPE_CHECKING:
    import argparse

__all__ = ["COMMANDS", "CliError", "build_parser", "main", "parse_command_line"]

# (command, module of vam_gui.cli, the function adding its parser), in `vam-gui --help`'s order.
_ADDERS = (("open", "window", "add_open"), ("screenshot", "window", "add_screenshot"),
           ("export", "labels", "add_export"), ("import", "labels", "add_import"), ("study", "study", "add_study"),
           ("predict", "predict", "add_predict"), ("synth", "training", "add_synth"),
           ("train", "training", "add_train"), ("evaluate", "training", "add_evaluate"),
           ("agreement", "agreement", "add_agreement"), ("bench", "bench", "add_bench"))
COMMANDS = tuple(name for name, _, _ in _ADDERS)


def build_parser(commands: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The command line, with the subcommands ``commands`` (all by default)."""
    import argparse

    from vam_gui import __version__

    parser = argparse.ArgumentParser(
        prog="vam-gui",
        description="Review, correct and retrain vertebral corner landmarks on spine radiographs. "
                    "Without a subcommand the review window opens.",
    )
    parser.add_argument("--version", action="version", version=f"vam-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, adder in _ADDERS:
        if name in commands:
            getattr(importlib.import_module(f"vam_gui.cli.{module}"), adder)(sub)
    return parser


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``vam-gui ARGV``. ``vam-gui`` and ``vam-gui open PATHS`` without an option
    open the window on those paths with no parser built (argparse, its help formatter and the
    subcommands' declarations cost every start tens of milliseconds); anything else is parsed."""
    if (not argv or argv[0] == "open") and not any(a.startswith("-") for a in argv):
        from types import SimpleNamespace

        from vam_gui.cli.window import _cmd_open

        return SimpleNamespace(command="open", paths=argv[1:], func=_cmd_open)  # type: ignore[return-value]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["open", *argv])
    return args


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
    args = parse_command_line(sys.argv[1:] if argv is None else list(argv))
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
