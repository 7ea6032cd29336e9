"""Image switches on full-size films, for ``vam-gui bench`` (offscreen).

``film_switch_read_ahead``: the reviewer stays on each film a while (``dwell_ms``, the event loop
running as in the application) and steps to the next one; the switch (show it and paint what
changed, gui/bench.py's ``switch_and_paint``) finds the film read ahead (gui/read_ahead.py).
``film_switch_without_read_ahead``: the same steps over the same films with the read-ahead
off, so the switch decodes the film itself. The two are timed in alternate rounds.

The films are 16-bit PNGs of ``height`` x ``width`` px: a phantom radiograph enlarged to that
size with a little noise of its own each, so every file differs and compresses as a film does.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def write_films(folder: Path, n: int, *, height: int, width: int) -> list[Path]:
    import cv2
    import numpy as np

    from vam_gui.synth.generate import make_phantom

    folder.mkdir(parents=True, exist_ok=True)
    base = make_phantom(seed=11, size=(640, int(640 * width / height))).pixels.astype(np.float32)
    base = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    scale = 60000.0 / max(float(base.max()), 1.0)
    rng = np.random.default_rng(5)
    files = []
    for i in range(n):
        film = base * scale + rng.normal(0.0, 300.0, base.shape).astype(np.float32)
        files.append(folder / f"film{i:02d}.png")
        cv2.imwrite(str(files[-1]), np.clip(film, 0, 65535).astype(np.uint16))
    return files


def idle(ms: int) -> None:
    """The event loop as the application runs it (other threads run meanwhile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def bench_film_switch(*, n: int = 6, rounds: int = 2, height: int = 3000, width: int = 2500,
                      dwell_ms: int = 500) -> dict[str, float]:
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest

    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import application, quiet_offscreen_warnings
    from vam_gui.gui.bench import PaintCounter, switch_and_paint
    from vam_gui.gui.main_window import MainWindow
    from vam_gui.io.study import Study

    application()
    quiet_offscreen_warnings()
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="vam-gui-bench-films-") as tmp:
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(Path(tmp) / "qsettings"))
        files = write_films(Path(tmp) / "images", n, height=height, width=width)
        path = Path(tmp) / "films.vamstudy"
        with Study.create(path) as study:
            study.add_images(files)
        win = MainWindow(Settings(reviewer="bench"))
        win.resize(1400, 900)
        win.show()
        win.ensure_body()
        QTest.qWaitForWindowExposed(win)
        win.open_study(path)
        win.workers.wait(120000)
        ids = win.session.study.image_ids()
        paints = PaintCounter(win.canvas.viewport())
        for r in range(2 * rounds):
            ahead = r % 2 == 0
            win.current.read_ahead.enabled = ahead
            switch_and_paint(win, ids[0], paints)  # each round starts from the first film
            idle(dwell_ms)
            for image_id in ids[1:]:
                times[ahead].append(switch_and_paint(win, image_id, paints))
                idle(dwell_ms)
        win.current.read_ahead.enabled = True
        win.close()
    ours, cold = statistics.median(times[True]) * 1e3, statistics.median(times[False]) * 1e3
    return {"film_switch_read_ahead_ms": ours, "film_switch_without_read_ahead_ms": cold,
            "film_switch_ratio": ours / cold, "film_switch_film_megapixels": height * width / 1e6,
            "film_switch_dwell_ms": float(dwell_ms)}


def film_bench_step(*, quick: bool = False):
    what = "image switch on full-size films, read ahead or not (the reviewer stays on each)"
    if quick:
        return what, lambda: bench_film_switch(n=3, rounds=1, height=1500, width=1250, dwell_ms=300)
    return what, lambda: bench_film_switch()


def _main() -> None:  # python -m vam_gui.gui.bench_films
    t0 = time.perf_counter()
    print(bench_film_switch(), f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    _main()
