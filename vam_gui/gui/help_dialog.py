"""Help > Keyboard shortcuts: every action of the window that has a shortcut, by menu, read
from the actions themselves (so the sheet cannot drift from what the keys do), plus the mouse
gestures of the canvas."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QTableWidget, QTableWidgetItem, QVBoxLayout

MOUSE = (
    ("Canvas", "Drag a point", "move it"),
    ("Canvas", "Left-drag on the image / wheel", "pan / zoom about the cursor (middle-drag pans in a mode too)"),
    ("Canvas", "Shift+drag inside a vertebra", "move its four corners (one edit)"),
    ("Canvas", "Ctrl+drag inside a vertebra", "turn it about its centre, counter-clockwise as dragged (one edit)"),
    ("Canvas", "Shift+Alt+drag / Ctrl+Alt+drag", "move / turn the whole column (one edit)"),
    ("Canvas", "Esc or right button during a drag", "put the point, vertebra or column back"),
    ("Canvas", "Place points in order: S / Backspace", "skip the point (mark it missing) / step back"),
    ("Canvas", "Esc in a click mode", "stop fitting a template, placing points or choosing a region"),
    ("Canvas", "Right-drag", "window (horizontal) and level (vertical)"),
    ("Canvas", "Arrow keys (Shift: 10 px)", "nudge the selected point"),
)


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, key, what it does) for every menu action with a shortcut, in menu order."""
    rows = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for act in menu.actions():
            key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if key:
                rows.append((menu_action.text().replace("&", ""), key, act.text().replace("&", "").rstrip("…")))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window) + list(MOUSE)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Menu", "Key", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 560)
