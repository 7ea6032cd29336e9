"""The measurements dock: vertebral heights per level (plot), the measurement table, and the
anatomical check flags of the current image."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListWidget, QListWidgetItem,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from vam_gui.core.checks import Flag
from vam_gui.core.measure import Measurements

# Heights drawn per level: AP left/middle/right, lateral anterior/middle/posterior.
SERIES = {"AP": ("left", "middle", "right"), "LAT": ("anterior", "middle", "posterior")}
SERIES_PENS = ("#4cc9f0", "#ffb703", "#f72585")


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
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Measurement", "Value", "Note"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.flags = QListWidget()
        self.flags.itemActivated.connect(self._flag_activated)
        self.flags.itemClicked.connect(self._flag_activated)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.addWidget(self.flags)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.summary)
        layout.addWidget(split)
        self._flags: list[Flag] = []

    def show_result(self, result: Measurements | None, flags: list[Flag]) -> None:
        self._show_flags(flags)
        if result is None:
            self.summary.setText("")
            self.table.setRowCount(0)
            for c in self._curves:
                c.setData([], [])
            return
        self._show_plot(result)
        rows = result.rows()
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(rows))
        for r, (name, value, unit, note) in enumerate(rows):
            if isinstance(value, float):
                text = f"{value:.1f} {unit}".strip() if unit else f"{value:.2f}"
            else:
                text = "–" if value is None else f"{value} {unit}".strip()
            for c, t in enumerate((name, text, note)):
                self.table.setItem(r, c, QTableWidgetItem(t))
        self.table.setUpdatesEnabled(True)
        angles = [a for a in result.angles if a.value_deg is not None and a.name != "max_cobb"]
        parts = [f"lengths in {result.unit}"]
        parts += [f"{a.name.replace('_', ' ')} {a.value_deg:.1f}°" for a in angles[:2]]
        if result.slip is not None and result.slip.percent is not None:
            parts.append(f"L5–S1 slip {result.slip.percent:.0f} %" + (f" (grade {result.slip.grade})"
                                                                     if result.slip.grade else ""))
        self.summary.setText(" · ".join(parts) + ("" if not result.notes else "\n" + " ".join(result.notes)))

    def _show_plot(self, result: Measurements) -> None:
        names = SERIES.get(result.view, SERIES["AP"])
        levels = [v.name for v in result.vertebrae]
        x = np.arange(len(levels))
        legend = self.plot.getPlotItem().legend
        legend.clear()
        for curve, key in zip(self._curves, names):
            y = np.array([np.nan if v.heights.get(key) is None else v.heights[key] for v in result.vertebrae],
                         dtype=float)
            curve.setData(x, y, connect="finite")
            legend.addItem(curve, key)
        self.plot.getAxis("bottom").setTicks([list(enumerate(levels))])
        self.plot.setLabel("left", f"height ({result.unit})")
        self.plot.enableAutoRange()

    def _show_flags(self, flags: list[Flag]) -> None:
        self._flags = list(flags)
        self.flags.clear()
        if not flags:
            self.flags.addItem("No label problems found")
            return
        for flag in flags:
            item = QListWidgetItem(f"{'⚠' if flag.severity == 'warning' else '✖'} {flag.message}")
            item.setForeground(QBrush(QColor("#ff3b30" if flag.severity == "error" else "#e09a00")))
            self.flags.addItem(item)

    def _flag_activated(self, item: QListWidgetItem) -> None:
        row = self.flags.row(item)
        if 0 <= row < len(self._flags):
            self.flag_chosen.emit(self._flags[row])
