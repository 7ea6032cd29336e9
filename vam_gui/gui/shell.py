"""The shell's layout, made to match the body's before the body exists.

The shell shows the study's first image where the canvas will be (gui/first_image.py); for
the image not to jump when the body arrives, the shell's empty docks take the widths the body
gives them and its toolbar buttons the size they will have once their icons (qtawesome, loaded
with the body) are set: a transparent icon of the toolbar's icon size stands in until then.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QMainWindow, QToolBar

DOCK_WIDTHS = {"Worklist": 280, "Keypoints": 390}  # a first start's widths (no saved layout)


def size_docks(window: QMainWindow, docks: dict) -> None:
    """Give the worklist and keypoint docks their first-start widths."""
    names = list(DOCK_WIDTHS)
    window.resizeDocks([docks[n] for n in names], [DOCK_WIDTHS[n] for n in names], Qt.Orientation.Horizontal)


def blank_toolbar_icons(bars: list[QToolBar]) -> None:
    """A transparent icon of the toolbar's icon size on each of its actions still without one.
    The bars are named, not searched for: ``findChildren`` wraps every object of the window
    (each action and menu) in Python, 5 ms of a start of ~400 ms."""
    for bar in bars:
        pixmap = QPixmap(bar.iconSize())
        pixmap.fill(QColor(0, 0, 0, 0))
        blank = QIcon()  # then the pixmap: QIcon(pixmap)'s overload check builds the QIconEngine type
        blank.addPixmap(pixmap)
        for act in bar.actions():
            if act.icon().isNull():
                act.setIcon(blank)


def shape_shell(window: QMainWindow, docks: dict, bars: list[QToolBar], *, layout_restored: bool) -> None:
    blank_toolbar_icons(bars)
    if not layout_restored:
        size_docks(window, docks)


def restore_layout_of(window: QMainWindow) -> bool:
    """The window's geometry and dock layout as it was closed; False when none was saved."""
    qs = QSettings("vam-gui", "vam-gui")
    geometry, state = qs.value("geometry"), qs.value("state")
    if geometry is not None:
        window.restoreGeometry(geometry)
    return state is not None and window.restoreState(state)


def save_layout_of(window: QMainWindow) -> None:
    qs = QSettings("vam-gui", "vam-gui")
    qs.setValue("geometry", window.saveGeometry())
    qs.setValue("state", window.saveState())
