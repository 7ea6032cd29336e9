"""The worklist: the study's images with status, worst confidence, spread, flags and reviewer, and
for DICOM images patient, study date, series and view (gui/worklist_dicom.py: hideable from the
header's context menu, pseudonyms when the study hides identifiers); grouped by study or series.

The model's logical columns never move: the DICOM columns and the group column come after the
others (the group column is shown first, and only while grouping), so code that names a column
by its number keeps working.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vam_gui.core.annotation import STATUSES
from vam_gui.gui.worklist_dicom import DICOM_HEADERS, GROUPS, dicom_cells, group_key, group_label, image_name

STATUS_COLOURS = {"unreviewed": "#9e9e9e", "in_progress": "#ffb703", "accepted": "#06d6a0",
                  "flagged": "#ff3b30"}
STATUS_ORDER = {s: i for i, s in enumerate(("flagged", "unreviewed", "in_progress", "accepted"))}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FIRST_DICOM = 6  # the logical column of "Patient"
GROUP_COLUMN = FIRST_DICOM + len(DICOM_HEADERS)


def format_confidence(value: float) -> str:
    """A heatmap peak shown as a confidence: within [0, 1], two decimals (a peak can overshoot 1
    a little where Gaussians overlap; 1.01 means nothing to a reader)."""
    value = float(value)
    if value != value:  # NaN: no model confidence vouches for this point (moved, placed, re-predicted)
        return "–"
    return f"{min(max(value, 0.0), 1.0):.2f}"


class WorklistModel(QAbstractTableModel):
    HEADERS = ("Image", "Status", "Conf.", "Spread", "Flags", "Reviewer", *DICOM_HEADERS, "Group")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []  # ImageInfo
        self.flag_counts: dict[str, int] = {}  # image id -> number of anatomical check flags
        self._index: dict[str, int] = {}
        self.study_uid = ""  # salts the pseudonyms
        self.hide_identifiers = True
        self.group_by = "none"

    def set_privacy(self, study_uid: str, hide: bool) -> None:
        """The study whose pseudonyms are shown, and whether identifiers are hidden."""
        self.study_uid, self.hide_identifiers = study_uid, hide
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.HEADERS) - 1))

    def has_dicom(self) -> bool:
        return any(info.dicom is not None for info in self.rows)

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

    def _text(self, info, col: int) -> str:
        if col == 0:
            return image_name(info, self.study_uid, self.hide_identifiers)
        if col == GROUP_COLUMN:
            return group_label(info, self.group_by, self.study_uid, self.hide_identifiers)
        return dicom_cells(info, self.study_uid, self.hide_identifiers)[col - FIRST_DICOM]

    def group_sort_key(self, row: int) -> tuple:
        return group_key(self.rows[row], self.group_by, self.study_uid)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        info = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0 or col >= FIRST_DICOM:
                return self._text(info, col)
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
            where = self._text(info, 0) if self.hide_identifiers and info.dicom is not None else info.rel_path
            return where + (f"\n{info.comment}" if info.comment else "")
        return None


class WorklistFilter(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.status: str | None = None
        self.within = -1  # while grouped: the column rows are sorted by inside a group (-1: order added)
        self.setSortRole(SORT_ROLE)

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt naming
        if left.column() != GROUP_COLUMN:
            return super().lessThan(left, right)
        model = self.sourceModel()
        a, b = model.group_sort_key(left.row()), model.group_sort_key(right.row())
        if a != b:
            return a < b
        if self.within >= 0:
            x = model.data(model.index(left.row(), self.within), SORT_ROLE)
            y = model.data(model.index(right.row(), self.within), SORT_ROLE)
            if x != y:
                return x < y
        return left.row() < right.row()

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
    hide_identifiers_changed = Signal(bool)  # the reader asked; the window stores it in the study

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
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(36)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((118, 76, 44, 50, 40, 70, 110, 78, 90, 50, 250)):
            self.table.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        header.moveSection(GROUP_COLUMN, 0)  # shown first, while grouping only
        self.table.setColumnHidden(GROUP_COLUMN, True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.dicom_shown = True  # the reader's choice; the columns show only when there is a DICOM image
        self.filter_box = QComboBox()
        self.filter_box.addItem("All images", None)
        for status in STATUSES:
            self.filter_box.addItem(status.replace("_", " ").capitalize(), status)
        self.filter_box.currentIndexChanged.connect(
            lambda _: self.proxy.set_status(self.filter_box.currentData()))
        self.sort_box = QComboBox()
        self.sort_box.addItems(["Order added", "By status", "Least confident first", "Widest spread first",
                                "Most flags first"])
        self.sort_box.currentIndexChanged.connect(lambda _: self._sort())
        self.group_box = QComboBox()
        self.group_box.addItems(["No groups", "By study", "By series"])
        self.group_box.setToolTip("Group DICOM images by study or series (the group shows in the first column)")
        self.group_box.currentIndexChanged.connect(lambda i: self.set_group_by(GROUPS[i]))
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter_box, 1)
        top.addWidget(self.sort_box, 1)
        top.addWidget(self.group_box, 1)
        self.setMinimumWidth(240)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._quiet = False

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(300, 600)

    def _sort(self) -> None:
        column = {0: -1, 1: 1, 2: 2, 3: 3, 4: 4}[self.sort_box.currentIndex()]
        if self.model.group_by != "none":  # by group first, then as chosen inside each group
            self.proxy.within, column = column, GROUP_COLUMN
            self.proxy.invalidate()
        self.table.horizontalHeader().setSortIndicator(column, Qt.SortOrder.AscendingOrder)
        self.proxy.sort(column, Qt.SortOrder.AscendingOrder)

    def set_group_by(self, by: str) -> None:
        """"none", "study" or "series": rows sorted by their group, shown in the first column."""
        self.model.group_by = by
        if self.group_box.currentIndex() != GROUPS.index(by):
            self.group_box.setCurrentIndex(GROUPS.index(by))  # calls back here once
            return
        self.table.setColumnHidden(GROUP_COLUMN, by == "none")
        self.model.set_privacy(self.model.study_uid, self.model.hide_identifiers)  # relabel the rows
        self._sort()

    def set_images(self, infos: list, *, study_uid: str = "", hide_identifiers: bool = True) -> None:
        """A study's images; the DICOM columns show when one of them is a DICOM image."""
        self.model.study_uid, self.model.hide_identifiers = study_uid, hide_identifiers
        self.model.set_images(infos)
        self.set_dicom_columns(self.dicom_shown)

    def set_dicom_columns(self, shown: bool) -> None:
        self.dicom_shown = shown
        for col in range(FIRST_DICOM, GROUP_COLUMN):
            self.table.setColumnHidden(col, not (shown and self.model.has_dicom()))

    def set_model_columns(self, shown: bool) -> None:
        """Show or hide what comes from the model (confidence, spread, flags) and its sorts (a
        reader reading blind sees none of it)."""
        for col in (2, 3, 4):
            self.table.setColumnHidden(col, not shown)
        items = self.sort_box.model()
        for i in (2, 3, 4):
            items.item(i).setEnabled(shown)
        if not shown and self.sort_box.currentIndex() in (2, 3, 4):
            self.sort_box.setCurrentIndex(0)

    def set_hide_identifiers(self, hide: bool) -> None:
        self.model.set_privacy(self.model.study_uid, hide)
        self.hide_identifiers_changed.emit(hide)

    def _header_menu(self, pos) -> None:
        self.header_menu().exec(self.table.horizontalHeader().mapToGlobal(pos))

    def header_menu(self) -> QMenu:
        """Show or hide the DICOM columns; hide patient identifiers (pseudonyms)."""
        menu = QMenu(self)
        shown = QAction("DICOM columns (patient, study, series, view)", menu, checkable=True)
        shown.setChecked(self.dicom_shown)
        shown.toggled.connect(self.set_dicom_columns)
        hide = QAction("Hide patient identifiers (pseudonyms)", menu, checkable=True)
        hide.setChecked(self.model.hide_identifiers)
        hide.toggled.connect(self.set_hide_identifiers)
        menu.addActions([shown, hide])
        return menu

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


