"""Review > Agreement report…: a reader study's agreement (core.agreement), non-modal.

A worker computes the report of the chosen phase's readings (a busy line meanwhile: a study of
10,000 images measures for a minute or more), then a second job measures the compared readings
again for the Bland–Altman plot (core.agreement_pairs, with progress): one point per image and
pair (mean of the two, a − b), the report's bias and 95 % limits as lines. Closing the dialog or
choosing another phase cancels what runs; a late result is dropped. A double-click on a level
disagreement, or a click on a plotted point, shows that image in the window.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vam_gui.gui.messages import warn
from vam_gui.io.agreement import keypoint_rows, measurement_rows, summary_lines, unit_digits

PHASES = (("blind", "blind (before the model)"), ("revised", "revised (after the model)"),
          ("latest", "latest (revised where there is one)"))
NO_STUDY = "Open a study first"
NO_READERS = "No readers' annotations yet (blind-first reading or vam-gui import --reader)"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _report_job(study, phase, *, progress, cancel, emit):
    """(report, the compared images) of ``phase`` (worker thread)."""
    from vam_gui.core.agreement import agreement
    from vam_gui.io.agreement import study_readings

    images = study_readings(study, phase)
    if cancel():
        return None
    return agreement(study.schema, images, phase_label=phase), images


def _values_job(schema, images, *, emit, **progress_and_cancel):
    """Every compared reading's measurements, for the plot (worker thread; a cancel raises)."""
    from vam_gui.core.agreement_pairs import measurement_values

    return measurement_values(schema, images, **progress_and_cancel)


def _new_table(parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, 0, parent)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    return table


def fill_table(table: QTableWidget, headers: list[str], rows: list[list[str]]) -> None:
    """Replace a table's contents: text cells, numbers right-aligned, columns fitted."""
    table.clear()
    table.setColumnCount(len(headers))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(headers)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()


