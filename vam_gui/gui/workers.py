"""Run plain functions off the UI thread on superqt's thread workers.

A job calls ``fn(*args, progress=..., cancel=..., emit=..., **kwargs)``: ``progress(done,
total)`` reports progress, ``cancel()`` says whether to stop, ``emit(item)`` streams a
partial result. superqt's ``WorkerBase`` runs it and emits ``returned`` / ``errored`` /
``finished``; this module relays them, with progress and streamed items, as signals that
carry the job id, so the window can ignore results it no longer wants. Slots given to
``Workers.submit`` are connected before the job is queued: a job that fails in its first
microsecond is still heard.

A cancelled job still returns what it has done (a prediction run returns the images it
finished), so cancelling sets the job's own flag rather than superqt's ``quit()``, which
would swallow the return value.
"""

from __future__ import annotations

import functools
import itertools
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, Signal

if TYPE_CHECKING:
    from superqt.utils._qthreading import WorkerBase

_running: set[Any] = set()  # jobs queued or running: alive until their thread is done with them


@functools.cache
def _job_class() -> type[WorkerBase]:
    """The job class, built on the first job: importing superqt loads all of its widgets, which
    the window's shell must not wait for (it is needed once the first job starts)."""
    from superqt.utils._qthreading import WorkerBase, WorkerBaseSignals  # not re-exported by superqt.utils

    class JobSignals(WorkerBaseSignals):
        """superqt's signals plus ours, each of ours carrying the job id first. The window's
        slots connect to ours directly, so a slot of a QObject that is gone is never called."""

        job_progress = Signal(int, int, int)  # job id, done, total
        job_item = Signal(int, object)  # job id, a streamed partial result
        job_finished = Signal(int, object)  # job id, return value (superqt's returned)
        job_failed = Signal(int, str)  # job id, one-line message (superqt's errored)
        job_done = Signal(int)  # job id, always last (superqt's finished)

    class Job(WorkerBase):
        """One call of ``fn`` in a worker thread, with an id and a cancel flag."""

        def __init__(self, job_id: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
            super().__init__(SignalsClass=JobSignals)
            self.setAutoDelete(False)  # Workers.jobs keeps it until its last signal is delivered
            self.id = job_id
            self._fn, self._args, self._kwargs = fn, args, kwargs
            self._cancel = threading.Event()
            self.finished_event = threading.Event()
            sig, direct = self.signals, Qt.ConnectionType.DirectConnection
            # superqt's signals -> ours with the id, relayed in the worker thread (direct), so the
            # window's slots are queued once, to their own thread, in the order emitted.
            sig.returned.connect(lambda result: sig.job_finished.emit(job_id, result), direct)
            sig.errored.connect(lambda exc: sig.job_failed.emit(job_id, _report(exc)), direct)
            sig.finished.connect(lambda: sig.job_done.emit(job_id), direct)

        def run(self) -> None:
            """WorkerBase.run's protocol (started, returned or errored, finished), without its
            swap of the process-wide ``warnings.showwarning`` for the job's life: with two jobs
            in two threads the swaps interleave and can leave the global hook pointing at a
            finished job's signals."""
            sig = self.signals
            try:
                sig.started.emit()
                try:
                    result = self.work()
                except Exception as exc:  # said to the window as one line; the traceback to stderr
                    sig.errored.emit(exc)
                else:
                    sig.returned.emit(result)
                sig.finished.emit()
            except RuntimeError:
                # The window (and with it the signals' receivers) went away while the job ran:
                # there is nobody left to tell, and an exception must not reach Qt's thread pool.
                pass
            finally:
                _running.discard(self)

        def cancel(self) -> None:
            self._cancel.set()

        @property
        def cancelled(self) -> bool:
            return self._cancel.is_set()

        def work(self) -> Any:
            try:
                return self._fn(
                    *self._args,
                    progress=lambda done, total: self.signals.job_progress.emit(self.id, int(done), int(total)),
                    cancel=self._cancel.is_set,
                    emit=lambda item: self.signals.job_item.emit(self.id, item),
                    **self._kwargs,
                )
            finally:
                self.finished_event.set()

    return Job


def _report(exc: BaseException) -> str:
    """The traceback to stderr; the one line a user sees back."""
    traceback.print_exception(type(exc), exc, exc.__traceback__)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Workers(QObject):
    """A small pool (inference is one job at a time; loading may overlap)."""

    _SIGNALS = {"progress": "job_progress", "item": "job_item", "finished": "job_finished",
                "failed": "job_failed", "done": "job_done"}

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self.jobs: dict[int, Any] = {}

    def submit(self, fn: Callable[..., Any], *args: Any, on: Mapping[str, Callable[..., Any]] | None = None,
               **kwargs: Any) -> Any:
        """Run ``fn`` in the pool. ``on`` maps progress, item, finished, failed and done to
        slots called with the job id first: ``progress(id, done, total)``, ``item(id, item)``,
        ``finished(id, result)``, ``failed(id, one_line_message)``, ``done(id)`` (always last,
        also after a failure or a cancel). All are connected before the job is queued."""
        slots = dict(on or {})
        unknown = set(slots) - set(self._SIGNALS)
        if unknown:
            raise TypeError(f"unknown job signal(s): {', '.join(sorted(unknown))}")
        job = _job_class()(next(self._ids), fn, args, kwargs)
        self.jobs[job.id] = job
        for name, slot in slots.items():
            getattr(job.signals, self._SIGNALS[name]).connect(slot)
        job.signals.job_done.connect(self._forget)
        _running.add(job)
        self.pool.start(job)
        return job

    def _forget(self, job_id: int) -> None:
        # Later: other slots of this same "finished" emission still need the job's signals.
        QTimer.singleShot(0, lambda: self.jobs.pop(job_id, None))

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has finished (for shutdown and tests)."""
        return self.pool.waitForDone(timeout_ms)

    def busy(self) -> bool:
        return self.pool.activeThreadCount() > 0
