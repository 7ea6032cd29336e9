"""How the worklist's table follows the image on screen: its header and its scrolling; and the
keypoint table's unshaped text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def unshaped_text(view: QAbstractItemView) -> None:
    """Lay the view's text out without HarfBuzz shaping (``QFont.PreferNoShaping``): for a
    table of schema names (ASCII), numbers and a few English words, whose cells an image switch
    repaints by the dozen (shaping was a quarter of the keypoint table's paint in instruction
    counts, callgrind). Not for text that may be in any script: Qt then draws Arabic letters
    unjoined, so the worklist (file and patient names) and the application keep shaping; the
    toolbar's icon font draws nothing without it."""
    font = view.font()
    font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
    view.setFont(font)


class RowHeader(QHeaderView):
    """The worklist's column header. It does not follow the selection: a selected row spans every
    column, so Qt's header would repaint all its sections at every image switch to highlight
    them all; this one stays as drawn (sorting by a click on a section is unchanged)."""

    def __init__(self, parent: QTableView) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionsClickable(True)  # as QTableView's own header: a click sorts

    def currentChanged(self, current, previous) -> None:  # noqa: N802 - Qt naming
        pass

    def selectionChanged(self, selected, deselected) -> None:  # noqa: N802
        pass


def bring_into_view(table: QTableView, row: int) -> None:
    """Scroll only when the row is not wholly in view, and then by a page: a row below the
    view comes second from the top (the image before it above it, those after it below), a
    row above it second from the bottom. Stepping through the list then scrolls once a page,
    not at every image (each scroll repaints the rows, the scroll bar and the header)."""
    model, height = table.model(), table.viewport().height()
    top = table.rowViewportPosition(row)  # of the row's top edge, whichever columns are hidden
    if 0 <= top and top + table.rowHeight(row) <= height:
        return
    hint = QAbstractItemView.ScrollHint
    if top + table.rowHeight(row) / 2 > height / 2:  # wholly or partly below the view
        if row > 0:
            table.scrollTo(model.index(row - 1, 0), hint.PositionAtTop)
    elif row + 1 < model.rowCount():
        table.scrollTo(model.index(row + 1, 0), hint.PositionAtBottom)
    table.scrollTo(model.index(row, 0))  # wholly in view whatever the heights (no scroll when it is)
