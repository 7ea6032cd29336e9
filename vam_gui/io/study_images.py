"""The study's images: adding, listing, finding moved files, per-image facts.

Images are referenced by a path relative to the study file plus a content hash; a missing or
moved image is reported and can be relocated, never fatal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vam_gui.core.annotation import STATUSES
from vam_gui.io.files import file_sha256, files_in
from vam_gui.io.study_add import Probe, relative_path
from vam_gui.io.study_base import StudyConnection, is_real, now_iso
from vam_gui.io.study_db import DICOM_FROM, FIGURES_FROM
from vam_gui.io.study_dicom import dicom_from_json, dicom_json
from vam_gui.io.study_errors import StudyError, StudyWriteError
from vam_gui.io.study_figures import refresh_flags

if TYPE_CHECKING:
    from vam_gui.core.radiograph import Radiograph

SUFFIX = ".vamstudy"
ADD_BATCH = 512  # at most this many images per transaction of add_images (one fsync each, not one per image)
ADD_BATCH_SECONDS = 1.0  # and a transaction at least this often while files are read (slow reads lose little)
PROGRESS_EVERY = 16  # files between two progress calls of add_images
# ordered_image_ids: the name asked for -> its column
_ORDERS = {"worst_confidence": "worst_confidence", "max_spread": "max_spread", "flags": "flags",
           "status": "status", "added": "id"}


@dataclass(frozen=True)
class ImageInfo:
    image_id: str
    rel_path: str
    content_hash: str
    width: int
    height: int
    spacing: tuple[float, float] | None
    spacing_is_detector: bool
    facing: str | None
    status: str
    comment: str | None
    reviewer: str | None
    worst_confidence: float | None = None
    max_spread: float | None = None
    flags: int | None = None  # anatomical-check flags of the current points; None: not stored (format < 5)
    # a DICOM image's patient / study / series / view attributes (keyword -> text; io/study_dicom.py);
    # None: not a DICOM image, not read yet, or a format older than 6
    dicom: dict[str, str] | None = field(default=None, hash=False)

    @property
    def file_name(self) -> str:
        return Path(self.rel_path).name


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)  # image ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[str] = field(default_factory=list)  # paths already in the study


def _listed(f: Path) -> bool:
    # a DICOMDIR inside a folder lists files that folder holds anyway: not an image itself
    return SUFFIX not in f.name and f.name.upper() != "DICOMDIR"


def _expand(paths: Iterable[str | os.PathLike[str]], recursive: bool, report: AddReport) -> list[Path]:
    """The files to add: folders expanded, a DICOMDIR given as a file replaced by the images it
    references (an unreadable one is reported as skipped)."""
    from vam_gui.io.dicom_identity import dicomdir_files, is_dicomdir

    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            files.extend(files_in(p, recursive=recursive, accept=_listed))
        elif p.is_file() and is_dicomdir(p):
            listed = dicomdir_files(p)
            if isinstance(listed, str):
                report.skipped.append((str(p), listed))
            else:
                files.extend(listed)
        else:
            files.append(p)
    return files


def _optional_text(*values: object) -> bool:
    return all(v is None or isinstance(v, str) for v in values)


def _image_problem(row: tuple[Any, ...]) -> str | None:
    """What is wrong with an images row as read by _INFO_SQL, or None."""
    _, image_id, rel, digest, w, h, sy, sx, det, facing, status, comment, reviewer = row[:13]
    if not all(isinstance(v, str) for v in (image_id, rel, digest)):
        return "image_id, rel_path or content_hash is not text"
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
        return f"size {w!r} x {h!r} is not two positive whole numbers"
    if not ((sy is None and sx is None) or all(is_real(v) and v > 0 for v in (sy, sx))):
        return f"spacing {sy!r}, {sx!r} is not two positive numbers"
    if det not in (0, 1) or facing not in (None, "left", "right"):
        return f"spacing_is_detector {det!r} or facing {facing!r} is not one of the known values"
    if status not in STATUSES:
        return f"unknown status {status!r}"
    if not _optional_text(comment, reviewer):
        return "comment or reviewer is not text"
    return None


class StudyImages(StudyConnection):
    """Images of a study (mixed into ``Study``)."""

    def add_images(self, paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None, workers: int | None = None) -> AddReport:
        """Add image files, folders (recursively) and DICOMDIRs (the images they reference;
        a DICOM image keeps its patient / study / series / view attributes). Files that are not readable
        radiographs are skipped and reported, as are images already in the study. Files are
        read and hashed by ``workers`` threads (default: one per core, at most 4) and written
        up to ADD_BATCH images per transaction (and one at least every ADD_BATCH_SECONDS): a
        failed write (StudyWriteError) keeps the batches committed before it; ``cancel`` keeps
        what was read before it turned true. ``progress(done, total)`` is called every
        PROGRESS_EVERY files and after the last."""
        from vam_gui.io.study_add import probed

        self._refuse_if_read_only()
        report = AddReport()
        files = _expand(paths, recursive, report)
        known = set(self.image_ids())
        batch: list[Probe] = []
        committed = time.monotonic()
        with probed(files, self.folder, workers=workers) as results:
            for n, (file, probe) in enumerate(results, 1):
                if cancel is not None and cancel():
                    break
                if isinstance(probe, str):
                    report.skipped.append((str(file), probe))
                elif probe.image_id in known:
                    report.duplicates.append(str(file))
                else:
                    known.add(probe.image_id)
                    batch.append(probe)
                if len(batch) >= ADD_BATCH or n == len(files) or time.monotonic() - committed >= ADD_BATCH_SECONDS:
                    self._insert_batch(batch, report)
                    batch, committed = [], time.monotonic()
                if progress is not None and (n % PROGRESS_EVERY == 0 or n == len(files)):
                    progress(n, len(files))
        self._insert_batch(batch, report)  # cancelled part-way: what was read is kept
        return report

    def _insert_batch(self, batch: list[Probe], report: AddReport) -> None:
        """The images read, in one transaction (their K point rows with each)."""
        if not batch:
            return
        at = now_iso()
        try:
            with self._transaction() as conn:
                rids = []
                dicom = []
                for p in batch:
                    spacing = p.spacing or (None, None)
                    rids.append(conn.execute(
                        "INSERT INTO images(image_id, rel_path, content_hash, width, height, spacing_y, spacing_x,"
                        " spacing_is_detector, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (p.image_id, p.rel_path, p.content_hash, p.width, p.height, spacing[0], spacing[1],
                         int(p.spacing_is_detector), at)).lastrowid)
                    if p.dicom is not None:
                        dicom.append((rids[-1], dicom_json(p.dicom)))
                conn.executemany("INSERT INTO points(image, idx) VALUES (?, ?)",
                                 [(rid, i) for rid in rids for i in range(self.schema.k)])
                conn.executemany("INSERT INTO image_dicom(image, attributes) VALUES (?, ?)", dicom)
        except StudyWriteError as exc:
            reason = exc.reason.removesuffix("; nothing was changed")
            raise StudyWriteError(self.path, f"{reason}; {batch[0].file.name} and the files after it were not "
                                             f"added ({len(report.added)} added before it are kept)") from exc
        report.added.extend(p.image_id for p in batch)

    def _relative(self, file: Path) -> str:
        return relative_path(file, self.folder)

    def image_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT image_id FROM images ORDER BY id")]

    def _info(self, row: tuple[Any, ...]) -> ImageInfo:
        problem = _image_problem(row)
        if problem is not None:
            raise self._damaged("images", row[0], problem)
        (_, image_id, rel, digest, w, h, sy, sx, det, facing, status, comment, reviewer, worst, spread, flags,
         dicom) = row
        if not all(v is None or is_real(v) for v in (worst, spread)):
            raise self._damaged("images" if self.format_version >= FIGURES_FROM else "predictions", row[0],
                                f"worst_confidence {worst!r} or max_spread {spread!r} is not a number")
        if not (flags is None or (isinstance(flags, int) and not isinstance(flags, bool) and flags >= 0)):
            flags = None  # not known: count_flags recounts it
        return ImageInfo(image_id, rel, digest, w, h, None if sy is None else (sy, sx), bool(det),
                         facing, status, comment, reviewer, worst, spread, flags, dicom_from_json(dicom))

    def _info_sql(self) -> str:
        columns = ("SELECT i.id, i.image_id, i.rel_path, i.content_hash, i.width, i.height, i.spacing_y,"
                   " i.spacing_x, i.spacing_is_detector, i.facing, i.status, i.comment, i.reviewer,")
        if self.format_version >= DICOM_FROM:
            return columns + (" i.worst_confidence, i.max_spread, i.flags, d.attributes FROM images i"
                              " LEFT JOIN image_dicom d ON d.image = i.id")
        if self.format_version >= FIGURES_FROM:  # the figures are the image's own: no join; read-only
            return columns + " i.worst_confidence, i.max_spread, i.flags, NULL FROM images i"
        spread = "p.max_spread" if self.format_version >= 2 else "NULL"  # format 1, read-only
        return columns + (f" p.worst_confidence, {spread}, NULL, NULL FROM images i"
                          " LEFT JOIN predictions p ON p.image = i.id")

    def image_info(self, image_id: str) -> ImageInfo:
        rows = self._query(self._info_sql() + " WHERE i.image_id = ?", (image_id,))
        if not rows:
            raise KeyError(f"no image {image_id!r} in {self.path.name}")
        return self._info(rows[0])

    def list_images(self) -> list[ImageInfo]:
        """Every image with status, reviewer and worst confidence, in the order added."""
        return [self._info(r) for r in self._query(self._info_sql() + " ORDER BY i.id")]

    def stored_flags(self) -> dict[str, int | None] | None:
        """Every image's stored flag count in one query (None where not known); None for a
        file older than format 5 (opened read-only), which stores none."""
        if self.format_version < FIGURES_FROM:
            return None
        return {i: (n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None)
                for i, n in self._query("SELECT image_id, flags FROM images")}

    def ordered_image_ids(self, by: str = "worst_confidence", *, descending: bool = False) -> list[str]:
        """Image ids sorted in SQL by a figure (``worst_confidence``, ``max_spread``, ``flags``),
        ``status`` or ``added`` (the study order); images without the figure last, ties in
        study order. Format 5 on (older files are sorted in Python from ``list_images``)."""
        if by not in _ORDERS:
            raise ValueError(f"cannot sort by {by!r}; one of {', '.join(_ORDERS)}")
        if self.format_version < FIGURES_FROM:
            infos = self.list_images()
            if by == "added":
                ids = [i.image_id for i in infos]
                return ids[::-1] if descending else ids
            known = sorted((i for i in infos if getattr(i, by) is not None), key=lambda i: getattr(i, by),
                           reverse=descending)  # stable: ties stay in study order
            return [i.image_id for i in known] + [i.image_id for i in infos if getattr(i, by) is None]
        column = _ORDERS[by]
        return [r[0] for r in self._query(f"SELECT image_id FROM images ORDER BY {column} IS NULL,"
                                          f" {column} {'DESC' if descending else 'ASC'}, id")]

    def counts_by_status(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for status, n in self._query("SELECT status, COUNT(*) FROM images GROUP BY status"):
            if status not in counts:
                rid = self._query("SELECT id FROM images WHERE status IS ? LIMIT 1", (status,))[0][0]
                raise self._damaged("images", rid, f"unknown status {status!r}")
            counts[status] = n
        return counts

    def image_path(self, image_id: str, *, info: ImageInfo | None = None) -> Path:
        """Where the image's file is; ``info``: its row, when the caller has read it already."""
        if info is not None and info.image_id != image_id:
            raise ValueError(f"the row of {info.image_id!r} given for {image_id!r}")
        rel = Path((info or self.image_info(image_id)).rel_path)
        return rel if rel.is_absolute() else self.folder / rel

    def missing_images(self, cancel: Callable[[], bool] | None = None) -> list[str]:
        """The images whose file is not where the study has it: one query, then a file check
        each (run it in a worker for a large study); ``cancel`` stops early (what was found)."""
        folder, missing = self.folder, []
        for image_id, rel in self._query("SELECT image_id, rel_path FROM images ORDER BY id"):
            if cancel is not None and cancel():
                break
            path = Path(rel)
            if not (path if path.is_absolute() else folder / path).is_file():
                missing.append(image_id)
        return missing

    def image_ids_with_status(self, status: str) -> list[str]:
        """The images of one review status, in study order (one query)."""
        return [r[0] for r in self._query("SELECT image_id FROM images WHERE status = ? ORDER BY id", (status,))]

    def relocate(self, image_id: str, new_path: str | os.PathLike[str]) -> None:
        """Point an image at a new file; the content must be the same (hash checked)."""
        self._refuse_if_read_only()
        new_path = Path(new_path)
        info = self.image_info(image_id)
        if not new_path.is_file():
            raise StudyError(self.path, f"cannot relocate to {new_path}: no such file")
        if file_sha256(new_path) != info.content_hash:
            raise StudyError(self.path, f"{new_path.name} is not the same image as {info.file_name} "
                                        "(content differs)")
        rel = self._relative(new_path)
        with self._transaction() as conn:
            conn.execute("UPDATE images SET rel_path = ? WHERE id = ?", (rel, self._row(image_id)))

    def relocate_folder(self, folder: str | os.PathLike[str]) -> list[str]:
        """Search ``folder`` (recursively) for the missing images, matching by content hash;
        returns the ids relocated."""
        missing = {self.image_info(i).content_hash: i for i in self.missing_images()}
        wanted_names = {self.image_info(i).file_name for i in missing.values()}
        found: list[str] = []
        candidates = files_in(folder, hidden=True)  # sorted: the same file wins on every run
        # Same-name files first: hashing every file of a large folder is the slow path.
        candidates.sort(key=lambda p: p.name not in wanted_names)
        for path in candidates:
            if not missing:
                break
            digest = file_sha256(path)
            if digest in missing:
                image_id = missing.pop(digest)
                self.relocate(image_id, path)
                found.append(image_id)
        return found

    def load_radiograph(self, image_id: str, *, info: ImageInfo | None = None,
                        decoded: Radiograph | None = None) -> Radiograph:
        """The image's pixels; a DICOM image of a study migrated from format 5 gets its stored
        attributes now (study_dicom.py). ``info``: the image's row, when the caller has read it
        already (the window reads it once per switch); ``decoded``: the image's file read
        already (the window's read-ahead, gui/read_ahead.py), which is then not read again. A
        raster file is not hashed: the radiograph carries the study's id for it."""
        from vam_gui.io.radiograph import load_radiograph

        rad = (decoded if decoded is not None
               else load_radiograph(self.image_path(image_id, info=info), known_id=image_id))
        self._fill_dicom(image_id, rad)
        return rad

    def _fill_dicom(self, image_id: str, rad: Radiograph) -> bool:
        return False  # StudyDicom stores the attributes

    def set_facing(self, image_id: str, facing: str | None) -> None:
        if facing not in (None, "left", "right"):
            raise ValueError(f"facing must be 'left', 'right' or None, got {facing!r}")
        rid = self._row(image_id)
        with self._transaction() as conn:
            conn.execute("UPDATE images SET facing = ? WHERE id = ?", (facing, rid))
            refresh_flags(conn, self.schema, rid)  # the side changes which checks apply
