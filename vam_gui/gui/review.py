"""Spine-aware review in the window: the measurements dock, check flags on the canvas and in
the worklist, uncertainty-first navigation and the correction report."""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from vam_gui.core.atomic import write_bytes_atomic
from vam_gui.core.measure_display import unsure_vertebrae
from vam_gui.gui.measure_panel import MeasurementPanel
from vam_gui.gui.messages import warn

FLAGS_KEPT = 8  # the checks' flags of the last few annotations checked (the shown, the next, a way back)


def _flags_key(ann, info, prediction, peaks) -> tuple:
    """Everything the checks read of an image (``annotation_flags``): points, visibility,
    spacing, facing, heatmap peaks, predicted points."""
    return (ann.xy.tobytes(), ann.visible.tobytes(), info.spacing, info.facing,
            None if peaks is None else (peaks.shape, peaks.tobytes()),
            None if prediction is None else prediction.xy.tobytes())


class ReviewTools(QObject):
    """Measurements and check flags of the session's current image; ``window`` holds the
    canvas, the worklist, the workers and the status bar they show in."""

    def __init__(self, window, session) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.panel = MeasurementPanel()
        self.panel.flag_chosen.connect(self._flag_chosen)
        dock = getattr(window, "docks", {}).get("Measurements")
        if dock is not None:  # its tab brought to the front: draw what came while it was behind
            dock.visibilityChanged.connect(lambda on: on and self.panel.draw_pending())
        self.flags: list = []
        self._checked: OrderedDict[tuple, tuple] = OrderedDict()  # _flags_key -> flags, of _checked_in
        self._checked_in = None  # the study (its schema) those flags are of

    # ------------------------------------------------------------------ per image
    def study_opened(self) -> None:
        """The flags of every image for the worklist: the store keeps them with every write
        (one query); only an older study opened read-only, or images whose count a damaged
        row left unknown, are counted in a worker (a few ms an image)."""
        from vam_gui.io.review import count_flags

        w, session = self.window, self.session
        study = session.study
        stored = study.stored_flags()
        known = {i: n for i, n in (stored or {}).items() if n is not None}
        if known:
            w.worklist.model.set_flags_many(known)
        todo = [i for i in study.image_ids() if i not in known]
        if todo:
            w.workers.submit(count_flags, study, todo, on={
                "item": lambda _id, counts: session.study is study and w.worklist.model.set_flags_many(counts)})

    def refresh(self) -> None:
        """Recompute measurements and flags of the current image from the store."""
        from vam_gui.io.review import image_review

        study, image_id = self.session.study, self.session.current_id
        if study is None or image_id is None:
            self._show(None, None, [])
            return
        self._show(image_id, *image_review(study, image_id))

    def show_annotation(self, ann, *, info, prediction, peaks) -> None:
        """Recompute the flags of the current image from its annotation in memory and the image's
        data the window keeps while it is shown: numpy only, no query. The measurements (and
        which vertebrae rest on unsure points) are computed when the Measurements panel draws
        them: not at all while its tab is behind another and the reviewer only switches images."""
        from vam_gui.io.review import annotation_measurements

        study, image_id = self.session.study, self.session.current_id
        if study is None or image_id is None:
            self._show(None, None, [])
            return
        schema, threshold = study.schema, self.window.settings.confidence_threshold
        flags = self.flags_of(ann, info=info, prediction=prediction, peaks=peaks)

        def unsure() -> frozenset[str] | set[str]:
            return unsure_vertebrae(schema.vertebra, schema.vertebrae, ann.visible, ann.source,
                                    prediction.confidence if prediction is not None else None, threshold)

        self._show(image_id, lambda: annotation_measurements(schema, ann, info=info), flags, unsure=unsure)

    def flags_of(self, ann, *, info, prediction, peaks) -> list:
        """The checks' flags of an image's annotation (``annotation_flags``), kept for the last
        few annotations by everything the checks read: an image checked ahead while the window
        idled (gui/current_image.py's look-ahead), or just left, is not checked again."""
        from vam_gui.io.review import annotation_flags

        study = self.session.study
        if study is not self._checked_in:
            self._checked.clear()
            self._checked_in = study
        key = _flags_key(ann, info, prediction, peaks)
        flags = self._checked.get(key)
        if flags is None:
            flags = self._checked[key] = tuple(annotation_flags(
                study.schema, ann, spacing=info.spacing, facing=info.facing, peaks=peaks,
                prediction_xy=prediction.xy if prediction is not None else None))
            while len(self._checked) > FLAGS_KEPT:
                self._checked.popitem(last=False)
        else:
            self._checked.move_to_end(key)
        return list(flags)

    def _show(self, image_id, result, flags: list, unsure=frozenset()) -> None:
        """``result`` and ``unsure``: values, or functions that compute them when drawn."""
        w = self.window
        self.flags = flags
        self.panel.show_result(result, flags, unsure)
        w.canvas.layer.set_flagged({i for f in flags for i in f.points})
        if image_id is not None:
            w.worklist.model.set_flags(image_id, len(flags))

    def _flag_chosen(self, flag) -> None:
        if flag.points:
            self.window.current.select_keypoint(flag.points[0])

    def next_flagged_point(self) -> None:
        """Select the next point (after the selected one) that a check flagged."""
        w = self.window
        points = sorted({i for f in self.flags for i in f.points})
        if not points:
            w.statusBar().showMessage("No flagged point on this image", 4000)
            return
        current = w.canvas.layer.selected
        after = [i for i in points if current is None or i > current]
        w.current.select_keypoint(after[0] if after else points[0])
        flag = next(f for f in self.flags if w.canvas.layer.selected in f.points)
        w.statusBar().showMessage(flag.message, 8000)

    def next_most_uncertain(self) -> None:
        """The unaccepted image with the lowest worst confidence (then the most flags)."""
        from vam_gui.gui.reading import refuse_if_blind

        w, study, shown = self.window, self.session.study, self.session.current_id
        if study is None or refuse_if_blind(w, self.session, "Next most uncertain image"):
            return
        flags = w.worklist.model.flag_counts
        candidates = [i for i in study.list_images()
                      if i.status != "accepted" and i.image_id != shown and i.worst_confidence is not None]
        if not candidates:
            w.statusBar().showMessage("No other predicted, unaccepted image", 5000)
            return
        best = min(candidates, key=lambda i: (i.worst_confidence, -flags.get(i.image_id, 0)))
        self.session.show_image(best.image_id)

    # ------------------------------------------------------------------ report
    def show_report(self) -> None:
        from vam_gui.gui.reading import refuse_if_blind
        from vam_gui.io.review import study_report

        if self.session.study is None or refuse_if_blind(self.window, self.session, "The correction report"):
            return
        report = study_report(self.session.study, reviewer=self.session.reviewer)
        ReportDialog(report, self.window).exec()


class ReportDialog(QDialog):
    """The correction report: summary, a per-keypoint table, and Save as CSV."""

    def __init__(self, report, parent=None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Correction report")
        self.resize(720, 560)
        d = report.to_dict()
        hours = d.get("total_review_seconds", 0) / 3600
        summary = QLabel(
            f"Reviewer: {d.get('reviewer') or '–'} (edits by: {', '.join(d.get('reviewers') or []) or '–'})\n"
            f"{d.get('points_moved', 0)} of {d.get('points_compared', 0)} predicted points moved · "
            f"time on images {hours:.2f} h")
        table = QTableWidget(0, 6)
        table.setHorizontalHeaderLabels(["Keypoint", "Moved", "Mean px", "Max px", "Mean mm", "Max mm"])
        rows = d.get("keypoints", [])
        table.setRowCount(len(rows))

        def cell(v, digits=2):
            return "n/a" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))

        for r, kp in enumerate(rows):
            # mm only where some compared image had a pixel spacing: "n/a", never 0.00
            has_mm = bool(kp.get("n_mm"))
            values = [kp.get("name"), kp.get("n_moved"), kp.get("mean_px"), kp.get("max_px"),
                      kp.get("mean_mm") if has_mm else None, kp.get("max_mm") if has_mm else None]
            for c, v in enumerate(values):
                table.setItem(r, c, QTableWidgetItem(cell(v)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.save_csv)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(table)
        layout.addWidget(buttons)

    def csv_bytes(self) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(self.report.to_csv_rows())
        return buf.getvalue().encode("utf-8")

    def save_csv(self, path: str | None = None) -> Path | None:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save correction report", "correction-report.csv",
                                                  "CSV (*.csv)")
        if not path:
            return None
        try:
            return write_bytes_atomic(path, self.csv_bytes())
        except OSError as exc:
            warn(self, "Cannot save the report", str(exc))
            return None
