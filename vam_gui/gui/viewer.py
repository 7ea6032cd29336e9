"""A radiograph viewer window: image with window/level, zoom/pan and cursor read-out.

The full review window (worklist, overlays, editing) is built on top of this canvas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox

from vam_gui import __version__


class ViewerWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(f"vam-gui {__version__}")
        self.resize(1000, 800)
        self.radiograph = None

        self.view = pg.ImageView()
        self.view.ui.roiBtn.hide()
        self.view.ui.menuBtn.hide()
        self.view.getView().invertY(True)
        self.view.getView().setAspectLocked(True)
        self.setCentralWidget(self.view)
        self.hint = pg.TextItem("File > Open image (Ctrl+O) to view a radiograph", color="#aaa")
        self.view.getView().addItem(self.hint)

        self.cursor_label = QLabel("")
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.view.getView().scene().sigMouseMoved.connect(self._on_mouse_moved)

        menu = self.menuBar().addMenu("&File")
        act = QAction("&Open image…", self)
        act.setShortcut(QKeySequence.StandardKey.Open)
        act.triggered.connect(self._ask_open)
        menu.addAction(act)
        act = QAction("&Quit", self)
        act.setShortcut(QKeySequence.StandardKey.Quit)
        act.triggered.connect(self.close)
        menu.addAction(act)

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open radiograph", "", "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.dcm);;All files (*)")
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> bool:
        from vam_gui.io import RadiographError, load_radiograph

        try:
            rad = load_radiograph(path)
        except RadiographError as exc:
            QMessageBox.warning(self, "Cannot open image", str(exc))
            return False
        self.radiograph = rad
        self.hint.setVisible(False)
        self.view.setImage(rad.pixels, autoRange=True, autoLevels=False,
                           levels=(rad.window.lower, rad.window.upper))
        self.setWindowTitle(f"{path.name} — vam-gui {__version__}")
        for warning in rad.warnings:
            self.statusBar().showMessage(warning, 10000)
        return True

    def _on_mouse_moved(self, pos) -> None:
        rad = self.radiograph
        if rad is None:
            return
        p = self.view.getImageItem().mapFromScene(pos)
        # Pixel (i, j) covers [j, j+1) x [i, i+1) on the item; its centre is x = j, y = i.
        x, y = p.x() - 0.5, p.y() - 0.5
        j, i = int(np.floor(p.x())), int(np.floor(p.y()))
        h, w = rad.pixels.shape
        if not (0 <= i < h and 0 <= j < w):
            self.cursor_label.setText("")
            return
        text = f"x {x:.1f}  y {y:.1f} px"
        if rad.spacing:
            text += f"  ({x * rad.spacing[1]:.1f}, {y * rad.spacing[0]:.1f} mm)"
        self.cursor_label.setText(f"{text}   value {rad.pixels[i, j]:g}")
