"""Opening a study file: the header check, then a writing or a read-only SQLite connection.

Opening reads the 100-byte header (SQLite magic, application id, format version) and the
``meta`` table; it does not scan the file (``Study.check_integrity`` does, on request): a damaged
page is reported when it is first read. A writing open sets WAL mode, migrates, and takes the
write lock (io/study_lock.py); when another live process holds it, or the file or its folder is
not writable, the study opens read-only instead. A read-only connection never migrates and never
creates files beside the study: with no ``-wal``/``-shm`` present (no writer active) it opens
``immutable=1``, else ``mode=ro`` sharing the writer's.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from vam_gui.core.schema import Schema, SchemaError
from vam_gui.io import study_lock
from vam_gui.io.study_db import APPLICATION_ID, READABLE_FROM, SCHEMA_VERSION, WRITER_TABLE_FROM, migrate
from vam_gui.io.study_errors import StudyError, read_error
from vam_gui.io.study_lock import LockHolder

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another connection's transaction


@dataclass(frozen=True)
class Opened:
    conn: sqlite3.Connection
    schema: Schema
    study_uid: str
    version: int  # the file's format version (older than SCHEMA_VERSION only when read-only)
    read_only_reason: str | None  # None: this connection writes and holds the lock
    holder: LockHolder | None  # the live writer of a study opened read-only
    immutable: bool  # opened with immutable=1 (no writer was active)


def side_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _check_identity(path: Path, app_id: int, version: int) -> None:
    if app_id != APPLICATION_ID:
        raise StudyError(path, "not a vam-gui study (an SQLite database of another application)")
    if version > SCHEMA_VERSION:
        raise StudyError(path, f"made by a newer vam-gui (study format {version}, "
                               f"this version reads up to {SCHEMA_VERSION})")


def check_header(path: Path) -> None:
    """The SQLite header says: an SQLite file, of this application, of a format we read."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise StudyError(path, f"cannot read the study ({exc.strerror or exc})") from None
    if head[:16] != SQLITE_MAGIC:
        raise StudyError(path, "not a vam-gui study (not an SQLite database)")
    if len(head) < 100:
        raise StudyError(path, "damaged study file (the SQLite header is cut short)")
    _check_identity(path, int.from_bytes(head[68:72], "big", signed=True),
                    int.from_bytes(head[60:64], "big", signed=True))


def why_read_only(path: Path) -> str | None:
    """Why this process cannot write the study, or None."""
    if not os.access(path, os.W_OK):
        return "the study file is read-only"
    if not os.access(path.resolve().parent, os.W_OK | os.X_OK):
        return "its folder is read-only (no room for SQLite's -wal and -shm files)"
    return None


def _version(path: Path, conn: sqlite3.Connection) -> int:
    # The header read before may be older than the WAL's copy of page 1: ask SQLite again.
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    _check_identity(path, app_id, version)
    return version


def _meta(path: Path, conn: sqlite3.Connection) -> tuple[Schema, str]:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    try:
        schema = Schema.from_json(meta["schema"], source=f"{path.name} (study schema)")
    except (KeyError, TypeError, SchemaError) as exc:
        raise StudyError(path, f"damaged study file: bad keypoint schema ({exc})") from None
    uid = meta.get("study_uid", "")
    return schema, uid if isinstance(uid, str) else ""


def _reader(path: Path, *, immutable: bool) -> sqlite3.Connection:
    query = "?mode=ro&immutable=1" if immutable else "?mode=ro"
    conn = sqlite3.connect(path.resolve().as_uri() + query, uri=True, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA schema_version").fetchone()  # reads the file (and the WAL, if any)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A read-only connection that leaves nothing beside the study; and whether it is
    immutable (no writer was active when it opened)."""
    if not (side_file(path, "-wal").exists() or side_file(path, "-shm").exists()):
        return _reader(path, immutable=True), True
    try:
        return _reader(path, immutable=False), False
    except sqlite3.OperationalError:
        # A crashed writer's -wal on media we cannot write: SQLite cannot share it without a
        # -shm it may write. Read the file as it is (the -wal's last edits are not seen).
        return _reader(path, immutable=True), True


def _open_reader(path: Path, reason: str, holder: LockHolder | None = None) -> Opened:
    conn, immutable = connect_reader(path)
    try:
        version = _version(path, conn)
        if version < READABLE_FROM:
            raise StudyError(path, f"study format {version} cannot be read without upgrading it, "
                                   "and it is opened read-only")
        schema, uid = _meta(path, conn)
        if holder is None and version >= WRITER_TABLE_FROM:
            holder = study_lock.holder(conn)
        return Opened(conn, schema, uid, version, reason, holder, immutable)
    except BaseException:
        conn.close()
        raise


def _refused_write(exc: sqlite3.Error) -> bool:
    name = str(getattr(exc, "sqlite_errorname", ""))
    return name.startswith("SQLITE_READONLY") or "readonly database" in str(exc)


def _open_writer(path: Path, *, take_over: bool) -> Opened:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _version(path, conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: every commit is on disk before apply_edit returns, so even a power cut keeps
        # every finished edit (NORMAL would be safe against an application crash only). It
        # costs one fsync per edit, well under the 5 ms an edit may take.
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        schema, uid = _meta(path, conn)
        holder = study_lock.take(conn, path, take_over=take_over)
    except BaseException:
        conn.close()
        raise
    if holder is not None:
        conn.close()
        return _open_reader(path, f"being edited by {holder}", holder)
    return Opened(conn, schema, uid, SCHEMA_VERSION, None, None, immutable=False)


def open_connection(path: Path, *, read_only: bool, take_over: bool) -> Opened:
    """Open ``path`` for writing if this process may write it and nobody else does, else
    read-only; StudyError for a file that is not a study, a damaged one or a newer one."""
    check_header(path)
    reason = "opened read-only on request" if read_only else why_read_only(path)
    try:
        if reason is None:
            try:
                return _open_writer(path, take_over=take_over)
            except sqlite3.OperationalError as exc:
                if not _refused_write(exc):
                    raise
                reason = f"cannot write here ({exc})"  # read-only media that os.access missed
        return _open_reader(path, reason)
    except sqlite3.DatabaseError as exc:
        error = read_error(path, exc)
        if not error.reason.startswith("damaged"):
            error = StudyError(path, f"cannot open the study ({' '.join(str(exc).split())})")
        raise error from None
