"""The scoliosis-challenge layout (AASCE / SpineWeb dataset 16): 68 landmarks per image,
17 vertebrae T1-L5 x (top-left, top-right, bottom-left, bottom-right) = spine-ap-68.

* ``.mat``: one file per image holding a 68 x 2 array ``p2`` of (x, y) pixels, named after
  the image (``name.jpg.mat`` or ``name.mat``).
* CSV: ``landmarks.csv`` with one row per image, 68 x's then 68 y's normalised to [0, 1]
  by the image width and height, and ``filenames.csv`` naming the images in the same order.

Coordinates are taken as given in our pixel convention (design.md §2). Every value must be a
finite number (the layout has no mark for a missing point); a file of the layout with a bad
value is refused whole.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.core.schema import load_schema
from vam_gui.io.importers.common import MARGIN, LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map, located
from vam_gui.io.importers.strict import cell, is_header, load_csv, read_bytes

if TYPE_CHECKING:
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, Study

SCHEMA = "spine-ap-68"
N = 68


def _schema(study: Study, origin: str) -> Schema:
    schema = load_schema(SCHEMA)
    try:
        index_map(schema, study.schema)  # refuses a lateral study before anything is written
    except LabelImportError as exc:
        raise located(exc, origin) from None
    return schema


def _mat_record(path: Path, study: Study) -> LabelRecord:
    from scipy.io import loadmat

    origin = path.name
    name = path.name[:-4] if path.name.lower().endswith(".mat") else path.name
    keys = [name, path.stem]
    data = read_bytes(path)
    try:
        mat = loadmat(io.BytesIO(data))
    except Exception as exc:  # scipy raises several types for a file that is not a .mat
        return LabelRecord(origin, keys, error=f"not a readable .mat file ({type(exc).__name__})")
    if "p2" not in mat:
        return LabelRecord(origin, keys, error="no 'p2' array in the .mat file")
    schema = _schema(study, origin)
    p2 = np.asarray(mat["p2"])
    if p2.dtype.kind not in "iuf":
        raise LabelImportError(f"{origin}: 'p2' holds {p2.dtype} values, not real numbers")
    if p2.shape == (2, N):
        p2 = p2.T
    if p2.shape != (N, 2):
        raise LabelImportError(f"{origin}: 'p2' has shape {p2.shape}, expected ({N}, 2)")
    p2 = p2.astype(np.float64)
    bad = ~np.isfinite(p2).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LabelImportError(f"{origin}: p2 row {i + 1} ({schema.keypoints[i]}) is ({p2[i, 0]:g}, {p2[i, 1]:g}), "
                               "not two finite numbers")
    return LabelRecord(origin, keys, schema=schema, xy=p2, visible=np.ones(N, dtype=bool))


def read_scoliosis_mat(paths: Iterable[str | os.PathLike[str]], study: Study, *,
                       partial: bool = False) -> Iterator[LabelRecord]:
    """Records from ``.mat`` files (folders: every ``*.mat`` in them). Each holds all 68
    points, so ``partial`` changes nothing."""
    for path in expand(paths, (".mat",)):
        yield _mat_record(path, study)


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    rows, why = load_csv(path)
    if why is not None:
        raise LabelImportError(f"{path.name}: {why}")
    return rows


def _numbers(cells: list[str], where: str) -> np.ndarray:
    while cells and not cells[-1].strip():
        cells = cells[:-1]  # a trailing comma
    if len(cells) != 2 * N:
        raise LabelImportError(f"{where}: {len(cells)} values, expected {2 * N} ({N} x then {N} y)")
    values = np.array([cell(c, where, f"value {j + 1}") for j, c in enumerate(cells)])
    norm = np.stack([values[:N], values[N:]], axis=1)
    outside = ((norm < -MARGIN) | (norm > 1 + MARGIN)).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise LabelImportError(f"{where}: point {i + 1} at ({norm[i, 0]:g}, {norm[i, 1]:g}) is outside [0, 1] "
                               f"by more than {MARGIN:.0%}: not normalised coordinates")
    return norm


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


def _names(path: Path) -> list[tuple[str, str]]:
    """[(where, image name)] of ``filenames.csv``, a header row left out."""
    names = []
    for n, (line, cells) in enumerate(_rows(path)):
        name = cells[0].strip()
        if n == 0 and Path(name).suffix == "" and name.lower() in ("filename", "filenames", "name", "file", "image"):
            continue
        if not name or any(c.strip() for c in cells[1:]):
            raise LabelImportError(f"{path.name}: row {line}: expected one image name")
        names.append((f"{path.name} row {line}", name))
    return names


def read_scoliosis_csv(paths: Iterable[str | os.PathLike[str]], study: Study, *,
                       partial: bool = False) -> Iterator[LabelRecord]:
    """Records from ``landmarks.csv`` + ``filenames.csv`` (the files, or their folder). Each
    row holds all 68 points, so ``partial`` changes nothing."""
    marks_path, names_path = _csv_pair([Path(p) for p in paths])
    schema = _schema(study, marks_path.name)
    rows = _rows(marks_path)
    if rows and is_header(rows[0][1]):
        rows = rows[1:]  # a header
    names = _names(names_path)
    if len(rows) != len(names):
        raise LabelImportError(f"{marks_path.name} has {len(rows)} rows but {names_path.name} names "
                               f"{len(names)} images: the rows cannot be paired with images")
    for (line, cells), (_, name) in zip(rows, names):
        origin = f"{marks_path.name} row {line} ({name})"
        norm = _numbers(cells, origin)

        def resolve(info: ImageInfo, norm: np.ndarray = norm) -> tuple[np.ndarray, np.ndarray]:
            return norm * np.array([info.width, info.height], dtype=np.float64), np.ones(N, dtype=bool)

        yield LabelRecord(origin, [name], schema=schema, resolve=resolve)
