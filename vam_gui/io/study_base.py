"""The open study's connection: transactions, queries, closing, and the read-only state.

Every read goes through ``_query`` (a SQLite error becomes one StudyError line) and every write
through ``_transaction`` (commits, or rolls back and raises StudyWriteError). The parts of
``Study`` that know images, predictions and annotations build on this class.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from vam_gui.core.schema import Schema
from vam_gui.io import study_lock
from vam_gui.io.study_connect import Opened, connect_reader, side_file
from vam_gui.io.study_errors import DamagedRowError, StudyError, StudyWriteError, read_error, write_error
from vam_gui.io.study_lock import LockHolder


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def is_real(value: object) -> bool:
    """A finite number as SQLite hands it back (never text, a blob or a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _stamp(path: Path) -> tuple[int, int]:
    """Changes whenever the file is written (what an immutable connection must not miss)."""
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


_Self = TypeVar("_Self", bound="StudyConnection")


class StudyConnection:
    """An open study file and what may be done with it (see ``Study``)."""

    def __init__(self, path: Path, opened: Opened) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = opened.conn
        self._lock = threading.RLock()  # inference workers save predictions from other threads
        self.schema: Schema = opened.schema
        self.study_uid = opened.study_uid
        self.format_version = opened.version
        self._writer = opened.read_only_reason is None  # holds (or held) the write lock
        self._read_only_reason = opened.read_only_reason
        self._lock_holder = opened.holder
        self._immutable = opened.immutable
        self._stamp = _stamp(path)
        self._row_ids: dict[str, int] = {}
        self._folder = path.resolve().parent  # image paths are relative to it: resolved once
        self._connections = 1  # connections made (``generation``)
        self._writes = 0  # content transactions begun (``generation``)

    @property
    def read_only(self) -> bool:
        """True when writes are refused: opened read-only (on request, read-only media, or
        another process holds the write lock) or the lock was taken over since."""
        return self._read_only_reason is not None

    @property
    def read_only_reason(self) -> str | None:
        return self._read_only_reason

    @property
    def lock_holder(self) -> LockHolder | None:
        """The other process that had the study open for writing when this one opened it
        read-only; None when this Study is the writer or nobody was writing."""
        return self._lock_holder

    def close(self) -> None:
        """Close the file and give back the write lock (once no other Study of this process
        has it open)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                if self._writer:
                    study_lock.release(conn, self.path)
                    # With readers still open SQLite keeps the -wal on close: copy it into the
                    # study first, so that the file alone holds every edit.
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the row stays; once this process is gone it is stale and taken silently
            finally:
                conn.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def folder(self) -> Path:
        return self._folder

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StudyError(self.path, "the study is closed")
        if self._immutable and (side_file(self.path, "-wal").exists() or _stamp(self.path) != self._stamp):
            # A writer opened the study after we did: an immutable connection would not see
            # its edits and could read pages while its checkpoint rewrites them.
            self._conn.close()
            self._conn, self._immutable = connect_reader(self.path)
            self._stamp = _stamp(self.path)
            self._connections += 1
        return self._conn

    def generation(self) -> tuple[int, int, int]:
        """A token that changes whenever what the study stores may have changed since: a write
        transaction of this Study (the view log's aside: review time is not what is shown), a
        commit by any other connection (another process; SQLite's ``data_version``), or a new
        connection. A reading is current while the token taken before it is unchanged."""
        with self._lock:
            conn = self._connection()
            try:
                version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise read_error(self.path, exc) from None
            return (self._connections, version, self._writes)

    def _refuse_if_read_only(self) -> None:
        """Writes on a read-only or closed study fail at once, before any work."""
        if self._conn is None:
            raise StudyWriteError(self.path, "not saved: the study is closed")
        if self._read_only_reason is not None:
            raise StudyWriteError(self.path, f"not saved: read-only, {self._read_only_reason}")

    @contextmanager
    def _transaction(self, *, durable: bool = True, content: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction: commits, or rolls back and raises (a failed write as
        StudyWriteError; the caller's own exceptions as they are). ``durable=False`` (the view
        log, written on every image switch): the commit does not wait for the disk; in WAL mode
        the file stays sound and the next durable commit puts it on disk with its own.
        ``content=False``: writes nothing a reading kept with ``generation`` depends on."""
        with self._lock:
            self._refuse_if_read_only()
            conn = self._connection()
            if content:
                self._writes += 1  # before any change: a reading taken during it is not current
            relaxed = not durable and conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            if relaxed:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                lost = study_lock.lost(conn)
                if lost is not None:
                    self._read_only_reason = lost
                    raise StudyWriteError(self.path, f"not saved: {lost}; open the study again")
                yield conn
                conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                self._rollback(conn)
                raise write_error(self.path, exc) from exc
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                if relaxed:
                    conn.execute("PRAGMA synchronous = FULL")

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # SQLite rolls back by itself after some errors (a full disk, an I/O error).
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection is unusable; the transaction is gone with it

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise read_error(self.path, exc) from None

    def _row(self, image_id: str) -> int:
        rid = self._row_ids.get(image_id)
        if rid is None:
            rows = self._query("SELECT id FROM images WHERE image_id = ?", (image_id,))
            if not rows:
                raise KeyError(f"no image {image_id!r} in {self.path.name}")
            rid = self._row_ids[image_id] = rows[0][0]
        return rid

    def _damaged(self, table: str, row: int | str, problem: str) -> DamagedRowError:
        return DamagedRowError(self.path, table=table, row=row, problem=problem)

    def check_integrity(self, *, full: bool = False) -> list[str]:
        """SQLite's check of every page and index of the file: the problems found, or [] when
        the file is sound. Reads the whole file (seconds for a large study), so opening does
        not do it. ``full`` also checks that indexes match their tables. It reads through a
        connection of its own, so the study's other calls (the window's, while a worker runs
        this) do not wait for it."""
        self._connection()  # a closed study says so
        try:
            conn, _ = connect_reader(self.path)
        except sqlite3.Error as exc:
            return [" ".join(str(exc).split())]
        try:
            rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return [" ".join(str(exc).split())]
        finally:
            conn.close()
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems
