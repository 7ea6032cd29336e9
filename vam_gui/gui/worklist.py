"""The worklist: the study's images with status, worst confidence, spread, flags and reviewer, and
for DICOM images patient, study date, series and view (gui/worklist_dicom.py: hideable from the
header's context menu, pseudonyms when the study hides identifiers); grouped by study or series.

The model's logical columns never move: the DICOM columns and the group column come after the
others (the group column is shown first, and only while grouping), so code that names a column
by its number keeps working.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont
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
from vam_gui.gui.worklist_order import WorklistColumns
from vam_gui.gui.worklist_view import RowHeader, bring_into_view

STATUS_COLOURS = {"unreviewed": "#9e9e9e", "in_progress": "#ffb703", "accepted": "#06d6a0",
                  "flagged": "#ff3b30"}
_DISPLAY, _FOREGROUND, _TOOLTIP, _FONT = (int(r.value) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.FontRole))
_ANSWERED = frozenset((_DISPLAY, _FOREGROUND, _TOOLTIP, _FONT))
# Status, confidence, spread and flags are this program's own ASCII words and numbers: laid out
# without HarfBuzz shaping (worklist_view.unshaped_text), the names beside them keep it (any script)
_UNSHAPED = QFont()
_UNSHAPED.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
_FLAG_COLOUR = QColor("#ff3b30")
_STATUS_COLOURS = {status: QColor(colour) for status, colour in STATUS_COLOURS.items()}
SORT_KEY_OF = {1: "status", 2: "confidence", 3: "spread", 4: "flags"}  # logical column -> worklist_order key
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
    """The study's images (``rows``, in the order added) shown in ``order``: Qt row r is
    ``rows[order[r]]``. Sorting and the status filter are numpy over columns
    (gui/worklist_order.py), never a Python comparison per pair of rows."""

    HEADERS = ("Image", "Status", "Conf.", "Spread", "Flags", "Reviewer", *DICOM_HEADERS, "Group")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []  # ImageInfo
        self.flag_counts: dict[str, int] = {}  # image id -> number of anatomical check flags
        self._index: dict[str, int] = {}
        self.study_uid = ""  # salts the pseudonyms
        self.hide_identifiers = True
        self.group_by = "none"
        self.columns = WorklistColumns([])
        self.order = np.zeros(0, dtype=np.int64)
        self._pos = np.zeros(0, dtype=np.int64)  # rows index -> Qt row, -1 when filtered out
        self.sort_key, self.sort_column, self.descending = "added", -1, False
        self.status: str | None = None

    def set_privacy(self, study_uid: str, hide: bool) -> None:
        """The study whose pseudonyms are shown, and whether identifiers are hidden."""
        self.study_uid, self.hide_identifiers = study_uid, hide
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.order) - 1, len(self.HEADERS) - 1))

    def has_dicom(self) -> bool:
        return any(info.dicom is not None for info in self.rows)

    def set_images(self, infos: list) -> None:
        self.beginResetModel()
        self.rows = list(infos)
        self._index = {info.image_id: i for i, info in enumerate(self.rows)}
        self.columns = WorklistColumns(self.rows, self.flag_counts)
        self._set_groups()
        self._set_order(self._ordered())
        self.endResetModel()

    # ------------------------------------------------------------------ order and filter
    def _set_groups(self) -> None:
        by = self.group_by
        self.columns.set_groups(None if by == "none" else [group_key(i, by, self.study_uid) for i in self.rows])

    def _ordered(self) -> np.ndarray:
        if self.sort_key != "text":
            order = self.columns.order(self.sort_key, status=self.status)
        else:  # a header click on a text column (name, reviewer, DICOM): by its text, grouped first
            shown = self.columns.order("added", status=self.status)
            group, col = self.columns.group, self.sort_column
            order = np.array(sorted(shown.tolist(), key=lambda i: (group[i], self._text_of(self.rows[i], col), i)),
                             dtype=np.int64)
        return order[::-1].copy() if self.descending else order

    def _set_order(self, order: np.ndarray) -> None:
        self.order = order
        self._pos = np.full(len(self.rows), -1, dtype=np.int64)
        self._pos[order] = np.arange(len(order))

    def reorder(self) -> None:
        """Apply the sort, filter and grouping; the current row and selection follow their image."""
        new = self._ordered()
        if np.array_equal(new, self.order):
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        kept = [(int(self.order[i.row()]), i.column()) for i in old]
        self._set_order(new)
        self.changePersistentIndexList(old, [self.index(int(self._pos[r]), c) if self._pos[r] >= 0 else QModelIndex()
                                             for r, c in kept])
        self.layoutChanged.emit()

    def set_status(self, status: str | None) -> None:
        self.status = status
        self.reorder()

    def set_group_by(self, by: str) -> None:
        self.group_by = by
        self._set_groups()
        self.reorder()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:  # Qt: a header click
        self.sort_column, self.descending = column, order == Qt.SortOrder.DescendingOrder
        self.sort_key = SORT_KEY_OF.get(column, "text") if column >= 0 else "added"
        self.reorder()

    # ------------------------------------------------------------------ updates
    def update_image(self, info) -> None:
        row = self._index.get(info.image_id)
        if row is None:
            return
        self.rows[row] = info
        self.columns.update(info)
        if self._pos[row] >= 0:
            shown = int(self._pos[row])
            self.dataChanged.emit(self.index(shown, 0), self.index(shown, len(self.HEADERS) - 1))
        self.reorder()  # a new status or figure may move the row, or take it out of the filter

    def set_flags(self, image_id: str, count: int) -> None:
        if self.flag_counts.get(image_id) == count:
            return
        self.flag_counts[image_id] = count
        self.columns.set_flags(image_id, count)
        row = self._index.get(image_id)
        if row is not None and self._pos[row] >= 0:
            shown = int(self._pos[row])
            self.dataChanged.emit(self.index(shown, 4), self.index(shown, 4))
        if self.sort_key == "flags":
            self.reorder()

    def set_flags_many(self, counts: dict[str, int]) -> None:
        """A batch from the flag-count worker: one repaint of the column, not one per image."""
        self.flag_counts.update(counts)
        for image_id, count in counts.items():
            self.columns.set_flags(image_id, count)
        if len(self.order):
            self.dataChanged.emit(self.index(0, 4), self.index(len(self.order) - 1, 4))
        if self.sort_key == "flags":
            self.reorder()

    def row_of(self, image_id: str) -> int | None:
        """The image's index in ``rows`` (the order added)."""
        return self._index.get(image_id)

    def shown_row_of(self, image_id: str) -> int | None:
        """The Qt row showing the image; None when it is filtered out or unknown."""
        row = self._index.get(image_id)
        return None if row is None or self._pos[row] < 0 else int(self._pos[row])

    def image_at(self, shown_row: int) -> str:
        return str(self.columns.ids[int(self.order[shown_row])])

    def shown_ids(self) -> list[str]:
        ids = self.columns.ids
        return [ids[i] for i in self.order.tolist()]

    # ------------------------------------------------------------------ Qt
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.order)

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

    def _text_of(self, info, col: int) -> str:
        """A text column's sort value: what the cell shows."""
        if col == 0 or col >= FIRST_DICOM:
            return self._text(info, col)
        return info.reviewer or ""

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        # A painted cell is asked for seven roles and answers two: the others return first,
        # before the row lookup and the comparisons with Qt's enum members.
        if role not in _ANSWERED:
            return None
        info = self.rows[int(self.order[index.row()])]
        col = index.column()
        if role == _DISPLAY:
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
        if role == _FOREGROUND:
            if col == 4 and self.flag_counts.get(info.image_id):
                return QBrush(_FLAG_COLOUR)
            return QBrush(_STATUS_COLOURS[info.status]) if col == 1 else None
        if role == _FONT:
            return _UNSHAPED if 1 <= col <= 4 else None
        if role == _TOOLTIP:
            where = self._text(info, 0) if self.hide_identifiers and info.dicom is not None else info.rel_path
            return where + (f"\n{info.comment}" if info.comment else "")
        return None


