"""Annotations, review states, the edit log and the view log of a study.

Every finished edit is one transaction, committed at once, that also logs each change (who,
when, which point, from -> to); the log only grows. The view log times how long each image is
shown.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

import numpy as np

from vam_gui.core.annotation import SOURCES, STATUSES, Annotation, PointState, ReviewState
from vam_gui.io.study_base import is_real, now_iso
from vam_gui.io.study_figures import refresh_flags
from vam_gui.io.study_readers import StudyReaders


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
    reading: str | None = None  # a reader's edit: the phase ("blind", "revised"); None: the consensus


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED  # ImageEdit.facing: leave the image's facing as it is
FACINGS = (None, "left", "right")


@dataclass(frozen=True)
class ImageEdit:
    """What ``Study.apply_edits`` writes to one image: some points, the review state and the
    side the patient faces (``None`` clears it; ``UNCHANGED``, the default, leaves it)."""

    image_id: str
    points: dict[int, PointState] | None = None
    review: ReviewState | None = None
    facing: str | None | _Unchanged = UNCHANGED


_INSERT_EDIT = ("INSERT INTO edits(grp, at, user, image, kind, label, point, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_READING_EDIT = ("INSERT INTO edits(grp, at, user, image, kind, label, point, before, after, reading)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _point_problem(x: object, y: object, visible: object, source: object) -> str | None:
    for name, value in (("x", x), ("y", y)):
        if value is not None and not is_real(value):
            return f"{name} {value!r} is not a number"
    if visible not in (0, 1):
        return f"visible {visible!r} is not 0 or 1"
    if source not in SOURCES:
        return f"unknown source {source!r}"
    return None


def _json_object(text: object) -> dict[str, Any] | None | str:
    """A logged before/after: the dict, None, or what is wrong with it (a str)."""
    if text is None or text == "":
        return None
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else text
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at character {exc.pos})"
    return value if isinstance(value, dict) else f"not a JSON object ({str(text)[:40]!r})"


def _instant(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _bulk_annotations(rows: Sequence[Sequence[Any]], k: int) -> dict[str, Annotation] | None:
    """Every image's annotation from the (image_id, id, idx, x, y, visible, source) rows of
    ``annotations``, checked column by column (what ``_point_problem`` checks one point at a
    time took most of a large export's reading); None when any row is not as it should be,
    so that the careful path finds and names it."""
    if not rows or len(rows) % k:
        return None
    image_ids, _rids, idx, xs, ys, visible, sources = zip(*rows)
    n = len(rows) // k
    if (idx != tuple(range(k)) * n or len(set(image_ids)) != n or len(set(image_ids[::k])) != n
            or not set(map(type, xs)) | set(map(type, ys)) <= {float, int, type(None)}
            or not set(visible) <= {0, 1} or not set(sources) <= set(SOURCES)):
        return None
    xy = np.array([xs, ys], dtype=np.float64).T.reshape(n, k, 2)  # NULL -> NaN
    if int(np.isfinite(xy).sum()) != 2 * len(rows) - (xs + ys).count(None):  # inf, or NaN not from NULL
        return None
    shown = np.array(visible, dtype=bool).reshape(n, k)
    return {image_ids[i * k]: Annotation(xy=xy[i].copy(), visible=shown[i].copy(),
                                         source=np.array(sources[i * k:(i + 1) * k], dtype=object))
            for i in range(n)}


class StudyEdits(StudyReaders):
    """Annotations, edits and views of a study (mixed into ``Study``). ``annotation``, ``status``
    and ``apply_edits`` act on the consensus, or with ``reader`` on that reader's current
    reading (study_readers; ``ReaderStudy`` binds a reader)."""

    def _point(self, rid: int, idx: int, row: tuple[Any, ...] | None) -> PointState:
        if row is None:
            raise self._damaged("points", f"image {rid}, point {idx}", "the row is missing")
        x, y, visible, source = row
        problem = _point_problem(x, y, visible, source)
        if problem is not None:
            raise self._damaged("points", f"image {rid}, point {idx}", problem)
        return PointState(np.nan if x is None else float(x), np.nan if y is None else float(y),
                          bool(visible), source)

    def annotation(self, image_id: str, *, reader: str | None = None) -> Annotation:
        if reader is not None:
            reading = self.reading(image_id, reader)
            return Annotation.empty(self.schema.k) if reading is None else reading.annotation
        rid = self._row(image_id)
        rows = self._query("SELECT idx, x, y, visible, source FROM points WHERE image = ? ORDER BY idx", (rid,))
        return self._annotation_of(rid, rows)

    def _annotation_of(self, rid: int, rows: Sequence[Sequence[Any]]) -> Annotation:
        """The annotation from an image's point rows (idx, x, y, visible, source) in idx order."""
        k = self.schema.k
        if [r[0] for r in rows] != list(range(k)):
            raise self._damaged("points", f"image {rid}", f"holds points {[r[0] for r in rows]}, "
                                                          f"expected 0..{k - 1}")
        ann = Annotation.empty(k)
        for idx, *values in rows:
            state = self._point(rid, idx, tuple(values))
            ann.xy[idx] = (state.x, state.y)
            ann.visible[idx] = state.visible
            ann.source[idx] = state.source
        return ann

    def annotations(self, image_ids: Iterable[str] | None = None) -> dict[str, Annotation]:
        """The annotations of many images (every image when ``image_ids`` is None) read in one
        query, for exports and reports: what ``annotation`` gives each, without a query per
        image. A damaged row raises DamagedRowError and an unknown id KeyError, as there."""
        wanted = None if image_ids is None else set(image_ids)
        groups: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}
        rows = self._query("SELECT i.image_id, i.id, p.idx, p.x, p.y, p.visible, p.source FROM images i"
                           " LEFT JOIN points p ON p.image = i.id ORDER BY i.id, p.idx")
        bulk = _bulk_annotations(rows, self.schema.k)
        if bulk is not None and (wanted is None or wanted <= bulk.keys()):
            return bulk if wanted is None else {i: a for i, a in bulk.items() if i in wanted}
        for image_id, rid, *point in rows:  # a damaged row: found and named one by one
            if wanted is None or image_id in wanted:
                rows = groups.setdefault(image_id, (rid, []))[1]
                if point[0] is not None:  # an image without point rows: none, not one of NULLs
                    rows.append(tuple(point))
        unknown = sorted((wanted or set()) - groups.keys())
        if unknown:
            raise KeyError(f"no image {unknown[0]!r} in {self.path.name}")
        return {image_id: self._annotation_of(rid, rows) for image_id, (rid, rows) in groups.items()}

    def _review(self, rid: int, row: tuple[Any, ...]) -> ReviewState:
        status, comment, reviewer = row
        if status not in STATUSES:
            raise self._damaged("images", rid, f"unknown status {status!r}")
        if not all(v is None or isinstance(v, str) for v in (comment, reviewer)):
            raise self._damaged("images", rid, "comment or reviewer is not text")
        return ReviewState(status, comment, reviewer)

    def status(self, image_id: str, *, reader: str | None = None) -> ReviewState:
        if reader is not None:
            reading = self.reading(image_id, reader)
            return ReviewState() if reading is None else ReviewState(reading.status, None, reader)
        rid = self._row(image_id)
        rows = self._query("SELECT status, comment, reviewer FROM images WHERE id = ?", (rid,))
        return self._review(rid, rows[0])

    def apply_edit(self, image_id: str, *, user: str, kind: str, label: str = "",
                   points: dict[int, PointState] | None = None, review: ReviewState | None = None,
                   reader: str | None = None) -> int:
        """Set some points and/or the review state of one image in one transaction, and log
        each change (who, when, which point, from -> to). Returns the edit group id."""
        return self.apply_edits([ImageEdit(image_id, points, review)], user=user, kind=kind, label=label,
                                reader=reader)[0]

    def apply_edits(self, edits: Sequence[ImageEdit], *, user: str, kind: str, label: str = "",
                    reader: str | None = None) -> list[int]:
        """Write several images in ONE transaction: all of them or, on any failure, none
        (StudyWriteError; bad arguments raise IndexError/ValueError/KeyError before anything
        is written). Each image gets its own edit group, logged exactly as ``apply_edit`` logs
        it, so the edit log and undo read as one edit per image; a facing is set (not logged,
        as ``set_facing``) in the same transaction. Returns the edit group ids, in order.
        ``reader``: the edits are that reader's (their current reading; logged as theirs)."""
        rids = [self._checked_row(edit) for edit in edits]
        if not edits:
            return []
        if reader is not None:
            self._refuse_without_readers()
        at = now_iso()
        with self._transaction() as conn:
            if reader is not None:
                return [self._write_reading_edit(conn, rid, edit, user=reader, kind=kind, label=label, at=at)
                        for rid, edit in zip(rids, edits)]
            return [self._write_edit(conn, rid, edit, user=user, kind=kind, label=label, at=at)
                    for rid, edit in zip(rids, edits)]

    def _checked_row(self, edit: ImageEdit) -> int:
        """The image's row id, once the edit's arguments are known good."""
        for idx in edit.points or {}:
            if not 0 <= idx < self.schema.k:
                raise IndexError(f"keypoint index {idx} out of range 0..{self.schema.k - 1}")
        if edit.facing is not UNCHANGED and edit.facing not in FACINGS:
            raise ValueError(f"facing must be 'left', 'right' or None, got {edit.facing!r}")
        return self._row(edit.image_id)

    def _write_edit(self, conn: sqlite3.Connection, rid: int, edit: ImageEdit, *,
                    user: str, kind: str, label: str, at: str) -> int:
        """One image's edit inside the caller's transaction: the next edit group, its log rows."""
        grp = conn.execute("SELECT COALESCE(MAX(grp), 0) + 1 FROM edits").fetchone()[0]
        log = self._set_points(conn, rid, edit.points or {})
        if edit.review is not None:
            log.append(self._set_review(conn, rid, edit.review, at))
        conn.executemany(_INSERT_EDIT, [(grp, at, user, rid, kind, label, idx, before, after)
                                        for idx, before, after in log])
        if edit.facing is not UNCHANGED:
            conn.execute("UPDATE images SET facing = ? WHERE id = ?", (edit.facing, rid))
        if edit.points or edit.facing is not UNCHANGED:
            refresh_flags(conn, self.schema, rid)  # the flags follow the points, in this transaction
        return int(grp)

    def _write_reading_edit(self, conn: sqlite3.Connection, rid: int, edit: ImageEdit, *,
                            user: str, kind: str, label: str, at: str) -> int:
        """A reader's edit: their reading changes, the consensus and its figures do not."""
        grp = conn.execute("SELECT COALESCE(MAX(grp), 0) + 1 FROM edits").fetchone()[0]
        phase, log = self._write_reading(conn, rid, edit.image_id, user, at, edit.points or {}, edit.review)
        conn.executemany(_INSERT_READING_EDIT, [(grp, at, user, rid, kind, label, idx, before, after, phase)
                                                for idx, before, after in log])
        if edit.facing is not UNCHANGED:
            conn.execute("UPDATE images SET facing = ? WHERE id = ?", (edit.facing, rid))
            refresh_flags(conn, self.schema, rid)
        return int(grp)

    def _set_points(self, conn: sqlite3.Connection, rid: int,
                    points: dict[int, PointState]) -> list[tuple[int | None, str, str]]:
        log: list[tuple[int | None, str, str]] = []
        for idx, new in sorted(points.items()):
            old = self._point(rid, idx, conn.execute(
                "SELECT x, y, visible, source FROM points WHERE image = ? AND idx = ?", (rid, idx)).fetchone())
            conn.execute("UPDATE points SET x = ?, y = ?, visible = ?, source = ? WHERE image = ? AND idx = ?",
                         (None if np.isnan(new.x) else float(new.x), None if np.isnan(new.y) else float(new.y),
                          int(new.visible), new.source, rid, idx))
            log.append((idx, json.dumps(old.to_json()), json.dumps(new.to_json())))
        return log

    def _set_review(self, conn: sqlite3.Connection, rid: int, review: ReviewState,
                    at: str) -> tuple[None, str, str]:
        old = self._review(rid, conn.execute("SELECT status, comment, reviewer FROM images WHERE id = ?",
                                             (rid,)).fetchone())
        conn.execute("UPDATE images SET status = ?, comment = ?, reviewer = ?, status_at = ? WHERE id = ?",
                     (review.status, review.comment, review.reviewer, at, rid))
        return (None, json.dumps({"status": old.status, "comment": old.comment, "reviewer": old.reviewer}),
                json.dumps({"status": review.status, "comment": review.comment, "reviewer": review.reviewer}))

    def edit_log(self, image_id: str | None = None) -> list[EditLogEntry]:
        reading = ", e.reading" if self.has_readers else ", NULL"
        sql = ("SELECT e.id, e.grp, e.at, e.user, i.image_id, e.kind, e.label, e.point, e.before, e.after"
               f"{reading} FROM edits e JOIN images i ON i.id = e.image")
        rows = self._query(sql + (" WHERE e.image = ? ORDER BY e.id" if image_id else " ORDER BY e.id"),
                           (self._row(image_id),) if image_id else ())
        return [self._log_entry(r) for r in rows]

    def _log_entry(self, row: tuple[Any, ...]) -> EditLogEntry:
        before, after = _json_object(row[8]), _json_object(row[9])
        if isinstance(before, str) or isinstance(after, str):
            name, problem = ("before", before) if isinstance(before, str) else ("after", after)
            raise self._damaged("edits", row[0], f"{name} is {problem}")
        if row[7] is not None and not isinstance(row[7], int):
            raise self._damaged("edits", row[0], f"point {row[7]!r} is not a whole number")
        return EditLogEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], before, after,
                            row[10] if isinstance(row[10], str) else None)

    # ----------------------------------------------------------------- review time
    def begin_view(self, image_id: str, user: str, *, ending: int | None = None) -> int:
        """Log that an image is shown now; returns the view id for ``end_view``. ``ending``: the
        view that ends now (``end_view`` in the same transaction: one commit per image switch).
        Showing is not an edit: a read-only study (another process writes it, read-only media)
        logs no view and returns 0."""
        return self.log_views([(image_id, user, now_iso())], ending=ending)

    def log_views(self, views: Sequence[tuple[str, str, str]], *, ending: int | None = None) -> int:
        """Log images shown one after another, ``(image id, to whom, shown at)`` in order, in one
        transaction: each view lasts until the next one's start, the last stays open (its id is
        returned, for ``end_view``; 0 when nothing was logged); ``ending``, a view logged
        before, ends at the first one's start. The window logs the views of a burst of image
        switches once it idles (session.py). A read-only study logs nothing and returns 0."""
        rows = [(self._row(image_id), user, at) for image_id, user, at in views]
        if self.read_only or not rows:
            return 0
        # review time, not an edit: no wait for the disk, and kept readings stay current (generation)
        with self._transaction(durable=False, content=False) as conn:
            if ending:
                conn.execute("UPDATE views SET left_at = ? WHERE id = ? AND left_at IS NULL", (rows[0][2], ending))
            conn.executemany("INSERT INTO views(image, user, shown_at, left_at) VALUES (?, ?, ?, ?)",
                             [(*row, nxt[2]) for row, nxt in zip(rows[:-1], rows[1:])])
            cur = conn.execute("INSERT INTO views(image, user, shown_at) VALUES (?, ?, ?)", rows[-1])
            return int(cur.lastrowid or 0)

    def end_view(self, view_id: int) -> None:
        if self.read_only:
            return  # nothing to log on a read-only study, nor once its lock was taken over
        with self._transaction(durable=False, content=False) as conn:
            conn.execute("UPDATE views SET left_at = ? WHERE id = ? AND left_at IS NULL", (now_iso(), view_id))

    def review_seconds(self, image_id: str) -> float:
        """Total time the image was shown (closed views only)."""
        total = 0.0
        for vid, shown, left in self._query("SELECT id, shown_at, left_at FROM views"
                                            " WHERE image = ? AND left_at IS NOT NULL", (self._row(image_id),)):
            start, end = _instant(shown), _instant(left)
            if start is None or end is None:
                raise self._damaged("views", vid, f"shown_at {shown!r} or left_at {left!r} is not a time")
            total += (end - start).total_seconds()
        return total
