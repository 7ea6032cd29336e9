"""Run plain functions off the UI thread and turn their callbacks into Qt signals.

A job calls ``fn(*args, progress=..., cancel=..., emit=..., **kwargs)``: ``progress(done,
total)`` reports progress, ``cancel()`` says whether to stop, ``emit(item)`` streams a
partial result. Every job has an id, so the window can ignore results it no longer wants.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal


class JobSignals(QObject):
    progress = Signal(int, int, int)  # job id, done, total
    item = Signal(int, object)  # job id, a streamed partial result
    finished = Signal(int, object)  # job id, return value
    failed = Signal(int, str)  # job id, one-line message
    done = Signal(int)  # job id, after finished/failed (also when cancelled)


class Job(QRunnable):
    def __init__(self, job_id: int, fn: Callable, args: tuple, kwargs: dict) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.id = job_id
        self.signals = JobSignals()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._cancel = threading.Event()
        self.finished_event = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self._fn(
                *self._args,
                progress=lambda done, total: self.signals.progress.emit(self.id, int(done), int(total)),
                cancel=self._cancel.is_set,
                emit=lambda item: self.signals.item.emit(self.id, item),
                **self._kwargs,
            )
        except Exception as exc:  # shown to the user; the window carries on
            traceback.print_exc()
            self.signals.failed.emit(self.id, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        else:
            self.signals.finished.emit(self.id, result)
        finally:
            self.finished_event.set()
            self.signals.done.emit(self.id)


class Workers(QObject):
    """A small pool (inference is one job at a time; loading may overlap)."""

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self.jobs: dict[int, Job] = {}

    def submit(self, fn: Callable, *args, on: Mapping[str, Callable] | None = None, **kwargs) -> Job:
        """Run ``fn`` in the pool. ``on`` maps signal names of JobSignals (progress, item,
        finished, failed, done) to slots, connected before the job starts: a job that fails in
        its first microsecond is still heard."""
        job = Job(next(self._ids), fn, args, kwargs)
        self.jobs[job.id] = job
        for name, slot in (on or {}).items():
            getattr(job.signals, name).connect(slot)
        job.signals.done.connect(self._forget)
        self.pool.start(job)
        return job

    def _forget(self, job_id: int) -> None:
        # Later: other slots of this same "done" emission still need the job's signals.
        QTimer.singleShot(0, lambda: self.jobs.pop(job_id, None))

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has finished (for shutdown and tests)."""
        return self.pool.waitForDone(timeout_ms)

    def busy(self) -> bool:
        return self.pool.activeThreadCount() > 0
