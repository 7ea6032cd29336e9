"""Qt application set-up (pyqtgraph options live here, once) and the window entry point."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vam_gui.core.settings import data_dir, load_settings

_configured = False


def configure_pyqtgraph() -> None:
    """Radiograph arrays are [row, column]: say so once, before the first ImageItem.
    Called when the canvas is first built (pyqtgraph is not imported before)."""
    global _configured
    if _configured:
        return
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    _configured = True


def display_available() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def quiet_offscreen_warnings() -> None:
    """The offscreen platform (screenshots, benchmarks) warns that it cannot propagate size
    hints on every window layout; drop that line, pass every other Qt message on."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message):
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)


def application():
    """The QApplication (created once)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("vam-gui")
        app.setOrganizationName("vam-gui")
    return app


def bundled_sample() -> tuple[Path | None, Path | None]:
    """(sample study folder, demo checkpoint) shipped in resources, where present."""
    from vam_gui.core.resources import resources_dir

    root = resources_dir()
    study = root / "sample" / "sample.vamstudy"
    model = root / "models" / "demo.safetensors"
    return (study.parent if study.is_file() else None), (model if model.is_file() else None)


def first_start_study() -> Path | None:
    """The user's copy of the bundled sample study (copied on first start, so nothing is
    ever written inside the installed package)."""
    import shutil

    sample, _ = bundled_sample()
    if sample is None:
        return None
    target = data_dir() / "sample"
    study = target / "sample.vamstudy"
    if not study.is_file():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(sample, target)
        for copied in [target, *target.rglob("*")]:  # a package installed read-only copies its mode bits
            copied.chmod(copied.stat().st_mode | 0o200)
    return study


def scratch_study(images: list[Path]) -> tuple[Path | None, list[str]]:
    """The study in the user data folder that holds loose image files given on the command
    line: the same files (by resolved path) always map to the same study, so opening them again
    reuses it (with its edits). Returns (study or None, problems as one line each): a file that
    is missing or cannot be read is a problem; when none can be added no study is left behind."""
    import hashlib

    from vam_gui.io import Study, StudyError

    problems = [f"{p}: no such file or folder" for p in images if not p.exists()]
    present = sorted(str(p.resolve()) for p in images if p.exists())
    if not present:
        return None, problems
    folder = data_dir() / "studies"
    key = hashlib.sha256("\n".join(present).encode("utf-8")).hexdigest()[:16]
    path = folder / f"opened-{key}.vamstudy"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            with Study.open(path) as study:
                report = study.add_images(present)  # files added since: their duplicates are skipped
            return path, problems + _skipped(report.skipped)
        tmp = folder / f".opening-{key}-{os.getpid()}.vamstudy"
        with Study.create(tmp) as study:
            report = study.add_images(present)
        if not report.added:
            _remove_study(tmp)
            return None, problems + _skipped(report.skipped)
        os.replace(tmp, path)
        return path, problems + _skipped(report.skipped)
    except (StudyError, OSError) as exc:
        return None, problems + [str(exc)]


def _skipped(skipped: list[tuple[str, str]]) -> list[str]:
    return [f"{Path(file).name}: {reason}" for file, reason in skipped]


def _remove_study(path: Path) -> None:
    for extra in ("", "-wal", "-shm", "-journal", ".lock"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


def opening_problems(window, problems: list[str], opened: bool) -> None:
    """Say what could not be opened: in the window (or, headless, on stderr with exit status 1)."""
    from vam_gui.gui.messages import warn

    if not problems:
        return
    shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
    title = "Some files could not be opened" if opened else "Nothing could be opened"
    warn(window, title, "\n".join(shown), name="open-problems")


def after_next_paint(widget, fn, *, at_most_ms: int = 1000) -> None:
    """Call ``fn`` once, right after ``widget`` has next been painted (or after ``at_most_ms``,
    should no paint come: a hidden window)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    called = []

    def call() -> None:
        if not called:
            called.append(True)
            widget.removeEventFilter(watcher)
            fn()

    class Watcher(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt naming
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, self, call)  # runs once this paint has finished
            return False

    # Parented to the widget: a window closed first takes the watcher and its timers with it.
    watcher = Watcher(widget)
    widget.installEventFilter(watcher)
    QTimer.singleShot(at_most_ms, watcher, call)


def build_window(paths: list[Path]):
    """The main window. Its shell shows the first image of the study it will open (a preview,
    gui/first_image.py, where the file qualifies); once its body is built (right after the
    first paint) it opens ``paths`` (studies or images), or the sample study, and names the
    model it will use (the last one loaded, else the demo model), which loads when a
    prediction first needs it: torch is not imported while the reviewer only reviews."""
    from vam_gui.gui.main_window import MainWindow

    settings = load_settings()
    window = MainWindow(settings)
    studies = [p for p in paths if p.suffix == ".vamstudy"]
    images = [p for p in paths if p.suffix != ".vamstudy"]
    target = studies[0] if studies else (None if images else first_start_study())
    if target is not None:
        from vam_gui.gui.first_image import first_image_widget

        preview = first_image_widget(target)
        if preview is not None:
            window.setCentralWidget(preview)  # replaced by the canvas when the body is built

    def name_model() -> None:
        _, demo = bundled_sample()
        checkpoint = Path(settings.checkpoint) if settings.checkpoint else demo
        if checkpoint is not None and checkpoint.is_file():
            window.model_controls.defer(checkpoint)  # loaded when a prediction first needs it

    def start() -> None:
        window.body_ready.disconnect(start)
        problems = [f"{p}: only one study can be open; {studies[0].name} is" for p in studies[1:]]
        opening = target
        if studies:
            problems += [f"{p}: not opened with a study (add images with File > New study)" for p in images]
        elif images:
            opening, problems = scratch_study(images)
        opened = opening is not None and window.open_study(opening)
        opening_problems(window, problems, opened)
        if opened:
            after_next_paint(window.canvas.viewport(), name_model)
        else:
            name_model()

    window.body_ready.connect(start)
    return window


def run_app(paths: list[Path]) -> int:
    """Open the window and run the event loop until it closes."""
    if not display_available():
        print("vam-gui: error: no display found (DISPLAY/WAYLAND_DISPLAY unset); run on a desktop, "
              "or set QT_QPA_PLATFORM=offscreen for a headless check", file=sys.stderr)
        return 2
    app = application()
    window = build_window(paths)
    window.show()
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" and os.environ.get("VAM_GUI_EXIT_AFTER_SHOW"):
        # A smoke check of start-up: build everything, let the study open, then leave.
        from PySide6.QtCore import QTimer

        from vam_gui.gui.messages import exit_status

        window.ensure_body()
        QTimer.singleShot(500, window.close)
        return app.exec() or exit_status()
    return app.exec()
