"""Where exports go: the default export folder and the key file (pseudonym -> original path).

The key file re-identifies every exported image, so it is written only where the user asks
and never inside the export folder (which is meant to be handed on)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vam_gui.core.atomic import write_bytes_atomic
from vam_gui.io.export.common import ExportError
from vam_gui.io.export.pseudonyms import image_pseudonym

if TYPE_CHECKING:
    from vam_gui.io.study import ImageInfo, Study

KEY_COLUMNS = ("pseudonym", "original_path")


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def default_export_folder(study: Study | str | os.PathLike[str]) -> Path:
    """A visible folder for a study's exports: ``<study folder>/<study name>-export`` when the
    study file is writable and outside the application's data folder (where the sample study
    lives), else ``<documents>/vam-gui/<study name>/``. Creates nothing."""
    from platformdirs import user_documents_path

    from vam_gui.core.settings import data_dir

    path = Path(study) if isinstance(study, (str, os.PathLike)) else study.path
    name = path.stem or "study"
    if _writable(path) and not _inside(path, data_dir()):
        return path.parent / f"{name}-export"
    return Path(user_documents_path()) / "vam-gui" / name


def check_key_file(key_file: Path | None, out_dir: str | os.PathLike[str]) -> None:
    """ExportError (one line) when the key file would be inside the export folder."""
    if key_file is not None and _inside(Path(key_file), Path(out_dir)):
        raise ExportError(f"the key file {key_file} must not be inside the export folder {out_dir}: "
                          "it links every pseudonym to the original file")


def write_key_file(study: Study, infos: list[ImageInfo], key_file: Path) -> Path:
    """CSV: one row per exported image, its pseudonym (the stem of every file exported for
    it) and the absolute path of its original file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(KEY_COLUMNS)
    for info in infos:
        writer.writerow([image_pseudonym(study.study_uid, info.image_id),
                         str(study.image_path(info.image_id).absolute())])
    return write_bytes_atomic(key_file, buf.getvalue().encode("utf-8"))
