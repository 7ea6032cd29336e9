"""The study store: one SQLite file (``*.vamstudy``) per study.

Every finished edit is one transaction, committed at once (WAL journal), so a crash loses
at most the drag in progress. Images are referenced by a path relative to the study file
plus a content hash; a missing or moved image is reported and can be relocated, never fatal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from vam_gui import __version__
from vam_gui.core.annotation import Annotation, PointState, ReviewState
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.schema import Schema, SchemaError, load_schema
from vam_gui.io.files import file_sha256, files_in
from vam_gui.io.study_db import APPLICATION_ID, SCHEMA_VERSION, migrate

if TYPE_CHECKING:
    from vam_gui.core.prediction import Prediction
    from vam_gui.core.radiograph import Radiograph
    from vam_gui.core.store import StudyStore
    from vam_gui.io.radiograph import RadiographError

SUFFIX = ".vamstudy"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StudyError(Exception):
    """A study file that cannot be created, opened or changed as asked."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(self.path, reason)

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")




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

    @property
    def file_name(self) -> str:
        return Path(self.rel_path).name


@dataclass(frozen=True)
class StoredPrediction:
    xy: np.ndarray
    confidence: np.ndarray
    spread: np.ndarray
    model_id: str
    created_at: str
    letterbox: Letterbox


@dataclass(frozen=True)
class EditLogEntry:
    id: int
    group: int
    at: str
    user: str
    image_id: str
    kind: str
    label: str
    point: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)  # image ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[str] = field(default_factory=list)  # paths already in the study


def _expand(paths: Iterable[str | os.PathLike[str]], recursive: bool) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            files.extend(files_in(p, recursive=recursive, accept=lambda f: SUFFIX not in f.name))
        else:
            files.append(p)
    return files


