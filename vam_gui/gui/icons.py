"""Toolbar and menu icons from qtawesome's bundled icon fonts (they work offline)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

NAMES = {
    "new": "fa5s.file-medical",
    "open": "fa5s.folder-open",
    "undo": "fa5s.undo",
    "redo": "fa5s.redo",
    "accept-prediction": "fa5s.magic",
    "accepted": "fa5s.check-circle",
    "flag": "fa5s.flag",
    "next": "fa5s.arrow-down",
    "previous": "fa5s.arrow-up",
    "heatmap": "fa5s.fire",
    "fit": "fa5s.expand",
    "model": "fa5s.brain",
    "predict": "fa5s.play",
}


@cache
def icon(name: str) -> QIcon:
    import qtawesome

    try:
        return qtawesome.icon(NAMES.get(name, name), color="#5c5c5c", color_active="#1e88e5")
    except Exception:  # an unknown name must not stop the window from opening
        return QIcon()
