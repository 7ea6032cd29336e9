"""Qt application set-up (pyqtgraph options live here, once) and the window entry point."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    # Radiograph arrays are [row, column]; say so once for every ImageItem.
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def _display_available() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_app(paths: list[Path]) -> int:
    """Open the window on ``paths`` and run the event loop until it closes."""
    if not _display_available():
        print("vam-gui: error: no display found (DISPLAY/WAYLAND_DISPLAY unset); run on a desktop, "
              "or set QT_QPA_PLATFORM=offscreen for a headless check", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    configure_pyqtgraph()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("vam-gui")
    app.setOrganizationName("vam-gui")

    from vam_gui.gui.viewer import ViewerWindow

    window = ViewerWindow()
    for path in paths:
        window.open_image(path)
    window.show()
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" and os.environ.get("VAM_GUI_EXIT_AFTER_SHOW"):
        return 0  # a smoke check of start-up: nothing to interact with offscreen
    return app.exec()