class Study:
    """An open study file. Use ``Study.create`` or ``Study.open``; close it (or use ``with``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()  # inference workers save predictions from other threads
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        try:
            self.schema: Schema = Schema.from_json(meta["schema"], source=f"{path.name} (study schema)")
        except (KeyError, SchemaError) as exc:
            raise StudyError(path, f"damaged study file: bad keypoint schema ({exc})") from None
        self.study_uid = meta.get("study_uid", "")
        self._row_ids: dict[str, int] = {}

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | os.PathLike[str], schema: str | Schema = "lumbar-ap-20") -> Study:
        """A new, empty study. The file appears complete or not at all (built under a
        temporary name, then renamed)."""
        path = Path(path)
        if path.exists():
            raise StudyError(path, "already exists; open it instead")
        if not path.parent.is_dir():
            raise StudyError(path, f"folder {path.parent} does not exist")
        schema_obj = schema if isinstance(schema, Schema) else load_schema(schema)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            migrate(conn)
            conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [
                ("schema", schema_obj.to_json()),
                ("study_uid", uuid.uuid4().hex),
                ("created_at", now_iso()),
                ("created_by", f"vam-gui {__version__}"),
            ])
            conn.close()
            os.replace(tmp, path)
        except BaseException:
            conn.close()
            tmp.unlink(missing_ok=True)
            raise
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Study:
        """Open an existing study. A file that is not a study, a damaged one, or one from a
        newer version is a StudyError, and the file is left as it was."""
        path = Path(path)
        if not path.is_file():
            raise StudyError(path, "no such study file")
        with open(path, "rb") as f:
            head = f.read(16)
        if head != _SQLITE_MAGIC:
            raise StudyError(path, "not a vam-gui study (not an SQLite database)")
        cls._inspect_read_only(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # FULL: every commit is on disk before apply_edit returns, so even a power cut
            # keeps every finished edit (NORMAL would be safe against an application crash
            # only). It costs one fsync per edit, well under the 5 ms an edit may take.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 5000")
            migrate(conn)
            return cls(path, conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StudyError(path, f"cannot open the study ({exc})") from None

    @staticmethod
    def _inspect_read_only(path: Path) -> None:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise StudyError(path, f"cannot open the study ({exc})") from None
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StudyError(path, "not a vam-gui study (an SQLite database of another application)")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StudyError(path, f"made by a newer vam-gui (study format {version}, "
                                       f"this version reads up to {SCHEMA_VERSION})")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise StudyError(path, f"damaged study file (integrity check: {check[0][0]})")
        except sqlite3.DatabaseError as exc:
            raise StudyError(path, f"damaged study file ({exc})") from None
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def folder(self) -> Path:
        return self.path.resolve().parent

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StudyError(self.path, "the study is closed")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                raise StudyError(self.path, "the study is closed")
            return self._conn.execute(sql, params).fetchall()

    def _row(self, image_id: str) -> int:
        rid = self._row_ids.get(image_id)
        if rid is None:
            rows = self._query("SELECT id FROM images WHERE image_id = ?", (image_id,))
            if not rows:
                raise KeyError(f"no image {image_id!r} in {self.path.name}")
            rid = self._row_ids[image_id] = rows[0][0]
        return rid

    # ----------------------------------------------------------------- images
    def add_images(self, paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> AddReport:
        """Add image files and folders (recursively). Files that are not readable
        radiographs are skipped and reported, as are images already in the study."""
        from vam_gui.io.radiograph import RadiographError, load_radiograph

        files = _expand(paths, recursive)
        report = AddReport()
        known = set(self.image_ids())
        for n, file in enumerate(files, 1):
            if cancel is not None and cancel():
                break
            self._add_one(file, known, report, load_radiograph, RadiographError)
            if progress is not None:
                progress(n, len(files))
        return report

    def _add_one(self, file: Path, known: set[str], report: AddReport, load: Callable[[Path], Radiograph],
                 error_type: type[RadiographError]) -> None:
        try:
            rad = load(file)
        except error_type as exc:
            report.skipped.append((str(file), exc.reason))
            return
        if rad.image_id in known:
            report.duplicates.append(str(file))
            return
        self._insert_image(file, rad)
        known.add(rad.image_id)
        report.added.append(rad.image_id)

    def _relative(self, file: Path) -> str:
        try:
            return Path(os.path.relpath(file.resolve(), self.folder)).as_posix()
        except ValueError:  # another drive on Windows: keep it absolute
            return file.resolve().as_posix()

    def _insert_image(self, file: Path, rad: Radiograph) -> None:
        spacing = rad.spacing or (None, None)
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO images(image_id, rel_path, content_hash, width, height, spacing_y, spacing_x,"
                " spacing_is_detector, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rad.image_id, self._relative(file), file_sha256(file), int(rad.pixels.shape[1]),
                 int(rad.pixels.shape[0]), spacing[0], spacing[1], int(rad.spacing_is_detector), now_iso()),
            )
            conn.executemany("INSERT INTO points(image, idx) VALUES (?, ?)",
                             [(cur.lastrowid, i) for i in range(self.schema.k)])

    def image_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT image_id FROM images ORDER BY id")]

    def _info(self, row: tuple[Any, ...]) -> ImageInfo:
        (image_id, rel, digest, w, h, sy, sx, det, facing, status, comment, reviewer, worst, spread) = row
        return ImageInfo(image_id, rel, digest, w, h, None if sy is None else (sy, sx), bool(det),
                         facing, status, comment, reviewer, worst, spread)

    _INFO_SQL = ("SELECT i.image_id, i.rel_path, i.content_hash, i.width, i.height, i.spacing_y, i.spacing_x,"
                 " i.spacing_is_detector, i.facing, i.status, i.comment, i.reviewer, p.worst_confidence, p.max_spread"
                 " FROM images i LEFT JOIN predictions p ON p.image = i.id")

    def image_info(self, image_id: str) -> ImageInfo:
        rows = self._query(self._INFO_SQL + " WHERE i.image_id = ?", (image_id,))
        if not rows:
            raise KeyError(f"no image {image_id!r} in {self.path.name}")
        return self._info(rows[0])

    def list_images(self) -> list[ImageInfo]:
        """Every image with status, reviewer and worst confidence, in the order added."""
        return [self._info(r) for r in self._query(self._INFO_SQL + " ORDER BY i.id")]

    def counts_by_status(self) -> dict[str, int]:
        counts = {s: 0 for s in ("unreviewed", "in_progress", "accepted", "flagged")}
        counts.update(dict(self._query("SELECT status, COUNT(*) FROM images GROUP BY status")))
        return counts

    def image_path(self, image_id: str) -> Path:
        rel = Path(self.image_info(image_id).rel_path)
        return rel if rel.is_absolute() else self.folder / rel

    def missing_images(self) -> list[str]:
        return [i for i in self.image_ids() if not self.image_path(i).is_file()]

    def relocate(self, image_id: str, new_path: str | os.PathLike[str]) -> None:
        """Point an image at a new file; the content must be the same (hash checked)."""
        new_path = Path(new_path)
        info = self.image_info(image_id)
        if not new_path.is_file():
            raise StudyError(self.path, f"cannot relocate to {new_path}: no such file")
        if file_sha256(new_path) != info.content_hash:
            raise StudyError(self.path, f"{new_path.name} is not the same image as {info.file_name} "
                                        "(content differs)")
        with self._transaction() as conn:
            conn.execute("UPDATE images SET rel_path = ? WHERE id = ?", (self._relative(new_path),
                                                                         self._row(image_id)))

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

    def load_radiograph(self, image_id: str) -> Radiograph:
        from vam_gui.io.radiograph import load_radiograph

        return load_radiograph(self.image_path(image_id))

    def set_facing(self, image_id: str, facing: str | None) -> None:
        if facing not in (None, "left", "right"):
            raise ValueError(f"facing must be 'left', 'right' or None, got {facing!r}")
        with self._transaction() as conn:
            conn.execute("UPDATE images SET facing = ? WHERE id = ?", (facing, self._row(image_id)))

    # ----------------------------------------------------------------- predictions
    def save_prediction(self, image_id: str, prediction: Prediction, *, seed_annotation: bool = True) -> None:
        """Store the latest prediction of an image. While nobody has edited the image
        (unreviewed, every point unset or still as predicted), the annotation follows it."""
        k = self.schema.k
        xy = np.asarray(prediction.xy, dtype=np.float64).reshape(k, 2)
        conf = np.asarray(prediction.confidence, dtype=np.float32).reshape(k)
        spread = np.asarray(prediction.spread, dtype=np.float32).reshape(k)
        rid = self._row(image_id)
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO predictions(image, model_id, created_at, xy, confidence, spread,"
                " letterbox, worst_confidence, max_spread) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, prediction.model_id, now_iso(), xy.tobytes(), conf.tobytes(), spread.tobytes(),
                 json.dumps(prediction.letterbox.to_dict()), float(np.nanmin(conf)) if k else None,
                 float(np.nanmax(spread)) if k and np.isfinite(spread).any() else None),
            )
            if prediction.heatmaps is not None:
                maps = np.asarray(prediction.heatmaps)
                quantised = np.rint(np.clip(maps, 0, 1) * 255).astype(np.uint8)
                # "size" is the maps' width; their height follows from the byte count (maps of
                # a film-shaped input are H x W, older square ones S x S).
                conn.execute("INSERT OR REPLACE INTO heatmaps(image, k, size, data) VALUES (?, ?, ?, ?)",
                             (rid, maps.shape[0], maps.shape[-1], zlib.compress(quantised.tobytes(), 1)))
            else:
                conn.execute("DELETE FROM heatmaps WHERE image = ?", (rid,))
            if not seed_annotation:
                return
            status = conn.execute("SELECT status FROM images WHERE id = ?", (rid,)).fetchone()[0]
            sources = {r[0] for r in conn.execute("SELECT source FROM points WHERE image = ?", (rid,))}
            if status == "unreviewed" and sources <= {"", "predicted"}:
                conn.executemany(
                    "UPDATE points SET x = ?, y = ?, visible = 1, source = 'predicted' WHERE image = ? AND idx = ?",
                    [(float(x), float(y), rid, i) for i, (x, y) in enumerate(xy)],
                )

    def heatmaps(self, image_id: str) -> np.ndarray | None:
        """The latest prediction's heatmaps as uint8 [K, H, W] (255 = 1.0), for display."""
        rows = self._query("SELECT k, size, data FROM heatmaps WHERE image = ?", (self._row(image_id),))
        if not rows:
            return None
        k, width, data = rows[0]
        return np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(k, -1, width)

    def prediction(self, image_id: str) -> StoredPrediction | None:
        rows = self._query("SELECT xy, confidence, spread, model_id, created_at, letterbox FROM predictions"
                           " WHERE image = ?", (self._row(image_id),))
        if not rows:
            return None
        xy, conf, spread, model_id, created, box = rows[0]
        return StoredPrediction(
            xy=np.frombuffer(xy, dtype=np.float64).reshape(-1, 2).copy(),
            confidence=np.frombuffer(conf, dtype=np.float32).copy(),
            spread=np.frombuffer(spread, dtype=np.float32).copy(),
            model_id=model_id, created_at=created, letterbox=Letterbox.from_dict(json.loads(box)),
        )

    # ----------------------------------------------------------------- annotations and edits
    def annotation(self, image_id: str) -> Annotation:
        rows = self._query("SELECT x, y, visible, source FROM points WHERE image = ? ORDER BY idx",
                           (self._row(image_id),))
        ann = Annotation.empty(self.schema.k)
        for i, (x, y, vis, src) in enumerate(rows):
            ann.xy[i] = (np.nan if x is None else x, np.nan if y is None else y)
            ann.visible[i] = bool(vis)
            ann.source[i] = src
        return ann

    def status(self, image_id: str) -> ReviewState:
        rows = self._query("SELECT status, comment, reviewer FROM images WHERE id = ?", (self._row(image_id),))
        return ReviewState(*rows[0])

    def apply_edit(self, image_id: str, *, user: str, kind: str, label: str = "",
                   points: dict[int, PointState] | None = None, review: ReviewState | None = None) -> int:
        """Set some points and/or the review state of one image in one transaction, and log
        each change (who, when, which point, from -> to). Returns the edit group id."""
        rid = self._row(image_id)
        at = now_iso()
        with self._transaction() as conn:
            grp = conn.execute("SELECT COALESCE(MAX(grp), 0) + 1 FROM edits").fetchone()[0]
            log: list[tuple[int | None, str, str]] = []
            for idx, new in sorted((points or {}).items()):
                if not 0 <= idx < self.schema.k:
                    raise IndexError(f"keypoint index {idx} out of range 0..{self.schema.k - 1}")
                x, y, vis, src = conn.execute("SELECT x, y, visible, source FROM points WHERE image = ? AND idx = ?",
                                              (rid, idx)).fetchone()
                old = PointState(np.nan if x is None else x, np.nan if y is None else y, bool(vis), src)
                conn.execute("UPDATE points SET x = ?, y = ?, visible = ?, source = ? WHERE image = ? AND idx = ?",
                             (None if np.isnan(new.x) else float(new.x), None if np.isnan(new.y) else float(new.y),
                              int(new.visible), new.source, rid, idx))
                log.append((idx, json.dumps(old.to_json()), json.dumps(new.to_json())))
            if review is not None:
                status, comment, reviewer = conn.execute(
                    "SELECT status, comment, reviewer FROM images WHERE id = ?", (rid,)).fetchone()
                conn.execute("UPDATE images SET status = ?, comment = ?, reviewer = ?, status_at = ? WHERE id = ?",
                             (review.status, review.comment, review.reviewer, at, rid))
                log.append((None, json.dumps({"status": status, "comment": comment, "reviewer": reviewer}),
                            json.dumps({"status": review.status, "comment": review.comment,
                                        "reviewer": review.reviewer})))
            conn.executemany(
                "INSERT INTO edits(grp, at, user, image, kind, label, point, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(grp, at, user, rid, kind, label, idx, before, after) for idx, before, after in log],
            )
        return int(grp)

    def edit_log(self, image_id: str | None = None) -> list[EditLogEntry]:
        sql = ("SELECT e.id, e.grp, e.at, e.user, i.image_id, e.kind, e.label, e.point, e.before, e.after"
               " FROM edits e JOIN images i ON i.id = e.image")
        rows = self._query(sql + (" WHERE e.image = ? ORDER BY e.id" if image_id else " ORDER BY e.id"),
                           (self._row(image_id),) if image_id else ())
        return [EditLogEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                             json.loads(r[8]) if r[8] else None, json.loads(r[9]) if r[9] else None)
                for r in rows]

    # ----------------------------------------------------------------- review time
    def begin_view(self, image_id: str, user: str) -> int:
        """Log that an image is shown; returns the view id for ``end_view``."""
        with self._transaction() as conn:
            cur = conn.execute("INSERT INTO views(image, user, shown_at) VALUES (?, ?, ?)",
                               (self._row(image_id), user, now_iso()))
            return int(cur.lastrowid or 0)

    def end_view(self, view_id: int) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE views SET left_at = ? WHERE id = ? AND left_at IS NULL", (now_iso(), view_id))

    def review_seconds(self, image_id: str) -> float:
        """Total time the image was shown (closed views only)."""
        total = 0.0
        for shown, left in self._query("SELECT shown_at, left_at FROM views WHERE image = ? AND left_at IS NOT NULL",
                                       (self._row(image_id),)):
            total += (datetime.fromisoformat(left) - datetime.fromisoformat(shown)).total_seconds()
        return total



