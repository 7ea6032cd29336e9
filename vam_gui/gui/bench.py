"""Window benchmarks for ``vam-gui bench``: start-up, drag handling, image switching.

Run offscreen. Start-up is measured in fresh processes (ours and a bare PySide6 window, in
the same run) from process launch to the window's first paint.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_PROBE_BARE = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
class W(QMainWindow):
    painted = None
    def paintEvent(self, e):
        super().paintEvent(e)
        if W.painted is None:
            W.painted = time.time()
            QTimer.singleShot(0, app.quit)
app = QApplication(sys.argv[:1])
w = W(); w.resize(1400, 900); w.setWindowTitle("bare"); w.show()
app.exec()
print(W.painted, W.painted)
"""

_PROBE_OURS = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from vam_gui.gui.app import application
from vam_gui.gui.main_window import MainWindow
app = application()
w = MainWindow()
ready = []
w.body_ready.connect(lambda: (ready.append(time.time()), app.quit()))
w.show()
app.exec()
shown = time.time() - (time.perf_counter() - w.first_paint_at)  # the first paint, on the wall clock
print(shown, ready[0])
"""


def _launch(code: str) -> tuple[float, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    shown, ready = (float(v) for v in out.stdout.split())
    return shown - t0, ready - t0


def bench_startup(repeats: int = 5) -> dict[str, float]:
    bare, ours, ready = [], [], []
    _launch(_PROBE_BARE), _launch(_PROBE_OURS)  # warm the file cache for both
    for _ in range(repeats):
        bare.append(_launch(_PROBE_BARE)[0])
        shown, body = _launch(_PROBE_OURS)
        ours.append(shown)
        ready.append(body)
    b, o = statistics.median(bare), statistics.median(ours)
    return {
        "startup_window_shown_ms": o * 1e3,
        "startup_bare_pyside6_ms": b * 1e3,
        "startup_ratio": o / b,
        "startup_window_ready_ms": statistics.median(ready) * 1e3,
    }


def _bench_study(folder: Path, n_images: int = 2, side: int = 2000, size: int = 512):
    """A study of ``n_images`` 2k x 2k 16-bit radiographs with stand-in predictions + heatmaps."""
    import cv2
    import torch

    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction
    from vam_gui.io import Study
    from vam_gui.model.targets import gaussian_heatmaps

    rng = np.random.default_rng(0)
    images = folder / "images"
    images.mkdir()
    for i in range(n_images):
        img = rng.normal(9000, 800, (side, side))
        for v in range(5):
            y0 = 250 + v * 320
            img[y0:y0 + 230, 700:1300] += 18000
        cv2.imwrite(str(images / f"r{i}.png"), np.clip(img, 0, 65535).astype(np.uint16))
    study = Study.create(folder / "bench.vamstudy")
    study.add_images([images])
    xy = np.array([(x, 250 + v * 320 + dy) for v in range(5) for dy in (0, 229) for x in (700, 1299)], float)
    box = Letterbox.fit(side, side, size)
    maps = gaussian_heatmaps(torch.from_numpy(box.to_model(xy)).float()[None], size)[0].numpy()
    for image_id in study.image_ids():
        study.save_prediction(image_id, Prediction(
            xy=xy, confidence=np.full(20, 0.8, np.float32), spread=np.full(20, 8.0, np.float32),
            letterbox=box, heatmaps=maps.astype(np.float16), keypoints=study.schema.keypoints, model_id="bench"))
    path = study.path
    study.close()
    return path


def bench_interaction(moves: int = 60, switches: int = 8) -> dict[str, float]:
    """Median time of one drag-move event (handling, and handling plus repaint) with K = 20
    points and the overlay on; median time to switch to another 2k x 2k image (no inference)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import application, quiet_offscreen_warnings
    from vam_gui.gui.main_window import MainWindow

    application()
    quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        path = _bench_study(Path(tmp))
        win = MainWindow(Settings(reviewer="bench"))
        win.resize(1400, 900)
        win.show()
        win.open_study(path)
        canvas = win.canvas
        QTest.qWait(100)  # let the view settle its range before aiming at a point
        canvas.viewport().repaint()
        viewport = canvas.viewport()
        item = canvas.layer.items[5]
        start = QPointF(canvas.mapFromScene(item.mapToScene(QPointF(0, 0))))
        left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

        def send(kind, pos, button, buttons):
            QApplication.sendEvent(viewport, QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, buttons,
                                                         Qt.KeyboardModifier.NoModifier))

        send(QEvent.Type.MouseButtonPress, start, left, left)
        handle, with_paint = [], []
        for i in range(1, moves + 1):
            pos = start + QPointF(i % 30, (i * 7) % 20)
            t0 = time.perf_counter()
            send(QEvent.Type.MouseMove, pos, none, left)
            t1 = time.perf_counter()
            viewport.repaint()  # the paint this move causes, done now rather than later
            t2 = time.perf_counter()
            handle.append(t1 - t0)
            with_paint.append(t2 - t0)
        send(QEvent.Type.MouseButtonRelease, pos, left, none)
        edits = len({e.group for e in win.session.study.edit_log()})
        if edits != 1:
            raise RuntimeError(f"the benchmark drag made {edits} edits, not 1")
        ids = win.session.study.image_ids()
        switch = []
        for i in range(switches):
            t0 = time.perf_counter()
            win.session.show_image(ids[(i + 1) % len(ids)])
            viewport.repaint()
            switch.append(time.perf_counter() - t0)
        win.close()
    return {
        "drag_move_ms_median": statistics.median(handle) * 1e3,
        "drag_move_with_repaint_ms_median": statistics.median(with_paint) * 1e3,
        "image_switch_2k_ms_median": statistics.median(switch) * 1e3,
    }


def run_gui_benchmarks(*, quick: bool = False) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = bench_interaction(moves=20 if quick else 60, switches=4 if quick else 8)
    results.update(bench_startup(repeats=2 if quick else 5))
    return results