class BlandAltmanPlot(pg.PlotWidget):
    """One measurement's differences a − b against the means, per pair, with bias and limits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setMinimumHeight(260)
        self.plotItem.showGrid(x=True, y=True, alpha=0.25)
        self.legend = self.plotItem.addLegend(offset=(-10, 10), labelTextColor="#222")
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.lines: dict[str, tuple[pg.InfiniteLine, ...]] = {}  # bias, lower, upper
        self.on_point = None  # called with an image id when a point is clicked

    def clear_plot(self, title: str = "") -> None:
        self.plotItem.clear()
        self.legend.clear()
        self.scatters, self.lines = {}, {}
        self.plotItem.setTitle(title, color="#222")

    def show_pairs(self, name: str, unit: str, pairs: dict, ids: dict, limits: dict) -> None:
        """``pairs`` {label: (a, b)}, ``ids`` {label: image ids}, ``limits`` {label: BlandAltman}."""
        self.clear_plot(name)
        shown = f" ({unit})" if unit else ""
        self.plotItem.setLabel("bottom", f"mean of the two{shown}", color="#222")
        self.plotItem.setLabel("left", f"difference a − b{shown}", color="#222")
        d = unit_digits(unit)
        for i, (label, (a, b)) in enumerate(pairs.items()):
            colour = COLOURS[i % len(COLOURS)]
            a, b = np.asarray(a, float), np.asarray(b, float)
            scatter = pg.ScatterPlotItem(
                (a + b) / 2, a - b, data=list(ids.get(label, [])), size=7, pen=pg.mkPen(colour), name=label,
                brush=pg.mkBrush(colour + "99"), hoverable=True,
                tip=lambda x, y, data, d=d: f"{data}\nmean {x:.{d}f}, a − b {y:+.{d}f}")
            scatter.sigClicked.connect(self._clicked)
            self.addItem(scatter)
            self.scatters[label] = scatter
            ba = limits.get(label)
            if ba is None or ba.n < 2:
                continue
            lines = []
            for j, (text, v) in enumerate((("bias", ba.bias), ("−1.96 sd", ba.lower), ("+1.96 sd", ba.upper))):
                pen = pg.mkPen(colour, width=2) if j == 0 else pg.mkPen(colour, style=Qt.PenStyle.DashLine)
                anchor = [(0, 0)] * 2 if j == 1 else [(0, 1)] * 2  # the lower limit's text below its line
                lines.append(pg.InfiniteLine(pos=v, angle=0, pen=pen, label=f"{text} {v:+.{d}f}", labelOpts={
                    "position": 0.02 + 0.25 * i, "color": colour, "anchors": anchor}))
                self.addItem(lines[-1])
            self.lines[label] = tuple(lines)
        self.plotItem.enableAutoRange()

    def _clicked(self, _item, points, _ev=None) -> None:
        if len(points) and self.on_point is not None:
            self.on_point(points[0].data())


class AgreementDialog(QDialog):
    """The agreement report of ``study`` (see the module doc). Non-modal; one per window."""

    def __init__(self, window, study, phase: str = "blind") -> None:
        super().__init__(window)
        self.setObjectName("agreement_dialog")
        self.setWindowTitle(f"Reader agreement – {study.path.stem}")
        self.window_, self.study = window, study
        self.report, self.values, self.images = None, None, []
        self._live: dict[str, object] = {}  # "report" / "values" -> the running job
        self._started = 0.0
        self.tick = QTimer(self, interval=1000, timeout=self._busy_text)
        self._build()
        self.phase.setCurrentIndex(max(0, self.phase.findData(phase)))
        self.phase.currentIndexChanged.connect(self.compute)
        self.resize(1280, 800)
        self.compute()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.phase = QComboBox(self)
        for key, text in PHASES:
            self.phase.addItem(text, key)
        self.recompute_button = QPushButton("Recompute", self, clicked=self.compute)
        self.stop_button = QPushButton("Stop", self, clicked=self.stop)
        self.busy = QProgressBar(self, maximumWidth=220, textVisible=False)
        self.status = QLabel(self)
        for w in (QLabel("Readings:", self), self.phase, self.recompute_button, self.stop_button, self.busy):
            top.addWidget(w)
        top.addWidget(self.status, 1)
        lay.addLayout(top)
        self.header = QLabel(self, wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.header)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.tabs = QTabWidget(split)
        self.keypoint_table = _new_table(self.tabs)
        self.levels = QListWidget(self.tabs)
        self.levels.setToolTip("Double-click: show the image in the window")
        self.levels.itemDoubleClicked.connect(lambda item: self.show_image(item.data(Qt.ItemDataRole.UserRole)))
        self.tabs.addTab(self.keypoint_table, "Keypoints")
        self.tabs.addTab(self.levels, "Level disagreements")
        right = QSplitter(Qt.Orientation.Vertical, split)
        box = QWidget(right)
        box_lay = QVBoxLayout(box)
        box_lay.setContentsMargins(0, 0, 0, 0)
        self.filter = QLineEdit(box, placeholderText="Filter measurements (e.g. L3 height)", clearButtonEnabled=True)
        self.filter.textChanged.connect(self._filter_rows)
        self.measure_table = _new_table(box)
        self.measure_table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.measure_table.itemSelectionChanged.connect(self.plot_selected)
        box_lay.addWidget(self.filter), box_lay.addWidget(self.measure_table)
        plot_box = QWidget(right)
        plot_lay = QVBoxLayout(plot_box)
        plot_lay.setContentsMargins(0, 0, 0, 0)
        self.plot = BlandAltmanPlot(plot_box)
        self.plot.on_point = self.show_image
        self.with_model = QCheckBox("Also each reader against the model", plot_box, toggled=self.plot_selected)
        plot_lay.addWidget(self.plot, 1), plot_lay.addWidget(self.with_model)
        split.setSizes([465, 815])
        right.setSizes([330, 470])
        lay.addWidget(split, 1)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save CSV…", self, clicked=lambda: self.save_csv())
        self.copy_button = QPushButton("Copy as text", self, clicked=self.copy_text)
        for w in (self.save_button, self.copy_button, None, QPushButton("Close", self, clicked=self.reject)):
            buttons.addWidget(w) if w is not None else buttons.addStretch(1)
        lay.addLayout(buttons)

    # ------------------------------------------------------------------ the jobs
    def compute(self) -> None:
        """(Re)compute the report of the chosen phase; what still runs is cancelled."""
        self.stop(say=False)
        self.report = self.values = None
        self._show_report(None)
        self._started = time.monotonic()
        self._start("report", _report_job, self.study, self.phase.currentData(),
                    on={"finished": self._report_done, "failed": self._failed})

    def _start(self, kind: str, fn, *args, on) -> None:
        self._live[kind] = self.window_.workers.submit(fn, *args, on={**on, "progress": self._progress})
        self._set_busy(True)
        self._busy_text()

    def stop(self, say: bool = True) -> None:
        for job in self._live.values():
            job.cancel()
        self._live.clear()
        self._set_busy(False)
        if say:
            self.status.setText("Stopped." if self.report is None else "Stopped: the plot has no values.")

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.stop_button.setVisible(busy)
        self.recompute_button.setEnabled(not busy)
        self.tick.start() if busy else self.tick.stop()
        if busy:
            self.busy.setRange(0, 0)  # indeterminate until a job says how far it is

    def running(self) -> bool:
        return bool(self._live)

    def _mine(self, kind: str, job_id: int) -> bool:
        if getattr(self._live.get(kind), "id", None) != job_id:
            return False  # cancelled, replaced, or the dialog closed: dropped
        del self._live[kind]
        self._set_busy(bool(self._live))
        return True

    def _busy_text(self) -> None:
        seconds = int(time.monotonic() - self._started)
        if "report" in self._live:
            self.status.setText(f"Computing the agreement of the {self.phase.currentData()} readings… {seconds} s")

    def _progress(self, job_id: int, done: int, total: int) -> None:
        if getattr(self._live.get("values"), "id", None) == job_id:
            self.busy.setRange(0, max(total, 1))
            self.busy.setValue(done)
            self.status.setText(f"Measuring each image for the plot… {done}/{total}")

    def _failed(self, job_id: int, message: str) -> None:
        if self._mine("report", job_id) or self._mine("values", job_id):
            self.status.setText(f"Could not compute: {message}")

    def _report_done(self, job_id: int, result) -> None:
        if not self._mine("report", job_id) or result is None:
            return
        self.report, self.images = result
        self.status.setText(f"Computed in {time.monotonic() - self._started:.1f} s.")
        self._show_report(self.report)
        if self.report.measurements:
            self._start("values", _values_job, self.study.schema, self.images,
                        on={"finished": self._values_done, "failed": self._failed})

    def _values_done(self, job_id: int, values) -> None:
        if not self._mine("values", job_id) or values is None:
            return
        self.values = values
        self.status.setText(f"Computed in {time.monotonic() - self._started:.1f} s.")
        self.plot_selected()

    # ------------------------------------------------------------------ showing
    def _show_report(self, rep) -> None:
        for button in (self.save_button, self.copy_button):
            button.setEnabled(rep is not None)
        self.header.setText("\n".join(summary_lines(rep)) if rep is not None else "")
        fill_table(self.keypoint_table, *(keypoint_rows(rep) if rep is not None else ([], [])))
        self._fill_measurements(rep)
        self.levels.clear()
        for lv in rep.level_disagreements if rep is not None else []:
            item = QListWidgetItem(f"{lv.image_id}    {' / '.join(lv.readers)}  {lv.delta:+d} level", self.levels)
            item.setData(Qt.ItemDataRole.UserRole, lv.image_id)
        n_levels = len(rep.level_disagreements) if rep is not None else 0
        self.tabs.setTabText(1, f"Level disagreements ({n_levels})")

    def _fill_measurements(self, rep) -> None:
        self.measure_table.blockSignals(True)
        fill_table(self.measure_table, *(measurement_rows(rep) if rep is not None else ([], [])))
        self.measure_table.blockSignals(False)
        self._filter_rows(self.filter.text())
        if rep is not None and rep.measurements:
            self.measure_table.selectRow(0)
        else:
            self.plot_selected()

    def _filter_rows(self, text: str) -> None:
        words = text.lower().split()
        for r in range(self.measure_table.rowCount()):
            name = self.measure_table.item(r, 0).text().lower()
            self.measure_table.setRowHidden(r, not all(w in name for w in words))

    def selected_measurement(self):
        rows = self.measure_table.selectionModel().selectedRows() if self.report is not None else []
        return self.report.measurements[rows[0].row()] if rows else None

    def plot_selected(self, *_args) -> None:
        """The Bland–Altman plot of the selected measurement (reader pairs; the model's too if asked)."""
        m = self.selected_measurement()
        if m is None:
            self.plot.clear_plot("Select a measurement" if self.report is not None else "")
            return
        if self.values is None:
            self.plot.clear_plot(f"{m.name}: measuring each image…" if self.running() else m.name)
            return
        limits = m.pairs | (m.model if self.with_model.isChecked() else {})
        pairs = {k: v for k, v in self.values.pairs(m.name).items() if k in limits}
        ids = self.values.pair_ids(m.name)
        self.plot.show_pairs(m.name, "" if m.unit == "ratio" else m.unit, pairs, ids, limits)

    # ------------------------------------------------------------------ actions
    def show_image(self, image_id: str) -> None:
        session = self.window_.session
        if session.study is not self.study:
            self.status.setText("This report's study is no longer open in the window.")
            return
        session.show_image(image_id)
        self.status.setText(f"Showing {image_id} in the window.")

    def save_csv(self, folder: str | None = None):
        """keypoints.csv, measurements.csv and level_disagreements.csv into a chosen folder."""
        from vam_gui.io.agreement import write_agreement_csv

        if self.report is None:
            return None
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Save the agreement tables in", str(self.study.path.parent))
        if not folder:
            return None
        try:
            written = write_agreement_csv(self.report, folder)
        except OSError as exc:
            warn(self, "Cannot save the tables", str(exc))
            return None
        self.status.setText(f"Wrote {', '.join(p.name for p in written)} in {folder}.")
        return written

    def copy_text(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.format_table())
            self.status.setText("Copied the report as text.")

    def reject(self) -> None:
        """Close: what still runs is cancelled (and its result dropped)."""
        self.stop(say=False)
        super().reject()


def open_agreement(window) -> AgreementDialog | None:
    """Show the window's agreement dialog for its study (made, or brought to the front), or
    say in the status bar why not."""
    study = window.session.study
    problem = NO_STUDY if study is None else None if study.readers() else NO_READERS
    if problem:
        window.statusBar().showMessage(problem, 8000)
        return None
    dialog = window.findChild(AgreementDialog, "agreement_dialog")
    if dialog is not None and dialog.study is not study:
        dialog.reject()
        dialog.setParent(None)
        dialog.deleteLater()
        dialog = None
    if dialog is None:
        dialog = AgreementDialog(window, study)
    elif not dialog.running() and (dialog.report is None or dialog.values is None):
        dialog.compute()  # closed before it was done
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
