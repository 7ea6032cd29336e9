"""What every importer shares: parsed label records, matching them to the study's images,
checking every record (points inside their image, schema conversion), and only then writing
them all through one ``study.apply_edits(kind="import")``: one store transaction, each image
its own logged edit group, so a failed write (a full disk, the lock lost) leaves none of them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.schema import Schema
from vam_gui.io.export.pseudonyms import content_key, image_pseudonym
from vam_gui.io.files import files_in
from vam_gui.io.importers.convert import LabelImportError, convert_points, located, one_line

if TYPE_CHECKING:
    from vam_gui.io.study import ImageEdit, ImageInfo, Study

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
IMPORTED = "imported"


@dataclass
class ImportReport:
    format: str
    imported: list[str] = field(default_factory=list)  # study image ids, in import order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where the labels came from, why)


@dataclass
class LabelRecord:
    """The labels of one image as read from a file, before matching and conversion."""

    origin: str  # the label file (and row / entry), for the report
    keys: list[str]  # file names or stems to find the image by, most specific first
    schema: Schema | None = None  # the labels' own schema (converted to the study's)
    xy: np.ndarray | None = None  # [schema.k, 2] original pixels, NaN = missing
    visible: np.ndarray | None = None  # [schema.k]
    sources: list[str] | None = None  # kept (our JSON); None: every point becomes "imported"
    review: ReviewState | None = None  # our JSON: the status it carries
    facing: str | None = None
    pseudonym: str | None = None  # our exports: the image's pseudonym
    content_key: tuple[str, str] | None = None  # (salt, key) of our JSON
    # Labels whose pixels depend on the matched image (normalised coordinates, the side the
    # patient faces): info -> (xy, visible) in ``schema``.
    resolve: Callable[[ImageInfo], tuple[np.ndarray, np.ndarray]] | None = None
    error: str | None = None  # unreadable: reported as skipped


class ImageMatcher:
    """Finds a study image by the names a label file gives it."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.infos = {info.image_id: info for info in study.list_images()}
        self._by_name: dict[str, list[str]] = {}
        self._by_lower: dict[str, list[str]] = {}
        self._by_stem: dict[str, list[str]] = {}
        self._by_pseudonym: dict[str, str] = {}
        for image_id, info in self.infos.items():
            name = PurePath(info.rel_path).name
            self._by_name.setdefault(name, []).append(image_id)
            self._by_lower.setdefault(name.lower(), []).append(image_id)
            self._by_stem.setdefault(PurePath(name).stem.lower(), []).append(image_id)
            self._by_pseudonym[image_pseudonym(study.study_uid, image_id)] = image_id
        self._content: dict[str, dict[str, str]] = {}  # salt -> key -> image id

    def _by_content(self, salt: str, key: str) -> str | None:
        table = self._content.get(salt)
        if table is None:
            table = self._content[salt] = {content_key(salt, info.content_hash): image_id
                                           for image_id, info in self.infos.items()}
        return table.get(key)

    def find(self, record: LabelRecord) -> tuple[str | None, str]:
        """(image id, "") or (None, why not)."""
        if record.pseudonym and record.pseudonym in self._by_pseudonym:
            return self._by_pseudonym[record.pseudonym], ""
        if record.content_key is not None:
            found = self._by_content(*record.content_key)
            if found is not None:
                return found, ""
        for key in record.keys:
            name = PurePath(key).name
            for table, k in ((self._by_name, name), (self._by_lower, name.lower()),
                             (self._by_stem, PurePath(name).stem.lower()), (self._by_stem, name.lower())):
                ids = table.get(k)
                if ids:
                    if len(ids) > 1:
                        return None, f"{name!r} matches {len(ids)} images of the study"
                    return ids[0], ""
            if key in self._by_pseudonym:
                return self._by_pseudonym[key], ""
        shown = record.keys[0] if record.keys else record.origin
        return None, f"no image of the study matches {PurePath(shown).name!r}"


def expand(paths: Iterable[str | os.PathLike[str]], suffixes: tuple[str, ...]) -> list[Path]:
    """Files as given, folders searched (recursively) for files with these suffixes."""
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            files.extend(files_in(p, accept=lambda f: f.name.lower().endswith(suffixes)))
        elif p.is_file():
            files.append(p)
        else:
            raise LabelImportError(f"{p}: no such file or folder")
    return files


MARGIN = 0.05  # a point may lie this fraction of the image's width / height outside it


@dataclass
class _Write:
    """One image's checked labels, ready to be written."""

    image_id: str
    origin: str
    points: dict[int, PointState]
    review: ReviewState | None
    facing: str | None


