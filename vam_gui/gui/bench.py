"""Window benchmarks for ``vam-gui bench``: start-up, drag handling, the edit round trip,
image switching. Run offscreen.

``window_ready``: in fresh processes, alternated, the time from process launch until the
sample study's first image is painted, through the app's own start path (the shell with its
preview of the image, gui/first_image.py, or else the canvas once the body is built and the
study open), against a bare PySide6 window that paints the same image file in a QLabel;
``window_interactive``: until the canvas has painted the image with its points. The user's
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

# The window's probe: argv[1] is the study ("-": the first-start sample), argv[2] "ready" or
# "memory". It starts as `vam-gui [study]` does (the command line parsed, the open command's
# checks, then run_app's steps) and prints, once the canvas has painted the study's first image (the window is
# interactive): the time the first image was painted (the end of the shell's preview's first
# paint where there is one, else the canvas's), that time, the image's path, whether a preview
# was shown; in
# "memory" mode also the resident MB and whether torch is imported, 2 s later once the
# window's start-up workers are idle.
_PROBE_OURS = """
import os, sys, time
from pathlib import Path
from PySide6.QtCore import QEvent, QObject, QTimer
from vam_gui.gui.app import application, build_window, display_available
mode, marks = sys.argv[2], {}
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
def report(*extra):
    first = marks["canvas"] if preview is None or preview.painted_at is None else preview.painted_at
    print(first, marks["canvas"], marks["shown"], int(preview is not None), *extra, flush=True)
    os._exit(0)  # a model load or worker started by the window may still be running
def settled(waited=0):
    if (window.workers.busy() or window.inference.loading) and waited < 60000:
        QTimer.singleShot(100, lambda: settled(waited + 100))
        return
    report(rss_mb(), int("torch" in sys.modules))
class Painted(QObject):
    def __init__(self, name):
        super().__init__()
        self.name = name
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and self.name not in marks:
            QTimer.singleShot(0, self.after_paint)
        return False
    def after_paint(self):
        marks.setdefault(self.name, time.time())
        if self.name == "canvas":
            QTimer.singleShot(0 if mode == "ready" else 2000, report if mode == "ready" else settled)
filters = [Painted("canvas")]
def image_shown(image_id):
    if "shown" not in marks:
        marks["shown"] = str(window.session.study.image_path(image_id))
        if preview is not None and str(preview.source) != marks["shown"]:
            print("the preview showed", preview.source, "the canvas", marks["shown"], file=sys.stderr)
            os._exit(3)
        window.canvas.viewport().installEventFilter(filters[0])
from vam_gui.cli import parse_command_line  # `vam-gui [open STUDY]`, read as main() reads it
from vam_gui.cli.qt_check import qt_platform_problem
args = parse_command_line([] if sys.argv[1] == "-" else ["open", sys.argv[1]])
assert display_available() and qt_platform_problem() is None  # what the open command checks
app = application()  # what run_app does, with hooks on the first paints
window = build_window([Path(p) for p in args.paths])
preview = window.centralWidget() if window.centralWidget().objectName() == "first-image" else None
window.image_shown.connect(image_shown)
window.show()
app.exec()
"""


def _launch(args: list[str], env: dict[str, str], times: int = 1) -> list[str]:
    """Run a probe in a fresh process; its first fields (times since the epoch, as many as
    ``times``) come back as seconds since the launch, the rest as printed."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, env=env,
                         timeout=300)
    fields = out.stdout.split()
    if out.returncode != 0 or not fields:
        raise RuntimeError(f"the start-up probe failed ({out.returncode}): {out.stderr[-2000:]}")
    return [str(float(f) - t0) for f in fields[:times]] + fields[times:]


