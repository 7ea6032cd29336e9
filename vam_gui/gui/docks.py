"""The worklist (images with status, worst confidence, reviewer) and the keypoint table."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vam_gui.core.annotation import STATUSES, Annotation
from vam_gui.core.schema import Schema

STATUS_COLOURS = {"unreviewed": "#9e9e9e", "in_progress": "#ffb703", "accepted": "#06d6a0",
                  "flagged": "#ff3b30"}
STATUS_ORDER = {s: i for i, s in enumerate(("flagged", "unreviewed", "in_progress", "accepted"))}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def format_confidence(value: float) -> str:
    """A heatmap peak shown as a confidence: within [0, 1], two decimals (a peak can overshoot 1
    a little where Gaussians overlap; 1.01 means nothing to a reader)."""
    value = float(value)
    if value != value:  # NaN: no model confidence vouches for this point (moved, placed, re-predicted)
        return "–"
    return f"{min(max(value, 0.0), 1.0):.2f}"


class WorklistModel(QAbstractTableModel):
    HEADERS = ("Image", "Status", "Conf.", "Spread", "Flags", "Reviewer")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []  # ImageInfo
        self.flag_counts: dict[str, int] = {}  # image id -> number of anatomical check flags
        self._index: dict[str, int] = {}

    def set_images(self, infos: list) -> None:
        self.beginResetModel()
        self.rows = list(infos)
        self._index = {info.image_id: i for i, info in enumerate(self.rows)}
        self.endResetModel()

    def update_image(self, info) -> None:
        row = self._index.get(info.image_id)
        if row is None:
            return
        self.rows[row] = info
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def set_flags(self, image_id: str, count: int) -> None:
        if self.flag_counts.get(image_id) == count:
            return
        self.flag_counts[image_id] = count
        row = self._index.get(image_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 4), self.index(row, 4))

    def set_flags_many(self, counts: dict[str, int]) -> None:
        """A batch from the flag-count worker: one repaint of the column, not one per image."""
        self.flag_counts.update(counts)
        if self.rows:
            self.dataChanged.emit(self.index(0, 4), self.index(len(self.rows) - 1, 4))

    def row_of(self, image_id: str) -> int | None:
        return self._index.get(image_id)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        info = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return info.file_name
            if col == 1:
                return info.status.replace("_", " ")
            if col == 2:
                return "" if info.worst_confidence is None else format_confidence(info.worst_confidence)
            if col == 3:
                return "" if info.max_spread is None else f"{info.max_spread:.1f}"
            if col == 4:
                n = self.flag_counts.get(info.image_id)
                return "" if not n else str(n)
            return info.reviewer or ""
        if role == SORT_ROLE:
            if col == 1:
                return STATUS_ORDER[info.status]
            if col == 2:  # most uncertain first; never-predicted last
                return math.inf if info.worst_confidence is None else info.worst_confidence
            if col == 3:  # widest peak first
                return math.inf if info.max_spread is None else -info.max_spread
            if col == 4:  # most flags first
                return -self.flag_counts.get(info.image_id, 0)
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        if role == Qt.ItemDataRole.ForegroundRole and col == 4 and self.flag_counts.get(info.image_id):
            return QBrush(QColor("#ff3b30"))
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return QBrush(QColor(STATUS_COLOURS[info.status]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return info.rel_path + (f"\n{info.comment}" if info.comment else "")
        return None


class WorklistFilter(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.status: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_status(self, status: str | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter is deprecated there
            self.beginFilterChange()
            self.status = status
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.status = status
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:  # noqa: N802
        if self.status is None:
            return True
        return self.sourceModel().rows[row].status == self.status


class WorklistPanel(QWidget):
    image_chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = WorklistModel()
        self.proxy = WorklistFilter()
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # order added
        self.proxy.sort(-1)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(36)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((118, 76, 44, 50, 40)):
            self.table.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        self.filter_box = QComboBox()
        self.filter_box.addItem("All images", None)
        for status in STATUSES:
            self.filter_box.addItem(status.replace("_", " ").capitalize(), status)
        self.filter_box.currentIndexChanged.connect(
            lambda _: self.proxy.set_status(self.filter_box.currentData()))
        self.sort_box = QComboBox()
        self.sort_box.addItems(["Order added", "By status", "Least confident first", "Widest spread first",
                                "Most flags first"])
        self.sort_box.currentIndexChanged.connect(self._sort)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter_box, 1)
        top.addWidget(self.sort_box, 1)
        self.setMinimumWidth(240)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._quiet = False

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(300, 600)

    def _sort(self, which: int) -> None:
        column = {0: -1, 1: 1, 2: 2, 3: 3, 4: 4}[which]
        self.table.horizontalHeader().setSortIndicator(column, Qt.SortOrder.AscendingOrder)
        self.proxy.sort(column, Qt.SortOrder.AscendingOrder)

    def _row_changed(self, current, _previous) -> None:
        if self._quiet or not current.isValid():
            return
        source = self.proxy.mapToSource(current)
        self.image_chosen.emit(self.model.rows[source.row()].image_id)

    def select(self, image_id: str) -> None:
        row = self.model.row_of(image_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self._quiet = True
        try:
            self.table.setCurrentIndex(index)
            self.table.scrollTo(index)
        finally:
            self._quiet = False

    def visible_ids(self) -> list[str]:
        """Image ids in the order shown (filter and sort applied)."""
        return [self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].image_id
                for r in range(self.proxy.rowCount())]


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

    def show_annotation(self, ann: Annotation | None, confidence: np.ndarray | None,
                        spacing: tuple[float, float] | None, threshold: float, rows=None) -> None:
        """Fill every row, or only ``rows`` (the keypoints an edit changed)."""
        self.setUpdatesEnabled(False)
        try:
            for i in range(self.schema.k) if rows is None else rows:
                self._show_row(i, ann, confidence, spacing, threshold)
        finally:
            self.setUpdatesEnabled(True)

    def _show_row(self, i: int, ann: Annotation | None, confidence: np.ndarray | None,
                  spacing: tuple[float, float] | None, threshold: float) -> None:
        cells = [""] * (len(self.HEADERS) - 1)
        if ann is not None and np.isfinite(ann.xy[i]).all():
            x, y = ann.xy[i]
            cells[0:2] = [f"{x:.1f}", f"{y:.1f}"]
            if spacing is not None:
                cells[2:4] = [f"{x * spacing[1]:.1f}", f"{y * spacing[0]:.1f}"]
            cells[5] = ann.source[i] + ("" if ann.visible[i] else " (missing)")
        if confidence is not None:
            cells[4] = format_confidence(confidence[i])
        for c, text in enumerate(cells, 1):
            item = self.item(i, c)
            if item.text() != text:  # an unchanged cell costs no repaint
                item.setText(text)
        low = confidence is not None and confidence[i] < threshold
        self.item(i, 5).setData(Qt.ItemDataRole.ForegroundRole, QBrush(QColor("#ff3b30")) if low else None)

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