def check_inside(xy: np.ndarray, schema: Schema, info: ImageInfo, where: str) -> None:
    """Every placed point within the image, give or take MARGIN of its size (a point far
    outside is a wrong unit or a wrong image, never a landmark)."""
    size = np.array([info.width, info.height], dtype=np.float64)
    lo, hi = -0.5 - MARGIN * size, size - 0.5 + MARGIN * size
    placed = np.isfinite(xy).all(axis=1)
    outside = placed & ((xy < lo) | (xy > hi)).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise LabelImportError(
            f"{where}: keypoint {schema.keypoints[i]!r} at ({xy[i, 0]:.6g}, {xy[i, 1]:.6g}) lies outside "
            f"the {info.width} x {info.height} image {info.file_name!r} by more than {MARGIN:.0%} of its size")


def _points(record: LabelRecord, info: ImageInfo, study_schema: Schema) -> dict[int, PointState]:
    xy: np.ndarray | None
    visible: np.ndarray | None
    if record.resolve is not None:
        xy, visible = record.resolve(info)
    else:
        xy, visible = record.xy, record.visible
    if record.schema is None or xy is None or visible is None:
        raise LabelImportError(f"{record.origin}: the record holds no labels")
    check_inside(xy, record.schema, info, record.origin)
    try:
        converted = convert_points(xy, visible, record.schema, study_schema, record.sources)
    except LabelImportError as exc:
        raise located(exc, record.origin) from None
    points: dict[int, PointState] = {}
    for idx, (x, y, vis, src) in converted.items():
        placed = bool(np.isfinite(x) and np.isfinite(y))
        points[idx] = PointState(x, y, vis and placed, src if src is not None else IMPORTED)
    return points


def _plan(study: Study, records: Iterable[LabelRecord], report: ImportReport,
          cancel: Cancel | None) -> list[_Write]:
    """Match and check every record; LabelImportError (before anything is written) for the
    first that cannot be imported. Records that match no image, or an image already labelled
    by this import, or files that are not of the format, go to ``report.skipped``."""
    matcher = ImageMatcher(study)
    done: dict[str, str] = {}  # image id -> origin
    writes: list[_Write] = []
    for record in records:
        check_cancel(cancel)
        if record.error:
            report.skipped.append((one_line(record.origin), one_line(record.error)))
            continue
        image_id, why = matcher.find(record)
        if image_id is None:
            report.skipped.append((one_line(record.origin), one_line(why)))
            continue
        if image_id in done:
            report.skipped.append((one_line(record.origin),
                                   one_line(f"its image already has labels from {done[image_id]}")))
            continue
        points = _points(record, matcher.infos[image_id], study.schema)
        done[image_id] = record.origin
        writes.append(_Write(image_id, record.origin, points, record.review, record.facing))
    return writes


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise InterruptedError("import cancelled")


def _edits(writes: list[_Write], reader: str | None) -> list[ImageEdit]:
    from vam_gui.core.annotation import ReviewState
    from vam_gui.io.study import UNCHANGED, ImageEdit

    # a reader's imported labels are a finished reading (accepted: kept as their blind reading)
    return [ImageEdit(w.image_id, w.points, ReviewState("accepted", None, reader) if reader else w.review,
                      UNCHANGED if w.facing is None else w.facing)
            for w in writes]


def apply_records(study: Study, records: Iterable[LabelRecord], fmt: str, *, user: str,
                  progress: Progress | None = None, cancel: Cancel | None = None,
                  reader: str | None = None) -> ImportReport:
    """Match and check every record, then write them all in one store transaction, each image
    one logged "import" edit.

    All or nothing: the first record that cannot be imported raises LabelImportError before
    anything is written, and a failed store write (StudyWriteError, one line) rolls back every
    image. A cancel is heard until the writing starts. ``progress(done, total)`` counts the
    images written: (0, total) before the write, (total, total) once it is committed.

    ``reader``: the labels are that reader's annotations (a reader study, io/study_readers.py),
    written as their accepted blind reading (or their revised one where the blind one is
    already accepted); the consensus is not touched."""
    report = ImportReport(fmt)
    writes = _plan(study, records, report, cancel)
    check_cancel(cancel)
    if progress is not None:
        progress(0, len(writes))
    # The checks above make a failure here an IO error of the store, never a bad record.
    study.apply_edits(_edits(writes, reader), user=user, kind="import", label=f"import {fmt} labels",
                      reader=reader)
    report.imported.extend(w.image_id for w in writes)
    if progress is not None:
        progress(len(writes), len(writes))
    return report
