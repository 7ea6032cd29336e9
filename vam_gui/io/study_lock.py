"""One writer per study: the lock row inside the study file.

The ``writer`` table (format 4) holds at most one row: the host, user and pid of the process
that has the study open for writing, since when, and a token drawn once per process. Taking
the lock is one ``BEGIN IMMEDIATE`` transaction (read the row, decide, write ours), so two
processes opening at once cannot both win; SQLite's own file locking is the arbiter. A row of
a process that is gone (same host, pid no longer alive) is stale and taken silently; a row from
another host cannot be checked, so it holds until someone asks to take over (as does a dead
writer's pid that an unrelated process has since been given). Every write
transaction first checks that the row is still ours, so a writer whose lock was taken over
fails its next write instead of overwriting the new writer's work. Several ``Study`` objects of
one process share the lock; the row goes when the last of them closes.
"""

from __future__ import annotations

import getpass
import os
import socket
import sqlite3
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

# With the pid it tells this process's lock from that of a forked child (same pid never,
# same token always) and from a later process that reuses our pid.
_TOKEN = uuid.uuid4().hex
_held: dict[str, int] = {}  # resolved study path -> open writer Studies in this process
_held_guard = threading.Lock()


@dataclass(frozen=True)
class LockHolder:
    """Who has a study open for writing."""

    host: str
    user: str
    pid: int
    since: str  # ISO 8601, UTC

    def __str__(self) -> str:
        return f"{self.user} on {self.host} (pid {self.pid}) since {self.since}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers and services)
        return "unknown"


def _me() -> LockHolder:
    return LockHolder(socket.gethostname(), _user(), os.getpid(),
                      datetime.now(timezone.utc).isoformat(timespec="seconds"))


if sys.platform == "win32":
    def _pid_alive(pid: int) -> bool:
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() == 5)  # ERROR_ACCESS_DENIED: it exists
        try:
            code = ctypes.c_ulong()
            return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259
        finally:
            kernel32.CloseHandle(handle)
else:
    def _pid_alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # no /proc (macOS): existing is alive
            return True
        return stat.rpartition(")")[2].split()[:1] != ["Z"]  # a zombie is dead, only not yet reaped


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (never signals it)."""
    return pid > 0 and _pid_alive(pid)


def _holder(row: tuple[object, ...] | None) -> LockHolder | None:
    """The row as a holder; None for no row or one too damaged to name anyone (then stale)."""
    if row is None:
        return None
    host, user, pid, since = row[:4]
    if not (isinstance(host, str) and isinstance(user, str) and isinstance(pid, int)
            and isinstance(since, str)):
        return None
    return LockHolder(host, user, pid, since)


def _ours(row: tuple[object, ...] | None) -> bool:
    # Not the host name: it may change under a running process (a laptop changing networks).
    return row is not None and row[2] == os.getpid() and row[4] == _TOKEN


def _live(holder: LockHolder | None) -> bool:
    """Whether the holder may still be writing (another host's process cannot be checked)."""
    if holder is None:
        return False
    return holder.host != socket.gethostname() or pid_alive(holder.pid)


_SELECT = "SELECT host, user, pid, since, token FROM writer WHERE id = 1"


def take(conn: sqlite3.Connection, path: Path, *, take_over: bool) -> LockHolder | None:
    """Take the write lock of the study open on ``conn``. Returns None when it is ours, or the
    live holder that keeps it (and then nothing was written)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(_SELECT).fetchone()
        if not _ours(row):
            holder = _holder(row)
            if _live(holder) and not take_over:
                conn.execute("ROLLBACK")
                return holder
            me = _me()
            conn.execute("INSERT OR REPLACE INTO writer(id, host, user, pid, since, token)"
                         " VALUES (1, ?, ?, ?, ?, ?)", (me.host, me.user, me.pid, me.since, _TOKEN))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    key = str(path.resolve())
    with _held_guard:
        _held[key] = _held.get(key, 0) + 1
    return None


def lost(conn: sqlite3.Connection) -> str | None:
    """Inside a write transaction: None while the lock is ours, else why it is not."""
    row = conn.execute(_SELECT).fetchone()
    if _ours(row):
        return None
    holder = _holder(row)
    return f"taken over by {holder}" if holder else "its write lock was removed by another program"


def holder(conn: sqlite3.Connection) -> LockHolder | None:
    """The live writer of the study open (read-only) on ``conn``, if it is another process."""
    row = conn.execute(_SELECT).fetchone()
    found = None if _ours(row) else _holder(row)
    return found if _live(found) else None


def release(conn: sqlite3.Connection, path: Path) -> None:
    """Give the lock back once the last writer Study of this process on ``path`` closes."""
    key = str(path.resolve())
    with _held_guard:
        left = _held.get(key, 0) - 1
        if left > 0:
            _held[key] = left
            return
        _held.pop(key, None)
    conn.execute("DELETE FROM writer WHERE id = 1 AND pid = ? AND token = ?", (os.getpid(), _TOKEN))
