"""What the subcommands share: the one-line error, opening a study, a progress bar, and the
wrapper for commands implemented in vam_gui.model.cli_commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


class CliError(Exception):
    """An error shown to the user as one line, with a non-zero exit."""


def open_study(path: str, *, create_schema: str | None = None, read_only: bool = False, write: bool = False):
    """The study at ``path``: created (``create_schema``), opened read-only (``read_only``: for
    info and export, takes no lock, never migrates), or opened to ``write`` — refused in one
    line, before any work, when another process is writing it or the file cannot be written."""
    from vam_gui.core.schema import SchemaError
    from vam_gui.io import Study, StudyError

    try:
        if create_schema is not None:
            return Study.create(path, schema=create_schema)
        study = Study.open(path, read_only=read_only)
    except (StudyError, SchemaError) as exc:
        raise CliError(str(exc)) from None
    if write and study.read_only:
        why = study.read_only_reason or "read-only"
        study.close()
        raise CliError(f"{Path(path).name}: cannot write it ({why}); nothing changed")
    return study


def progress_bar(desc: str, quiet: bool):
    from tqdm import tqdm

    bar = tqdm(unit="img", desc=desc, disable=quiet)

    def progress(done: int, total: int) -> None:
        if total and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    return bar, progress


def run_model_command(name: str) -> Callable[[argparse.Namespace], int]:
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
