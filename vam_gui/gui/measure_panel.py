"""The measurements dock: vertebral heights per level (plot), the measurement table, and the
anatomical check flags of the current image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vam_gui.core.checks import Flag
from vam_gui.core.measure import Measurements
from vam_gui.core.measure_display import display_name, levels_of

# Heights drawn per level: AP left/middle/right, lateral anterior/middle/posterior.
SERIES = {"AP": ("left", "middle", "right"), "LAT": ("anterior", "middle", "posterior")}
SERIES_PENS = ("#4cc9f0", "#ffb703", "#f72585")


class MeasurementTable(QAbstractTableModel):
    """(name, value text, note) rows, replaced in one reset per image (a QTableWidget re-lays
    its columns out on every setItem: a hundred rows cost tens of milliseconds)."""

    HEADERS = ("Measurement", "Value", "Note")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str]] = []
        self.unsure: list[bool] = []  # the row rests on unconfirmed low-confidence points

    def set_rows(self, rows: list[tuple[str, str, str]], unsure: list[bool] | None = None) -> None:
        self.beginResetModel()
        self.rows = rows
        self.unsure = unsure if unsure is not None else [False] * len(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 3

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and self.unsure[index.row()]:
            return QBrush(QColor("#b36b00"))
        return None


def _value_text(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "grade":
        return f"grade {value}"
    if unit == "deg":
        return f"{value:.1f}°"
    if isinstance(value, float):
        return f"{value:.1f} {unit}".strip() if unit else f"{value:.2f}"
    return f"{value} {unit}".strip()


class MeasurementPanel(QWidget):
    flag_chosen = Signal(object)  # the Flag clicked in the list

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.showGrid(x=False, y=True, alpha=0.3)
        self.plot.addLegend(offset=(5, 5))
        self.plot.setMouseEnabled(x=False, y=False)
        self._curves = [self.plot.plot([], [], pen=pg.mkPen(c, width=2), symbol="o", symbolSize=6,
                                       symbolBrush=c, name=n) for c, n in zip(SERIES_PENS, ("", "", ""))]
        self.model = MeasurementTable()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 170)
        self.table.setColumnWidth(1, 80)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.flags = QListWidget()
        self.flags.setWordWrap(True)  # a check's message is a sentence: wrapped, never clipped
        self.flags.itemActivated.connect(self._flag_activated)
        self.flags.itemClicked.connect(self._flag_activated)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.addWidget(self.flags)
        for i, stretch in enumerate((2, 5, 2)):  # the table takes the room
            split.setStretchFactor(i, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.summary)
        layout.addWidget(split)
        self._flags: list[Flag] = []
        self._pending: tuple | None = None
        self._legend: tuple | None = None  # (series names, unit, levels) the legend and axes show

    def show_result(self, result: Measurements | None | Callable[[], Measurements | None], flags: list[Flag],
                    unsure: frozenset[str] | set[str] | Callable[[], frozenset[str] | set[str]] = frozenset()
                    ) -> None:
        """Show an image's result (``unsure``: vertebrae resting on unconfirmed low-confidence
        predicted points; their measurements are marked); while the tab is not on screen only
        remember it (drawn by ``draw_pending`` when its dock comes to the front, or when shown).
        ``result`` and ``unsure`` may be functions that compute them: called only when drawn."""
        self._pending = (result, flags, unsure)
        if self._on_screen():
            self._draw()

    def _on_screen(self) -> bool:
        # A dock tabbed behind another is moved off the window, not hidden: isVisible() stays
        # true there, the visible region is empty.
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def draw_pending(self) -> None:
        self._draw()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        self._draw()

    def _draw(self) -> None:
        if self._pending is None:
            return
        result, flags, unsure = self._pending
        self._pending = None
        result = result() if callable(result) else result
        unsure = unsure() if callable(unsure) else unsure
        self._show_flags(flags, labelled=result is not None)
        if result is None:
            self.summary.setText("")
            self.model.set_rows([])
            for c in self._curves:
                c.setData([], [])
            return
        self._show_plot(result)
        self._show_rows(result, unsure)
        angles = [a for a in result.angles if a.value_deg is not None and a.name != "max_cobb"]
        parts = [f"lengths in {result.unit}"]
        parts += [f"{display_name(a.name)} {a.value_deg:.1f}°" for a in angles[:2]]
        if result.slip is not None and result.slip.percent is not None:
            parts.append(f"L5–S1 slip {round(result.slip.percent) + 0:.0f} %" + (f" (grade {result.slip.grade})"
                                                                     if result.slip.grade else ""))
        self.summary.setText(" · ".join(parts) + ("" if not result.notes else "\n" + " ".join(result.notes)))

    def _show_rows(self, result: Measurements, unsure) -> None:
        levels = [v.name for v in result.vertebrae]
        rows, marks = [], []
        for code, value, unit, note in result.rows():
            resting = sorted(set(levels_of(code, levels)) & set(unsure)) if value is not None else []
            if resting:
                note = f"rests on unconfirmed predicted points ({', '.join(resting)})" + (f"; {note}" if note else "")
            rows.append((display_name(code) + (" ?" if resting else ""), _value_text(value, unit), note))
            marks.append(bool(resting))
        self.model.set_rows(rows, marks)

    def _show_plot(self, result: Measurements) -> None:
        names = SERIES.get(result.view, SERIES["AP"])
        levels = [v.name for v in result.vertebrae]
        x = np.arange(len(levels))
        if self._legend != (names, result.unit, levels):  # the same on every edit of an image: kept
            self._legend = (names, result.unit, levels)
            legend = self.plot.getPlotItem().legend
            legend.clear()
            for curve, key in zip(self._curves, names):
                legend.addItem(curve, key)
            self.plot.getAxis("bottom").setTicks([list(enumerate(levels))])
            self.plot.setLabel("left", f"height ({result.unit})")
        top = 0.0
        for curve, key in zip(self._curves, names):
            y = np.array([np.nan if v.heights.get(key) is None else v.heights[key] for v in result.vertebrae],
                         dtype=float)
            curve.setData(x, y, connect="finite")
            top = max(top, float(np.nanmax(y))) if np.isfinite(y).any() else top
        # Heights from 0: an autoscaled axis makes a 2 % difference look like a collapse.
        self.plot.enableAutoRange(axis="x")
        self.plot.setYRange(0.0, top * 1.1 if top > 0 else 1.0, padding=0)

    def _show_flags(self, flags: list[Flag], *, labelled: bool = True) -> None:
        self._flags = list(flags)
        self.flags.clear()
        if not flags:
            self.flags.addItem("No label problems found" if labelled else "No labels on this image yet")
            return
        for flag in flags:
            item = QListWidgetItem(f"{'⚠' if flag.severity == 'warning' else '✖'} {flag.message}")
            item.setForeground(QBrush(QColor("#ff3b30" if flag.severity == "error" else "#e09a00")))
            self.flags.addItem(item)

    def _flag_activated(self, item: QListWidgetItem) -> None:
        row = self.flags.row(item)
        if 0 <= row < len(self._flags):
            self.flag_chosen.emit(self._flags[row])
