"""The scoliosis-challenge layout (AASCE / SpineWeb dataset 16): 68 landmarks per image,
17 vertebrae T1-L5 x (top-left, top-right, bottom-left, bottom-right) = spine-ap-68.

* ``.mat``: one file per image holding a 68 x 2 array ``p2`` of (x, y) pixels, named after
  the image (``name.jpg.mat`` or ``name.mat``).
* CSV: ``landmarks.csv`` with one row per image, 68 x's then 68 y's normalised to [0, 1]
  by the image width and height, and ``filenames.csv`` naming the images in the same order.

Coordinates are taken as given in our pixel convention (design.md §2).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.core.schema import load_schema
from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map

if TYPE_CHECKING:
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, Study

SCHEMA = "spine-ap-68"
N = 68


def _schema(study: Study) -> Schema:
    schema = load_schema(SCHEMA)
    index_map(schema, study.schema)  # refuses a lateral study before anything is read
    return schema


def _mat_record(path: Path, schema: Schema) -> LabelRecord:
    from scipy.io import loadmat

    name = path.name[:-4] if path.name.lower().endswith(".mat") else path.name
    keys = [name, path.stem]
    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several types for a file that is not a .mat
        return LabelRecord(path.name, keys, error=f"not a readable .mat file ({type(exc).__name__})")
    if "p2" not in mat:
        return LabelRecord(path.name, keys, error="no 'p2' array in the .mat file")
    try:
        p2 = np.asarray(mat["p2"], dtype=np.float64)
    except (TypeError, ValueError):
        return LabelRecord(path.name, keys, error="'p2' is not numeric")
    if p2.shape == (2, N):
        p2 = p2.T
    if p2.shape != (N, 2):
        return LabelRecord(path.name, keys, error=f"'p2' has shape {p2.shape}, expected ({N}, 2)")
    return LabelRecord(path.name, keys, schema=schema, xy=p2, visible=np.asarray(np.isfinite(p2).all(axis=1)))


def read_scoliosis_mat(paths: Iterable[str | os.PathLike[str]], study: Study) -> Iterator[LabelRecord]:
    """Records from ``.mat`` files (folders: every ``*.mat`` in them)."""
    schema = _schema(study)
    for path in expand(paths, (".mat",)):
        yield _mat_record(path, schema)


def _rows(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelImportError(f"{path.name}: cannot read the CSV ({type(exc).__name__})") from None


def _numbers(row: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(c) for c in row if c.strip() != ""], dtype=np.float64)
    except ValueError:
        return None


def _csv_pair(paths: list[Path]) -> tuple[Path, Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv"))
        elif p.is_file():
            files.append(p)
        else:
            raise LabelImportError(f"{p}: no such file or folder")
    names = [f for f in files if "filename" in f.name.lower()]
    marks = [f for f in files if "landmark" in f.name.lower()] or [f for f in files if f not in names]
    if len(names) != 1 or len(marks) != 1:
        raise LabelImportError("the scoliosis CSV layout needs one landmarks CSV and one filenames CSV "
                               f"(found {len(marks)} and {len(names)})")
    return marks[0], names[0]


def read_scoliosis_csv(paths: Iterable[str | os.PathLike[str]], study: Study) -> Iterator[LabelRecord]:
    """Records from ``landmarks.csv`` + ``filenames.csv`` (the files, or their folder)."""
    schema = _schema(study)
    marks_path, names_path = _csv_pair([Path(p) for p in paths])
    rows = _rows(marks_path)
    if rows and _numbers(rows[0]) is None:
        rows = rows[1:]  # a header
    names = [row[0].strip() for row in _rows(names_path)]
    if names and Path(names[0]).suffix == "" and names[0].lower() in ("filename", "filenames", "name", "file", "image"):
        names = names[1:]
    if len(rows) != len(names):
        raise LabelImportError(f"{marks_path.name} has {len(rows)} rows but {names_path.name} names "
                               f"{len(names)} images: the rows cannot be paired with images")
    for i, (row, name) in enumerate(zip(rows, names), 1):
        origin = f"{marks_path.name} row {i} ({name})"
        values = _numbers(row)
        if values is None or values.size != 2 * N:
            yield LabelRecord(origin, [name], error=f"expected {2 * N} numbers (68 x then 68 y)")
            continue
        norm = np.stack([values[:N], values[N:]], axis=1)
        finite = np.isfinite(norm).all(axis=1)
        if (norm[finite] < -0.01).any() or (norm[finite] > 1.01).any():
            yield LabelRecord(origin, [name], error="values outside [0, 1]: not normalised coordinates")
            continue

        def resolve(info: ImageInfo, norm: np.ndarray = norm,
                    finite: np.ndarray = finite) -> tuple[np.ndarray, np.ndarray]:
            return norm * np.array([info.width, info.height], dtype=np.float64), finite

        yield LabelRecord(origin, [name], schema=schema, visible=finite, resolve=resolve)
