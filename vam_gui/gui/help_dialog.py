"""Help > Keyboard shortcuts: every action of the window that has a shortcut, by menu, read
from the actions themselves (so the sheet cannot drift from what the keys do), plus the mouse
gestures of the canvas."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QTableWidget, QTableWidgetItem, QVBoxLayout

MOUSE = (
    ("Canvas", "Drag a point", "move it (right button or Esc during the drag: put it back)"),
    ("Canvas", "Left-drag on the image / wheel", "pan / zoom about the cursor"),
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
