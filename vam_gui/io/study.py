"""The study store: one SQLite file (``*.vamstudy``) per study.

Every finished edit is one transaction, committed at once (WAL journal, synchronous FULL), so a
crash loses at most the drag in progress. Images are referenced by a path relative to the study
file plus a content hash; a missing or moved image is reported and can be relocated, never fatal.

``Study`` is the one class callers use; its parts live beside it: the connection, transactions
and read-only state (study_base), opening (study_connect), the write lock (study_lock), images
(study_images; files read and hashed for an add in study_add), predictions and heatmaps
(study_predictions), annotations with the edit and view logs (study_edits), the per-image
figures (study_figures), a DICOM image's patient / study / series / view attributes and the
``hide_identifiers`` setting (study_dicom), the error types (study_errors), the layout and
migrations (study_db).

DICOM attributes (format 6 on): ``ImageInfo.dicom`` is read from the header when a DICOM image
is added (a DICOMDIR adds the images it references); migrating from format 5 reads no file, and
each DICOM image gets its attributes when it is next loaded. They never reach a ``Radiograph``.

Per-image figures (format 5 on): ``ImageInfo.flags`` (the anatomical-check flags of the current
points), ``worst_confidence`` and ``max_spread`` live in the images table and are written in the
same transaction as the prediction or edit that changes them, so the worklist sorts
(``ordered_image_ids``) and counts (``stored_flags``, ``io.review.count_flags``) without
reading any image's points or heatmaps.

Several images written together (an import) go through ``Study.apply_edits``: one transaction
for all of them, each image its own logged edit group, so they are all written or none is.

Failures, as callers see them:

- **Writes** either commit or raise ``StudyWriteError`` (one line: the study and why: the disk
  is full, read-only, locked by another writer, an I/O error); the transaction is rolled back,
  so nothing is half-written. Bad arguments are ``ValueError``/``IndexError``/``KeyError``
  raised before anything changes.
- **Damaged rows** (bad JSON, a non-number coordinate, a heatmap that is not zlib, an unknown
  status) raise ``DamagedRowError`` naming the table, the row and the problem when read; other
  images read as before. A damaged page of the file is a ``StudyError`` "damaged study file"
  when it is first read: opening checks only the header, the application id, the format
  version and the keypoint schema, and ``check_integrity()`` scans the whole file on request.
- **One writer per study**: opening for writing takes the lock row inside the study (the
  ``writer`` table: host, user, pid, since; see study_lock). A second process gets the study
  read-only, with ``lock_holder`` naming the writer, unless it opens with ``take_over=True``;
  a lock left by a process that is gone (same host, pid not alive) is taken silently. Closing
  gives the lock back. A writer whose lock was taken over fails its next write.
- **Read-only**: ``Study.open(path, read_only=True)`` (for info and export; takes no lock), a
  study file that is not writable, or one in a folder that is not writable, opens read-only:
  ``read_only`` is True, ``read_only_reason`` says why, every write raises StudyWriteError at
  once (showing an image logs no view). A read-only study is never migrated (formats from
  study_db.READABLE_FROM up are read as they are) and nothing is created beside it: with no
  writer active it is opened ``immutable=1``, else ``mode=ro`` sharing the writer's -wal/-shm.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from vam_gui import __version__
from vam_gui.core.schema import Schema, load_schema
from vam_gui.io.study_base import now_iso
from vam_gui.io.study_bench import bench_edit_latency
from vam_gui.io.study_connect import open_connection
from vam_gui.io.study_db import APPLICATION_ID, migrate
from vam_gui.io.study_dicom import StudyDicom
from vam_gui.io.study_edits import UNCHANGED, EditLogEntry, ImageEdit, StudyEdits
from vam_gui.io.study_errors import DamagedRowError, StudyError, StudyWriteError, write_error
from vam_gui.io.study_images import SUFFIX, AddReport, ImageInfo, StudyImages
from vam_gui.io.study_lock import LockHolder
from vam_gui.io.study_predictions import StoredPrediction, StudyPredictions

if TYPE_CHECKING:
    from vam_gui.core.store import StudyStore

__all__ = ["SUFFIX", "UNCHANGED", "AddReport", "DamagedRowError", "EditLogEntry", "ImageEdit", "ImageInfo",
           "LockHolder", "StoredPrediction", "Study", "StudyError", "StudyWriteError", "bench_edit_latency",
           "now_iso"]


def _build(tmp: Path, schema: Schema) -> None:
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrate(conn)
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [
            ("schema", schema.to_json()),
            ("study_uid", uuid.uuid4().hex),
            ("created_at", now_iso()),
            ("created_by", f"vam-gui {__version__}"),
        ])
    finally:
        conn.close()


class Study(StudyDicom, StudyImages, StudyPredictions, StudyEdits):
    """An open study file. Use ``Study.create`` or ``Study.open``; close it (or use ``with``)."""

    @classmethod
    def create(cls, path: str | os.PathLike[str], schema: str | Schema = "lumbar-ap-20") -> Study:
        """A new, empty study, opened for writing. The file appears complete or not at all
        (built under a temporary name, then renamed); a failed write is StudyWriteError."""
        path = Path(path)
        if path.exists():
            raise StudyError(path, "already exists; open it instead")
        if not path.parent.is_dir():
            raise StudyError(path, f"folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StudyWriteError(path, f"not created: the folder {path.parent} is read-only")
        schema_obj = schema if isinstance(schema, Schema) else load_schema(schema)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            _build(tmp, schema_obj)
            os.replace(tmp, path)
        except (sqlite3.Error, OSError) as exc:
            raise write_error(path, exc, action="not created") from exc
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
                leftover.unlink(missing_ok=True)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False, take_over: bool = False) -> Study:
        """Open an existing study: for writing when this process may write it and no other
        process does (or ``take_over``), else read-only (see the module docstring). A file that
        is not a study, a damaged one, or one from a newer version is a StudyError, and the
        file is left as it was."""
        path = Path(path)
        if not path.is_file():
            raise StudyError(path, "no such study file")
        return cls(path, open_connection(path, read_only=read_only, take_over=take_over))


if TYPE_CHECKING:
    def _is_a_study_store(study: Study) -> StudyStore:
        return study  # mypy: Study implements the store interface core and io are written against
