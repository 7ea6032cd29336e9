"""The SQLite layout of a ``.vamstudy`` file and its migrations.

The file is identified by ``PRAGMA application_id`` and versioned by ``PRAGMA user_version``;
each migration moves a file one version up inside one transaction. A study that may not be
written (read-only media, opened read-only) is never migrated: the readers cope with every
version from READABLE_FROM up (format 1 has no ``predictions.max_spread``; format 3 and older
have no ``writer`` table, so nobody can hold their write lock; format 4 and older have no
per-image figures, which their readers recount; format 5 and older keep no DICOM attributes, so
their worklist shows file names only; format 6 and older have no readers).

A migration is SQL, and for format 5 also a Python step (``FILL``) run inside the same
transaction: it computes the figures of every image already in the file. Format 6 (the
``image_dicom`` table) reads no image file: see study_dicom.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

APPLICATION_ID = 0x56414D31  # "VAM1"
SCHEMA_VERSION = 7
READABLE_FROM = 1  # the oldest format that is read without migrating
WRITER_TABLE_FROM = 4  # the first format with the write lock (older files have no writer)
FIGURES_FROM = 5  # the first format with per-image figures in ``images`` and peaks in ``predictions``
DICOM_FROM = 6  # the first format with ``image_dicom`` (patient / study / series / view attributes)
READERS_FROM = 7  # the first format with readers' annotations (``readings``; io/study_readers.py)

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE images (
    id            INTEGER PRIMARY KEY,
    image_id      TEXT NOT NULL UNIQUE,
    rel_path      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    spacing_y     REAL,
    spacing_x     REAL,
    spacing_is_detector INTEGER NOT NULL DEFAULT 0,
    facing        TEXT,
    added_at      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'unreviewed'
                  CHECK (status IN ('unreviewed', 'in_progress', 'accepted', 'flagged')),
    comment       TEXT,
    reviewer      TEXT,
    status_at     TEXT
);
CREATE TABLE points (
    image    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    x        REAL,
    y        REAL,
    visible  INTEGER NOT NULL DEFAULT 0,
    source   TEXT NOT NULL DEFAULT ''
             CHECK (source IN ('', 'predicted', 'moved', 'placed', 'imported')),
    PRIMARY KEY (image, idx)
) WITHOUT ROWID;
CREATE TABLE predictions (
    image       INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    xy          BLOB NOT NULL,
    confidence  BLOB NOT NULL,
    spread      BLOB NOT NULL,
    letterbox   TEXT NOT NULL,
    worst_confidence REAL
);
CREATE TABLE heatmaps (
    image   INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    k       INTEGER NOT NULL,
    size    INTEGER NOT NULL,
    data    BLOB NOT NULL          -- zlib of uint8 [K, S, S] = round(255 * clip(h, 0, 1))
);
CREATE TABLE edits (
    id      INTEGER PRIMARY KEY,
    grp     INTEGER NOT NULL,
    at      TEXT NOT NULL,
    user    TEXT NOT NULL,
    image   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    label   TEXT NOT NULL DEFAULT '',
    point   INTEGER,
    before  TEXT,
    after   TEXT
);
CREATE INDEX edits_by_image ON edits(image, id);
CREATE TABLE views (
    id        INTEGER PRIMARY KEY,
    image     INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    user      TEXT NOT NULL,
    shown_at  TEXT NOT NULL,
    left_at   TEXT
);
CREATE INDEX views_by_image ON views(image);
"""

# v2: the largest spread of the latest prediction, for the uncertainty-first worklist.
_V2 = """
ALTER TABLE predictions ADD COLUMN max_spread REAL;
"""

# v3: every edit asks for the next edit-group number (MAX(grp)); without an index that scans
# the whole log, so an edit cost ten times more at 286k log rows than at 28k.
_V3 = """
CREATE INDEX edits_by_group ON edits(grp);
"""

# v4: one writer per study. The process that has the study open for writing (see
# io/study_lock.py); at most one row.
_V4 = """
CREATE TABLE writer (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    host   TEXT NOT NULL,
    user   TEXT NOT NULL,
    pid    INTEGER NOT NULL,
    since  TEXT NOT NULL,
    token  TEXT NOT NULL
);
"""

# v5: per-image figures kept up to date by every write that changes them (the prediction, an
# edit of points or facing; io/study_figures.py), so the worklist sorts and counts in SQL and
# nothing recounts a whole study on open. ``flags`` NULL: not known (a damaged row).
# ``peaks``: float64 [K, 2] original px of each stored heatmap's maximum (NaN for an all-zero
# map), NULL without heatmaps: the peak-distance check without decompressing the maps.
_V5 = """
ALTER TABLE images ADD COLUMN flags INTEGER DEFAULT 0;
ALTER TABLE images ADD COLUMN worst_confidence REAL;
ALTER TABLE images ADD COLUMN max_spread REAL;
ALTER TABLE predictions ADD COLUMN peaks BLOB;
"""

# v6: a DICOM image's patient / study / series / view attributes (io/dicom_identity.py), a JSON
# object of keyword -> text, for the worklist; no row: not a DICOM image, or not read yet. The
# migration reads no file (headers of thousands of images are not cheap): an existing DICOM image
# gets its row when it is next loaded (study_dicom.py). The meta key ``hide_identifiers`` ("1" or
# "0"; absent: hide) says whether the worklist shows them or pseudonyms.
_V6 = """
CREATE TABLE IF NOT EXISTS image_dicom (
    image       INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    attributes  TEXT NOT NULL
);
"""

# v7: reader studies (io/study_readers.py). One annotation per (image, reader, phase) beside the
# consensus (the points table, unchanged: a migrated study's annotations are its consensus);
# ``points`` is a JSON list of [x|null, y|null, visible 0/1, source] per keypoint. An edit of a
# reading is logged with ``edits.reading`` = its phase (NULL: the consensus). The meta key
# ``blind_first`` ("1"/"0"; absent: off) makes the window hide the model until a reader accepts.
_V7 = """
CREATE TABLE IF NOT EXISTS readings (
    image   INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    reader  TEXT NOT NULL,
    phase   TEXT NOT NULL CHECK (phase IN ('blind', 'revised')),
    points  TEXT NOT NULL,
    status  TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (image, reader, phase)
) WITHOUT ROWID;
ALTER TABLE edits ADD COLUMN reading TEXT;
"""

# MIGRATIONS[v] upgrades a file at version v to v + 1.
MIGRATIONS: dict[int, str] = {0: _V1, 1: _V2, 2: _V3, 3: _V4, 4: _V5, 5: _V6, 6: _V7}


def _fill_figures(conn: sqlite3.Connection) -> None:
    from vam_gui.io.study_figures import fill_all

    fill_all(conn)


# FILL[v]: Python run after MIGRATIONS[v], inside the same transaction.
FILL: dict[int, Callable[[sqlite3.Connection], None]] = {4: _fill_figures}


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at."""
    start = int(conn.execute("PRAGMA user_version").fetchone()[0])
    version = start
    while version < SCHEMA_VERSION:
        # One transaction per step: a failed step leaves the file at the previous version.
        try:
            conn.executescript("BEGIN IMMEDIATE;" + MIGRATIONS[version])
            if version in FILL:
                FILL[version](conn)
            # conn.execute: executescript would COMMIT first, before the version is set
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        version += 1
    return start
