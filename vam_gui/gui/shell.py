"""The shell's layout, made to match the body's before the body exists.

The shell shows the study's first image where the canvas will be (gui/first_image.py); for
the image not to jump when the body arrives, the shell's empty docks take the widths the body
gives them and its toolbar buttons the size they will have once their icons (qtawesome, loaded
with the body) are set: a transparent icon of the toolbar's icon size stands in until then.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QMainWindow, QToolBar

DOCK_WIDTHS = {"Worklist": 280, "Keypoints": 390}  # a first start's widths (no saved layout)


def size_docks(window: QMainWindow, docks: dict) -> None:
    """Give the worklist and keypoint docks their first-start widths."""
    names = list(DOCK_WIDTHS)
    window.resizeDocks([docks[n] for n in names], [DOCK_WIDTHS[n] for n in names], Qt.Orientation.Horizontal)


def blank_toolbar_icons(window: QMainWindow) -> None:
    """A transparent icon of the toolbar's icon size on each toolbar action still without one."""
    for bar in window.findChildren(QToolBar):
        pixmap = QPixmap(bar.iconSize())
        pixmap.fill(QColor(0, 0, 0, 0))
        blank = QIcon(pixmap)
        for act in bar.actions():
            if act.icon().isNull():
                act.setIcon(blank)


def shape_shell(window: QMainWindow, docks: dict, *, layout_restored: bool) -> None:
    blank_toolbar_icons(window)
    if not layout_restored:
        size_docks(window, docks)
