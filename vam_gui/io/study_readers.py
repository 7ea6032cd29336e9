"""Readers of a study (format 7 on): one annotation per (image, reader) beside the consensus.

The consensus is what exports and training have always used: the ``points`` table and the
image's review status. A reader study adds, per image and reader, the reader's own points in the
``readings`` table, in up to two phases:

- ``blind``: marked without seeing the model or another reader. Accepting it is final (a blind
  reading cannot be un-seen); the same transaction copies it to the reader's
- ``revised`` reading, which the reader may change once the prediction is revealed.

Both are kept. A study is *blind-first* (meta key ``blind_first`` = "1", set when it is made or
later) when its window shows a reader no prediction, heatmap or other reader's points before the
reader has accepted the blind reading (gui/reading.py).

Writing: ``annotation``, ``status`` and ``apply_edits`` given ``reader=`` read and write that
reader's current reading (blind until accepted, then revised) instead of the consensus, logged in
the edit log with ``edits.reading`` = the phase and ``user`` = the reader; the per-image figures
(flags) follow the consensus only. :class:`ReaderStudy` is the study as one reader edits it: the
same calls without the keyword, so the undoable commands (core.commands, core.gestures) work on a
reading unchanged. Without ``reader`` every call is the consensus, as before: exports, training
and evaluation never see a reading by accident.

A study older than format 7 has no readers: ``readings`` is empty, ``blind_first`` False, and a
reader's write is refused until it is migrated (opened for writing).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vam_gui.core.annotation import SOURCES, STATUSES, Annotation, PointState, ReviewState
from vam_gui.io.study_base import StudyConnection, is_real
from vam_gui.io.study_db import READERS_FROM

__all__ = ["BLIND_KEY", "PHASES", "ReaderStudy", "Reading", "StudyReaders", "points_json"]

BLIND_KEY = "blind_first"
PHASES = ("blind", "revised")
# image ids looked up by key in ``readings``; more: one pass over the table (SQLite allows 32,766 parameters)
_FEW = 500


@dataclass(frozen=True)
class Reading:
    """One reader's annotation of one image in one phase."""

    image_id: str
    reader: str
    phase: str  # "blind" or "revised"
    annotation: Annotation
    status: str  # one of core.annotation.STATUSES
    at: str  # ISO 8601, UTC: the last write


def points_json(ann: Annotation) -> str:
    """The stored form: a JSON list of [x|null, y|null, visible 0/1, source] per keypoint."""
    return json.dumps([[None if not np.isfinite(x) else float(x), None if not np.isfinite(y) else float(y),
                        int(bool(v)), str(s)] for (x, y), v, s in zip(ann.xy, ann.visible, ann.source)])


def _points_problem(value: Any, k: int) -> str | None:
    if not isinstance(value, list) or len(value) != k:
        return f"points is not a list of {k} entries"
    for i, p in enumerate(value):
        if not (isinstance(p, list) and len(p) == 4):
            return f"point {i} is not [x, y, visible, source]"
        x, y, visible, source = p
        if any(c is not None and not is_real(c) for c in (x, y)):
            return f"point {i} has a coordinate that is not a number"
        if visible not in (0, 1) or source not in SOURCES:
            return f"point {i} has visible {visible!r} or source {source!r}"
    return None


