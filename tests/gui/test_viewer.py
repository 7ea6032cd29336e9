"""The viewer window, offscreen."""

import cv2
import numpy as np

from vam_gui.gui.app import configure_pyqtgraph
from vam_gui.gui.viewer import ViewerWindow


def test_viewer_shows_a_radiograph_with_its_window(qtbot, tmp_path):
    configure_pyqtgraph()
    img = np.zeros((120, 80), np.uint16)
    img[30:90, 20:60] = 4000
    path = tmp_path / "r.png"
    cv2.imwrite(str(path), img)
    window = ViewerWindow()
    qtbot.addWidget(window)
    assert window.open_image(path)
    item = window.view.getImageItem()
    assert item.image.shape == (120, 80)  # row-major: rows stay rows
    lo, hi = item.getLevels()
    win = window.radiograph.window
    assert (lo, hi) == (win.lower, win.upper)
    window.resize(400, 500)
    window.grab().save(str(tmp_path / "viewer.png"))
    assert "r.png" in window.windowTitle()


def test_viewer_reports_unreadable_files(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    window = ViewerWindow()
    qtbot.addWidget(window)
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    assert not window.open_image(bad)
    assert shown and "bad.png" in shown[0]
