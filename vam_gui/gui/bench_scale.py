"""The window's figures on a large study, for ``vam-gui bench --scale N`` (offscreen).

- ``scale_window_ready``: fresh processes, alternated: launch until the study's first image is
  painted (the shell's preview of it, gui/first_image.py), against a bare PySide6 window
  painting the same image in a QLabel; ``scale_window_interactive``: until the canvas has
  painted it with its points (as ``window_ready`` in gui/bench.py, on the scale study).
- ``scale_window_rss_mb``: the window's resident memory once its start-up work is over (its
  workers idle, 2 s after the canvas's first paint) and before any prediction was asked for;
  and whether torch had been imported by then.
- ``scale_image_switch``: showing the next image and painting what that changed (canvas,
  keypoint table, worklist; one pass of the event loop, gui/bench.py's ``switch_and_paint``), with
  the window idle (``idle``: after SWITCH_DWELL_MS on the image before, as a reviewer who looks
  at each image, during which the window reads and checks the next one ahead; ``held``: each
  switch right after the last one painted, as a key held down), and right after the study is
  opened while its workers run (the missing-file check opening starts, and File > Check study
  file's whole-file check, started with it), the window having painted the study it opened
  first: only switches made while a worker still ran count (how many did is reported); against
  a bare QLabel showing the same image files.
- ``scale_sort_uncertainty``: the worklist sorted least-confident first (the sort box), its
  rows read back in order, against sorting the same (id, worst confidence) pairs in Python.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SWITCH_DWELL_MS = 150  # on each image before an idle switch away from it: a quick reviewer's glance


def bench_scale_window_start(study: Path, *, repeats: int = 3) -> dict[str, float]:
    """Window ready and interactive on ``study`` against the bare window (alternated), and its
    memory once settled (gui/bench.py's ``bench_window_start``)."""
    from vam_gui.gui.bench import bench_window_start

    figures = bench_window_start(study, repeats=repeats, memory=True)
    return {"scale_window_ready_ms": figures["ready_ms"], "scale_window_ready_bare_ms": figures["bare_ms"],
            "scale_window_ready_ratio": figures["ready_ratio"],
            "scale_window_interactive_ms": figures["interactive_ms"],
            "scale_window_interactive_ratio": figures["interactive_ratio"],
            "scale_window_first_image_was_preview": figures["first_image_was_preview"],
            "scale_window_rss_mb": figures["rss_mb"], "scale_window_torch_imported": figures["torch_imported"]}


def _switch_times(win, ids: list[str], n: int, *, dwell_ms: int = 0) -> list[float]:
    """``n`` switches to ``ids`` in turn; ``dwell_ms``: the event loop runs that long on each image
    before the switch away from it (a reviewer looking at it; without: a key held down)."""
    from vam_gui.gui.bench import PaintCounter, switch_and_paint
    from vam_gui.gui.bench_films import idle

    paints = PaintCounter(win.canvas.viewport())
    times = []
    for i in range(n):
        if dwell_ms:
            idle(dwell_ms)
        times.append(switch_and_paint(win, ids[i % len(ids)], paints))
    return times


def _bare_switch_times(paths: list[Path], n: int) -> list[float]:
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QApplication, QLabel

    label = QLabel()
    label.resize(1000, 860)
    label.show()
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        label.setPixmap(QPixmap(str(paths[i % len(paths)])))
        QApplication.processEvents()  # its paint, as the switch's (switch_and_paint)
        times.append(time.perf_counter() - t0)
    label.close()
    return times


def _sort_times(win, repeats: int) -> tuple[list[float], list[float]]:
    panel = win.worklist
    infos = list(panel.model.rows)
    ours, bare = [], []
    for _ in range(repeats):
        panel.sort_box.setCurrentIndex(0)
        t0 = time.perf_counter()
        panel.sort_box.setCurrentIndex(2)  # least confident first
        panel.visible_ids()
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sorted(((float("inf") if i.worst_confidence is None else i.worst_confidence, n, i.image_id)
                for n, i in enumerate(infos)))
        bare.append(time.perf_counter() - t0)
    panel.sort_box.setCurrentIndex(0)
    return ours, bare


def bench_scale_window(study: Path, *, switches: int = 20, repeats: int = 5) -> dict[str, float]:
    """Image switches (idle, and while the workers started by opening run) and the worklist's
    sort by uncertainty on ``study``, in this process."""
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import application, quiet_offscreen_warnings
    from vam_gui.gui.bench_films import idle
    from vam_gui.gui.main_window import MainWindow
    from vam_gui.gui.study_dialogs import check_study_file

    application()
    quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(Path(tmp) / "qsettings"))
        win = MainWindow(Settings(reviewer="bench"))
        win.resize(1400, 900)
        win.show()
        win.ensure_body()
        QTest.qWaitForWindowExposed(win)
        QTest.qWait(50)  # on screen, canvas and tables built: every switch below is painted
        win.open_study(study)
        check_study_file(win, win.session)  # the whole-file check, in a worker beside the missing-file one
        # the open's own paint (its first image, the tables: 70 ms here) comes before any key
        # press; left to the first switch, it was a third of the few switches the workers allow
        QApplication.processEvents()
        busy = []
        for image_id in win.session.study.image_ids()[1:switches + 1]:
            if not win.workers.busy():
                break
            busy += _switch_times(win, [image_id], 1)
        win.workers.wait(120000)
        idle(150)  # as the application's event loop idles: the read-ahead of the next image ends too
        ids = win.session.study.image_ids()
        # idle: the reviewer stays a moment on each image (the next is read and checked ahead
        # meanwhile); held: the next key press comes as soon as the switch is painted
        dwelt = _switch_times(win, ids[switches + 1:], switches, dwell_ms=SWITCH_DWELL_MS)
        held = _switch_times(win, ids[2 * switches + 1:], switches)
        bare = _bare_switch_times([win.session.study.image_path(i) for i in ids[switches + 1:]], switches)
        sort, sort_bare = _sort_times(win, repeats)
        win.close()
    return {"scale_image_switch_idle_ms": statistics.median(dwelt) * 1e3,
            "scale_image_switch_held_ms": statistics.median(held) * 1e3,
            "scale_image_switch_workers_running_ms": statistics.median(busy) * 1e3 if busy else float("nan"),
            "scale_image_switch_workers_running_count": float(len(busy)),
            "scale_image_switch_bare_ms": statistics.median(bare) * 1e3,
            "scale_sort_uncertainty_ms": statistics.median(sort) * 1e3,
            "scale_sort_uncertainty_bare_python_ms": statistics.median(sort_bare) * 1e3}


def gui_scale_steps(study: Path, *, quick: bool = False) -> list[tuple[str, Callable[[], dict]]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return [
        ("window ready and its memory on the study, against a bare window (fresh processes)",
         # seven alternated pairs: the bare window's start moves by a third from run to run
         lambda: bench_scale_window_start(study, repeats=1 if quick else 7)),
        ("image switch (idle, and while the open's workers run) and the sort by uncertainty",
         lambda: bench_scale_window(study, switches=8 if quick else 20, repeats=3 if quick else 5)),
    ]