def bench_window_start(study: Path | None, *, repeats: int = 5, memory: bool = False) -> dict[str, float]:
    """Window start on ``study`` (None: the first-start sample) against the bare window painting
    the same image, medians over ``repeats`` alternated pairs of fresh processes after one
    warm-up each: ``ready`` is the first image painted (the shell's preview where it shows one),
    ``interactive`` the canvas painted with the image and its points (the body built, the study
    open). ``memory`` adds the window's memory once settled and whether torch was imported."""
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-home-") as home:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home,
               "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "XDG_CACHE_HOME": f"{home}/cache"}
        # As an installed package runs: Python's bytecode cache on (a shell that turns it off
        # would have every start compile our modules; the warm-up start writes the cache).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        target = "-" if study is None else str(study)
        # The first start copies the sample study into the data folder (and warms the file cache).
        warm = _launch([_PROBE_OURS, target, "ready"], env, times=2)
        image = warm[2]
        _launch([_PROBE_BARE, image], env)
        ours, interactive, bare = [], [], []
        for _ in range(repeats):
            bare.append(float(_launch([_PROBE_BARE, image], env)[0]))
            run = _launch([_PROBE_OURS, target, "ready"], env, times=2)
            ours.append(float(run[0]))
            interactive.append(float(run[1]))
        settled = _launch([_PROBE_OURS, target, "memory"], env, times=2) if memory else None
    o, i, b = statistics.median(ours), statistics.median(interactive), statistics.median(bare)
    figures = {"ready_ms": o * 1e3, "bare_ms": b * 1e3, "ready_ratio": o / b, "interactive_ms": i * 1e3,
               "interactive_ratio": i / b, "first_image_was_preview": float(warm[3])}
    if settled is not None:
        figures.update(rss_mb=float(settled[4]), torch_imported=float(settled[5]))
    return figures


def bench_window_ready(repeats: int = 5) -> dict[str, float]:
    """The window's start on the sample study, as ``window_ready_*`` figures."""
    figures = bench_window_start(None, repeats=repeats)
    return {"window_ready_ms": figures["ready_ms"], "window_ready_bare_pyside6_ms": figures["bare_ms"],
            "window_ready_ratio": figures["ready_ratio"], "window_interactive_ms": figures["interactive_ms"],
            "window_interactive_ratio": figures["interactive_ratio"],
            "window_first_image_was_preview": figures["first_image_was_preview"]}


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


class PaintCounter:
    """Counts the paint events a widget receives (an event filter), so a switch benchmark can
    tell that what it timed included the canvas's paint."""

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def eventFilter(inner, _obj, event) -> bool:  # noqa: N802, N805 - Qt naming
                if event.type() == QEvent.Type.Paint:
                    self.count += 1
                return False

        self.count = 0
        self._filter = _Filter()
        widget.installEventFilter(self._filter)


def switch_and_paint(win, image_id: str, canvas_paints: PaintCounter) -> float:
    """Seconds to show ``image_id`` and paint what that changed (canvas, keypoint table, worklist
    row and scroll, panels), as the next pass of the event loop does, each widget once and only
    its dirty region. Raises if the canvas was not painted: the figure must include it."""
    from PySide6.QtWidgets import QApplication

    before = canvas_paints.count
    t0 = time.perf_counter()
    win.session.show_image(image_id)
    QApplication.processEvents()
    elapsed = time.perf_counter() - t0
    if canvas_paints.count == before:
        raise RuntimeError("an image switch in the benchmark did not paint the canvas")
    return elapsed


def _time_switches(win, viewport, n: int) -> list[float]:
    """Seconds to show the next image and paint what changed (no inference)."""
    ids = win.session.study.image_ids()
    paints = PaintCounter(viewport)
    return [switch_and_paint(win, ids[(i + 1) % len(ids)], paints) for i in range(n)]


def run_gui_benchmarks(*, quick: bool = False) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = bench_interaction(moves=20 if quick else 60, releases=5 if quick else 15, switches=4 if quick else 8)
    results.update(bench_window_ready(repeats=2 if quick else 5))
    return results


def gui_bench_steps(*, quick: bool = False) -> list[tuple[str, Callable[[], dict]]]:
    """The window's figures as (what, run) steps (offscreen)."""
    from vam_gui.gui.bench_films import film_bench_step

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return [
        ("drag, release and image switch in the window",
         lambda: bench_interaction(moves=20 if quick else 60, releases=5 if quick else 15,
                                   switches=4 if quick else 8)),
        ("window ready against a bare window (fresh processes)", lambda: bench_window_ready(repeats=2 if quick else 5)),
        film_bench_step(quick=quick),
    ]
