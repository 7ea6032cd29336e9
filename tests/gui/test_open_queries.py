"""Opening a study costs what is on screen, not what is in the study: the SQL statements the UI
thread runs while the window opens a study and paints its first image are the same for 30
images as for 300 (no query per image; per-image work goes to workers or to single queries)."""

from __future__ import annotations

import sqlite3
import threading

import cv2
import numpy as np

from vam_gui.io import Study


def _study(folder, n):
    images = folder / "images"
    images.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(images / f"i{i:04d}.png"), np.full((40, 30), i % 250, np.uint8))
    with Study.create(folder / "s.vamstudy") as study:
        study.add_images([images])
    return folder / "s.vamstudy"


def _ui_statements(qtbot, path, monkeypatch) -> list[str]:
    """The statements run on this (the UI) thread while a window opens ``path``."""
    from vam_gui.core.settings import Settings
    from vam_gui.gui.main_window import MainWindow
    from vam_gui.io import study_connect

    ui, seen = threading.get_ident(), []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: threading.get_ident() == ui and seen.append(sql))
        return conn

    monkeypatch.setattr(study_connect.sqlite3, "connect", traced)
    win = MainWindow(Settings(reviewer="tester"))
    qtbot.addWidget(win)
    win.show()
    assert win.open_study(path)
    qtbot.waitUntil(lambda: win.canvas.image_item.image is not None, timeout=10000)
    qtbot.wait(200)  # what the open queued on the event loop runs too
    assert win.workers.wait(30000)
    qtbot.wait(50)
    monkeypatch.setattr(study_connect.sqlite3, "connect", connect)
    win.close()
    return seen


def test_opening_runs_no_query_per_image_on_the_ui_thread(qtbot, tmp_path, monkeypatch):
    small = _ui_statements(qtbot, _study(tmp_path / "small", 30), monkeypatch)
    large = _ui_statements(qtbot, _study(tmp_path / "large", 300), monkeypatch)
    assert small, "the trace saw the window's queries"
    assert len(large) == len(small), "\n".join(large[len(small) - 5:][:40])


def test_missing_files_are_found_by_a_worker_and_said(qtbot, tmp_path):
    from vam_gui.core.settings import Settings
    from vam_gui.gui.main_window import MainWindow

    path = _study(tmp_path, 12)
    (tmp_path / "images" / "i0005.png").unlink()
    win = MainWindow(Settings(reviewer="tester"))
    qtbot.addWidget(win)
    win.show()
    said = []
    win.statusBar().messageChanged.connect(said.append)
    assert win.open_study(path)
    qtbot.waitUntil(lambda: any("1 image file(s) of this study are missing" in m for m in said), timeout=10000)
    assert win.workers.wait(10000)
    win.close()
