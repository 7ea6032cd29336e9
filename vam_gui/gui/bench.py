"""Window benchmarks for ``vam-gui bench``: start-up, drag handling, the edit round trip,
image switching. Run offscreen.

``window_ready``: in fresh processes, alternated, the time from process launch until the
sample study's first image is painted on the canvas, through the app's own start path (the
shell, the body, the first-start copy of the sample, the study, the model load it starts),
against a bare PySide6 window that paints the same image file in a QLabel. The user's
folders are replaced by a scratch one, so the user's settings, recent studies and model are
neither read nor written.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Both probes print the wall-clock time once the image has been painted: the paint event is
# followed by a zero timer, which runs after the paint has finished.
_PROBE_BARE = """
import os, sys, time
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
def done():
    print(time.time(), flush=True)
    os._exit(0)
class Label(QLabel):
    painted = False
    def paintEvent(self, e):
        super().paintEvent(e)
        if not Label.painted and self.pixmap() is not None and not self.pixmap().isNull():
            Label.painted = True
            QTimer.singleShot(0, done)
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1400, 900); w.setWindowTitle("bare")
label = Label(); label.setAlignment(Qt.AlignmentFlag.AlignCenter)
label.setPixmap(QPixmap(sys.argv[1]).scaled(1000, 860, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))
w.setCentralWidget(label); w.show()
app.exec()
"""

_PROBE_OURS = """
import os, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from vam_gui.gui.app import application, build_window, display_available
shown = []
def done():
    print(time.time(), shown[0], flush=True)
    os._exit(0)  # the model load started by the window may still be running
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, done)
        return False
painted = Painted()
def image_shown(image_id):
    shown.append(window.session.study.image_path(image_id))
    window.canvas.viewport().installEventFilter(painted)
assert display_available()
app = application()  # what run_app does, with a hook on the first image shown
window = build_window([])
window.image_shown.connect(image_shown)
window.show()
app.exec()
"""


def _launch(args: list[str], env: dict[str, str]) -> list[str]:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, env=env, check=True,
                         timeout=300)
    fields = out.stdout.split()
    if not fields:
        raise RuntimeError(f"the start-up probe printed nothing: {out.stderr[-2000:]}")
    return [str(float(fields[0]) - t0), *fields[1:]]


def bench_window_ready(repeats: int = 5) -> dict[str, float]:
    """Median over ``repeats`` alternated pairs of fresh processes (after one warm-up each)."""
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-home-") as home:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home,
               "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "XDG_CACHE_HOME": f"{home}/cache"}
        # The first start copies the sample study into the data folder (and warms the file cache).
        warm = _launch([_PROBE_OURS], env)
        if len(warm) < 2:
            raise RuntimeError("the window showed no image: is the sample study in resources?")
        image = warm[1]
        _launch([_PROBE_BARE, image], env)
        ours, bare = [], []
        for _ in range(repeats):
            bare.append(float(_launch([_PROBE_BARE, image], env)[0]))
            ours.append(float(_launch([_PROBE_OURS], env)[0]))
    o, b = statistics.median(ours), statistics.median(bare)
    return {
        "window_ready_ms": o * 1e3,
        "window_ready_bare_pyside6_ms": b * 1e3,
        "window_ready_ratio": o / b,
    }


def _bench_study(folder: Path, n_images: int = 2, side: int = 2000, size: int = 512):
    """A study of ``n_images`` 2k x 2k 16-bit radiographs with stand-in predictions + heatmaps."""
    import cv2

    from vam_gui.core.gaussian import gaussian_windows
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction
    from vam_gui.io import Study

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
    maps = gaussian_windows(box.to_model(xy), size)
    for image_id in study.image_ids():
        study.save_prediction(image_id, Prediction(
            xy=xy, confidence=np.full(20, 0.8, np.float32), spread=np.full(20, 8.0, np.float32),
            letterbox=box, heatmaps=maps.astype(np.float16), keypoints=study.schema.keypoints, model_id="bench"))
    path = study.path
    study.close()
    return path


def bench_interaction(moves: int = 60, releases: int = 15, switches: int = 8) -> dict[str, float]:
    """On a 2k x 2k image with K = 20 points, a prediction and the overlay on (medians):

    - one drag-move event, handled, and handled and painted (the drag already started: the
      scene takes a quick press for a click until the mouse has gone 25 px; moves are spaced
      beyond pyqtgraph's rate limit, which would drop them unhandled);
    - a released drag until the marker, the keypoint table and the measurements are redrawn:
      the command, its committed transaction, the session's events, and the paints of what
      they made dirty, with the Keypoints tab in front (the measurements are computed; their
      tab draws when it comes to the front) and with the Measurements tab in front;
    - a switch to another image, painted (no inference)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest

    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import application, quiet_offscreen_warnings
    from vam_gui.gui.main_window import MainWindow

    application()
    quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-") as tmp:
        # The default dock layout, and the user's own layout neither read nor overwritten.
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(Path(tmp) / "qsettings"))
        path = _bench_study(Path(tmp))
        win = MainWindow(Settings(reviewer="bench"))
        win.resize(1400, 900)
        win.show()
        win.open_study(path)
        QTest.qWait(100)  # let the view settle its range before aiming at a point
        mouse = _Mouse(win.canvas)
        mouse.viewport.repaint()
        handle, with_paint = _time_drag_moves(mouse, moves)
        study = win.session.study
        if len({e.group for e in study.edit_log()}) != 1:
            raise RuntimeError("the benchmark drag did not make exactly one edit")
        release_keypoints = _time_releases(mouse, study, releases)
        win.docks["Measurements"].raise_()
        QTest.qWait(50)
        release_measurements = _time_releases(mouse, study, releases)
        win.docks["Keypoints"].raise_()
        QTest.qWait(50)
        switch = _time_switches(win, mouse.viewport, switches)
        win.close()
    return {
        "drag_move_ms_median": statistics.median(handle) * 1e3,
        "drag_move_with_repaint_ms_median": statistics.median(with_paint) * 1e3,
        "edit_release_to_refreshed_ms": statistics.median(release_keypoints) * 1e3,
        "edit_release_to_refreshed_measurements_tab_ms": statistics.median(release_measurements) * 1e3,
        "image_switch_2k_ms_median": statistics.median(switch) * 1e3,
    }