if TYPE_CHECKING:
    def _is_a_study_store(study: Study) -> StudyStore:
        return study  # mypy: Study implements the store interface core and io are written against


def bench_edit_latency(folder: str | os.PathLike[str], repeats: int = 200,
                       log_rows: int = 300_000) -> dict[str, float]:
    """Median wall time of one committed single-point edit (for ``vam-gui bench``): in a fresh
    study and in one whose edit log already holds ``log_rows`` rows, timed alternately."""
    import cv2

    folder = Path(folder)
    image = folder / "bench-edit.png"
    cv2.imwrite(str(image), np.zeros((64, 48), np.uint8))
    studies = []
    for name in ("bench-edit-empty", "bench-edit-long"):
        study = Study.create(folder / f"{name}.vamstudy")
        study.add_images([image])
        studies.append(study)
    long = studies[1]
    with long._transaction() as conn:  # a long review's log, written in one go
        rid = long._row(long.image_ids()[0])
        conn.executemany("INSERT INTO edits(grp, at, user, image, kind, point, before, after)"
                         " VALUES (?, 'then', 'bench', ?, 'move', 0, NULL, NULL)",
                         ((g, rid) for g in range(1, log_rows + 1)))
    times: list[list[float]] = [[], []]
    try:
        for i in range(repeats):
            state = PointState(float(i % 50), float(i % 70), True, "moved")
            for n, study in enumerate(studies):
                image_id = study.image_ids()[0]
                t0 = time.perf_counter()
                study.apply_edit(image_id, user="bench", kind="move", points={0: state})
                times[n].append(time.perf_counter() - t0)
    finally:
        for study in studies:
            study.close()
    empty, full = (float(np.median(t) * 1e3) for t in times)
    return {"edit_commit_ms_median": empty, "edit_commit_ms_median_300k_log": full,
            "edit_commit_ratio_300k_log": full / empty}
