"""The keypoint table; the worklist lives in gui/worklist.py (its names are re-exported here)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from vam_gui.core.annotation import Annotation
from vam_gui.core.schema import Schema
from vam_gui.gui.worklist import STATUS_COLOURS, WorklistModel, WorklistPanel, format_confidence
from vam_gui.gui.worklist_view import unshaped_text

__all__ = ["STATUS_COLOURS", "KeypointTable", "WorklistModel", "WorklistPanel", "format_confidence"]

_LOW_BRUSH = QBrush(QColor("#ff3b30"))  # the confidence of a point under the threshold

class KeypointTable(QTableWidget):
    """Name, position in px and mm, confidence and source of every keypoint."""

    keypoint_chosen = Signal(int)
    HEADERS = ("Keypoint", "x px", "y px", "x mm", "y mm", "Conf.", "Source")

    def __init__(self, schema: Schema, parent=None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        unshaped_text(self)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((64, 52, 52, 48, 48, 42, 70)):
            self.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        self.currentCellChanged.connect(self._cell_changed)
        self._quiet = False
        self.set_schema(schema)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(390, 420)

    def set_schema(self, schema: Schema) -> None:
        self.schema = schema
        self.setRowCount(schema.k)
        for i, name in enumerate(schema.keypoints):
            self.setItem(i, 0, QTableWidgetItem(name))
            for c in range(1, len(self.HEADERS)):
                self.setItem(i, c, QTableWidgetItem(""))
        # what each row's cells 1.. show (and whether its confidence is red): compared in Python
        self._shown: list[tuple[list[str], bool]] = [([""] * (len(self.HEADERS) - 1), False)] * schema.k

    def show_annotation(self, ann: Annotation | None, confidence: np.ndarray | None,
                        spacing: tuple[float, float] | None, threshold: float, rows=None) -> None:
        """Fill every row, or only ``rows`` (the keypoints an edit changed). Only cells whose text
        or colour changes are set: no re-layout of the table, its headers or its dock. An edit's
        cells each repaint only themselves; a whole fill (an image switch) sets its cells with
        the model quiet and repaints the columns it changed once each (sixty cells' signals
        and view updates were a few percent of a switch)."""
        if ann is not None:  # Python values once: numpy scalars format several times slower
            xy, finite = ann.xy.tolist(), np.isfinite(ann.xy).all(axis=1).tolist()
            visible, source = ann.visible.tolist(), list(ann.source)
        conf = None if confidence is None else np.asarray(confidence, dtype=float).tolist()
        model, changed = self.model(), set()
        whole = rows is None
        if whole:  # every row (a switch): the changed columns repainted once below, not a signal per cell
            model.blockSignals(True)
        try:
            for i in range(self.schema.k) if rows is None else rows:
                cells = ["", "", "", "", "", ""]
                if ann is not None and finite[i]:
                    x, y = xy[i]
                    cells[0:2] = [f"{x:.1f}", f"{y:.1f}"]
                    if spacing is not None:
                        cells[2:4] = [f"{x * spacing[1]:.1f}", f"{y * spacing[0]:.1f}"]
                    cells[5] = source[i] + ("" if visible[i] else " (missing)")
                if conf is not None:
                    cells[4] = format_confidence(conf[i])
                low = conf is not None and conf[i] < threshold
                before, was_low = self._shown[i]
                for c, text in enumerate(cells, 1):
                    if before[c - 1] != text:  # an unchanged cell costs no repaint
                        self.item(i, c).setText(text)
                        changed.add(c)
                if low != was_low:
                    self.item(i, 5).setData(Qt.ItemDataRole.ForegroundRole, _LOW_BRUSH if low else None)
                    changed.add(5)
                self._shown[i] = (cells, low)
        finally:
            if whole:
                model.blockSignals(False)
        if whole:
            viewport = self.viewport()
            for c in changed:
                viewport.update(self.columnViewportPosition(c), 0, self.columnWidth(c), viewport.height())

    def select(self, index: int | None) -> None:
        self._quiet = True
        try:
            if index is None:
                self.clearSelection()
            else:
                self.selectRow(index)
        finally:
            self._quiet = False

    def _cell_changed(self, row: int, _col: int, _prev_row: int, _prev_col: int) -> None:
        if not self._quiet and row >= 0:
            self.keypoint_chosen.emit(row)