class _Mouse:
    """Left-button mouse events sent straight to the canvas viewport. pyqtgraph drops mouse
    moves closer together than 1 / mouseRateLimit s, so ``move`` spaces them out (untimed):
    every timed move is handled rather than dropped."""

    def __init__(self, canvas) -> None:
        import pyqtgraph as pg
        from PySide6.QtCore import QEvent, QPointF, Qt
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication

        self.canvas = canvas
        self.viewport = canvas.viewport()
        self.past_click = QPointF(30, 20)  # beyond the scene's 25 px: a drag, not a click
        rate = pg.getConfigOption("mouseRateLimit")
        self.spacing = 1.0 / rate + 0.002 if rate > 0 else 0.0
        self._event, self._send, self._point, self._types = QMouseEvent, QApplication.sendEvent, QPointF, QEvent.Type
        self._left, self._none, self._no_modifier = (Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton,
                                                     Qt.KeyboardModifier.NoModifier)

    def _post(self, kind, pos, button, buttons) -> None:
        self._send(self.viewport, self._event(kind, pos, self.viewport.mapToGlobal(pos), button, buttons,
                                              self._no_modifier))

    def press(self, pos) -> None:
        self._post(self._types.MouseButtonPress, pos, self._left, self._left)

    def move(self, pos, *, spaced: bool = True) -> None:
        """A move with the button held; ``spaced=False``: the caller has already waited."""
        if spaced:
            time.sleep(self.spacing)
        self._post(self._types.MouseMove, pos, self._none, self._left)

    def release(self, pos) -> None:
        self._post(self._types.MouseButtonRelease, pos, self._left, self._none)

    def marker(self, index: int):
        """The viewport position of keypoint ``index``'s marker."""
        item = self.canvas.layer.items[index]
        return self._point(self.canvas.mapFromScene(item.mapToScene(self._point(0, 0))))


def _time_drag_moves(mouse: _Mouse, moves: int) -> tuple[list[float], list[float]]:
    """(handled, handled and painted) seconds of each move of one long drag of point 5."""
    from PySide6.QtCore import QPointF

    start = mouse.marker(5)
    mouse.press(start)
    mouse.move(start + mouse.past_click)
    handle, with_paint = [], []
    for i in range(1, moves + 1):
        pos = start + mouse.past_click + QPointF(i % 30, (i * 7) % 20)
        time.sleep(mouse.spacing)
        t0 = time.perf_counter()
        mouse.move(pos, spaced=False)
        t1 = time.perf_counter()
        mouse.viewport.repaint()  # the paint this move causes, done now rather than later
        t2 = time.perf_counter()
        handle.append(t1 - t0)
        with_paint.append(t2 - t0)
    mouse.move(start)  # back: clear of the other points' labels
    mouse.release(start)
    return handle, with_paint


def _time_releases(mouse: _Mouse, study, n: int) -> list[float]:
    """Seconds from each of ``n`` short drags' release until what it made dirty is painted."""
    from PySide6.QtWidgets import QApplication

    times = []
    for r in range(n):
        step = mouse.past_click * (1 if r % 2 else -1)  # up-left and back: clear of other points' labels
        begin = mouse.marker(5)
        mouse.press(begin)
        for f in (0.4, 0.8, 1.0):
            mouse.move(begin + step * f)
        edits = len(study.edit_log())
        t0 = time.perf_counter()
        mouse.release(begin + step)
        # The paints the release asked for (canvas, table row, measurements, worklist),
        # each of its dirty region, done now: what the next pass of the event loop does.
        QApplication.processEvents()
        times.append(time.perf_counter() - t0)
        if len(study.edit_log()) == edits:
            raise RuntimeError("a benchmark drag was not released as an edit")
    return times


def _time_switches(win, viewport, n: int) -> list[float]:
    """Seconds to show the next image and paint the canvas and the keypoint table (no inference)."""
    ids = win.session.study.image_ids()
    switch = []
    for i in range(n):
        t0 = time.perf_counter()
        win.session.show_image(ids[(i + 1) % len(ids)])
        viewport.repaint()
        win.keypoints.viewport().repaint()
        switch.append(time.perf_counter() - t0)
    return switch


def run_gui_benchmarks(*, quick: bool = False) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = bench_interaction(moves=20 if quick else 60, releases=5 if quick else 15, switches=4 if quick else 8)
    results.update(bench_window_ready(repeats=2 if quick else 5))
    return results


def gui_bench_steps(*, quick: bool = False) -> list[tuple[str, Callable[[], dict]]]:
    """The window's figures as (what, run) steps (offscreen)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return [
        ("drag, release and image switch in the window",
         lambda: bench_interaction(moves=20 if quick else 60, releases=5 if quick else 15,
                                   switches=4 if quick else 8)),
        ("window ready against a bare window (fresh processes)", lambda: bench_window_ready(repeats=2 if quick else 5)),
    ]