class StudyReaders(StudyConnection):
    """Readers' annotations of a study (mixed into ``Study``; see the module docstring)."""

    @property
    def has_readers(self) -> bool:
        """Whether this file can hold readers' annotations (format 7 on)."""
        return self.format_version >= READERS_FROM

    @property
    def blind_first(self) -> bool:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (BLIND_KEY,))
        return bool(rows) and rows[0][0] == "1"

    def set_blind_first(self, on: bool) -> None:
        self._refuse_without_readers()
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (BLIND_KEY, "1" if on else "0"))

    def _refuse_without_readers(self) -> None:
        from vam_gui.io.study_errors import StudyWriteError

        self._refuse_if_read_only()
        if not self.has_readers:
            raise StudyWriteError(self.path, f"format {self.format_version} keeps no readers: open it for "
                                             "writing once to migrate it")

    def readers(self) -> list[str]:
        """Every reader with a reading in this study, sorted."""
        if not self.has_readers:
            return []
        return [r[0] for r in self._query("SELECT DISTINCT reader FROM readings ORDER BY reader")]

    def reading_phase(self, image_id: str, reader: str) -> str:
        """The phase a reader's edits of this image go to: ``blind`` until that is accepted."""
        if not self.has_readers:
            return "blind"
        rows = self._query("SELECT status FROM readings WHERE image = ? AND reader = ? AND phase = 'blind'",
                           (self._row(image_id), reader))
        return "revised" if rows and rows[0][0] == "accepted" else "blind"

    def reading(self, image_id: str, reader: str, phase: str | None = None) -> Reading | None:
        """A reader's reading of an image (``phase`` None: the current one), or None."""
        if not self.has_readers:
            return None
        phase = phase or self.reading_phase(image_id, reader)
        rows = self._query("SELECT image, reader, phase, points, status, at FROM readings"
                           " WHERE image = ? AND reader = ? AND phase = ?", (self._row(image_id), reader, phase))
        return self._reading(image_id, rows[0]) if rows else None

    def readings(self, phase: str = "blind", image_ids: Iterable[str] | None = None) -> dict[str, dict[str, Reading]]:
        """image id -> reader -> that reader's reading in ``phase`` ("blind", "revised", or
        "latest": revised where there is one, else blind), in one query."""
        if phase not in (*PHASES, "latest"):
            raise ValueError(f"phase must be one of blind, revised, latest, got {phase!r}")
        if not self.has_readers:
            return {}
        wanted = None if image_ids is None else set(image_ids)
        out: dict[str, dict[str, Reading]] = {}
        sql = "SELECT i.image_id, r.image, r.reader, r.phase, r.points, r.status, r.at FROM readings r" \
              " JOIN images i ON i.id = r.image"
        params: tuple[str, ...] = ()
        if wanted is not None and len(wanted) <= _FEW:  # the shown image's (every switch): by its key
            sql += f" WHERE i.image_id IN ({', '.join('?' * len(wanted))})"
            params = tuple(wanted)
        rows = self._query(sql + " ORDER BY r.image, r.reader, r.phase", params)
        for image_id, *row in rows:
            if wanted is not None and image_id not in wanted:
                continue
            if phase != "latest" and row[2] != phase:
                continue
            # "latest": rows come blind then revised, so a revised reading replaces the blind one
            out.setdefault(image_id, {})[row[1]] = self._reading(image_id, tuple(row))
        return out

    def _reading(self, image_id: str, row: tuple[Any, ...]) -> Reading:
        rid, reader, phase, text, status, at = row
        where = f"image {rid}, reader {reader!r}, {phase}"
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            raise self._damaged("readings", where, "points is not JSON") from None
        problem = _points_problem(value, self.schema.k)
        if problem is None and status not in STATUSES:
            problem = f"unknown status {status!r}"
        if problem is not None:
            raise self._damaged("readings", where, problem)
        ann = Annotation.empty(self.schema.k)
        for i, (x, y, visible, source) in enumerate(value):
            ann.xy[i] = (np.nan if x is None else float(x), np.nan if y is None else float(y))
            ann.visible[i], ann.source[i] = bool(visible), source
        return Reading(image_id, str(reader), str(phase), ann, str(status), str(at))

    # ---------------------------------------------------------------- writes (StudyEdits)
    def _reading_or_empty(self, conn: sqlite3.Connection, rid: int, image_id: str, reader: str,
                          phase: str) -> tuple[Annotation, str]:
        row = conn.execute("SELECT image, reader, phase, points, status, at FROM readings"
                           " WHERE image = ? AND reader = ? AND phase = ?", (rid, reader, phase)).fetchone()
        if row is None:
            return Annotation.empty(self.schema.k), "unreviewed"
        reading = self._reading(image_id, tuple(row))
        return reading.annotation, reading.status

    def _write_reading(self, conn: sqlite3.Connection, rid: int, image_id: str, reader: str, at: str,
                       points: dict[int, PointState],
                       review: ReviewState | None) -> tuple[str, list[tuple[int | None, str, str]]]:
        """Set points and/or the status of a reader's current reading (in the caller's
        transaction); accepting the blind reading copies it to the revised one. The phase
        written and the log rows (point, before, after)."""
        blind = conn.execute("SELECT status FROM readings WHERE image = ? AND reader = ? AND phase = 'blind'",
                             (rid, reader)).fetchone()
        phase = "revised" if blind is not None and blind[0] == "accepted" else "blind"
        ann, status = self._reading_or_empty(conn, rid, image_id, reader, phase)
        log: list[tuple[int | None, str, str]] = []
        for idx, new in sorted(points.items()):
            log.append((idx, json.dumps(ann.point(idx).to_json()), json.dumps(new.to_json())))
            ann.xy[idx] = (new.x, new.y)
            ann.visible[idx], ann.source[idx] = new.visible, new.source
        if review is not None:
            log.append((None, json.dumps({"status": status, "reviewer": reader}),
                        json.dumps({"status": review.status, "comment": review.comment, "reviewer": reader})))
            status = review.status
        if status == "unreviewed" and points:
            status = "in_progress"
        upsert = ("INSERT OR REPLACE INTO readings(image, reader, phase, points, status, at)"
                  " VALUES (?, ?, ?, ?, ?, ?)")
        conn.execute(upsert, (rid, reader, phase, points_json(ann), status, at))
        if phase == "blind" and status == "accepted":
            conn.execute(upsert, (rid, reader, "revised", points_json(ann), status, at))
        return phase, log


class ReaderStudy:
    """A study as one reader edits it: ``annotation``, ``status``, ``apply_edit`` and
    ``apply_edits`` are the reader's current reading (the edit log names the reader); every
    other attribute is the study's own. Hand it to the undoable commands in place of the study."""

    def __init__(self, study: Any, reader: str) -> None:
        if not reader.strip():
            raise ValueError("a reader needs a name")
        self.study = study
        self.reader = reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.study, name)

    def annotation(self, image_id: str) -> Annotation:
        return self.study.annotation(image_id, reader=self.reader)  # type: ignore[no-any-return]

    def status(self, image_id: str) -> ReviewState:
        return self.study.status(image_id, reader=self.reader)  # type: ignore[no-any-return]

    def apply_edit(self, image_id: str, **kwargs: Any) -> int:
        return self.study.apply_edit(image_id, reader=self.reader, **kwargs)  # type: ignore[no-any-return]

    def apply_edits(self, edits: Any, **kwargs: Any) -> list[int]:
        return self.study.apply_edits(edits, reader=self.reader, **kwargs)  # type: ignore[no-any-return]