class WorklistPanel(QWidget):
    image_chosen = Signal(str)
    hide_identifiers_changed = Signal(bool)  # the reader asked; the window stores it in the study

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = WorklistModel()
        self.table = QTableView()
        self.table.setHorizontalHeader(RowHeader(self.table))
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # order added
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
            lambda _: self.model.set_status(self.filter_box.currentData()))
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
        # The scroll bar's container fills its own background (the window colour that the window,
        # dock and table paint there anyway): the one-row scroll of nearly every image switch then
        # repaints the scroll bar alone, not those three beneath it (1.3 -> 0.7 ms, same pixels).
        self.table.verticalScrollBar().parentWidget().setAutoFillBackground(True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(300, 600)

    def _sort(self) -> None:
        """The sort box's choice (grouped rows stay by their group first, in the model)."""
        column = {0: -1, 1: 1, 2: 2, 3: 3, 4: 4}[self.sort_box.currentIndex()]
        self.table.horizontalHeader().setSortIndicator(column, Qt.SortOrder.AscendingOrder)
        self.model.sort(column, Qt.SortOrder.AscendingOrder)

    def set_group_by(self, by: str) -> None:
        """"none", "study" or "series": rows sorted by their group, shown in the first column."""
        if self.group_box.currentIndex() != GROUPS.index(by):
            self.group_box.setCurrentIndex(GROUPS.index(by))  # calls back here once
            return
        self.model.set_group_by(by)
        self.table.setColumnHidden(GROUP_COLUMN, by == "none")
        self.model.set_privacy(self.model.study_uid, self.model.hide_identifiers)  # relabel the rows

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
        self.image_chosen.emit(self.model.image_at(current.row()))

    def select(self, image_id: str) -> None:
        row = self.model.shown_row_of(image_id)
        if row is None:
            return
        index = self.model.index(row, 0)
        self._quiet = True
        self.table.setAutoScroll(False)  # Qt's own scroll to the current row, at every change
        try:
            self.table.setCurrentIndex(index)
            bring_into_view(self.table, row)
        finally:
            self.table.setAutoScroll(True)
            self._quiet = False

    def visible_ids(self) -> list[str]:
        """Image ids in the order shown (filter and sort applied)."""
        return self.model.shown_ids()


