"""The image on screen: radiograph, points, heatmaps, keypoint table and measurements, painted
when a session event names the shown image (conventions 13), and the cursor readout. Events
about other images repaint nothing. An edit of some points reads the points (one query) and
redraws only those markers and table rows, then recomputes the measurements in memory; what
an edit cannot change (image info, prediction, heatmaps) is read once per showing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QMainWindow

from vam_gui.core.annotation import Annotation
from vam_gui.core.settings import Settings
from vam_gui.gui.read_ahead import ReadAhead, signature
from vam_gui.session import Event, ReviewSession, Topic

READ_AHEAD_DELAY_MS = 40
TOPICS = (Topic.IMAGE_CHANGED, Topic.POINTS_CHANGED, Topic.PREDICTION_STORED, Topic.EDIT_REFUSED,
          Topic.WRITE_FAILED, Topic.READER_CHANGED, Topic.MODEL_REVEALED)


def point_confidence(ann: Annotation, prediction: Any) -> np.ndarray | None:
    """The model's confidence of each point still where the stored prediction put it (NaN for
    any other: a point moved, placed, fitted by a template or re-predicted by Predict here is not
    vouched for by that prediction's heatmap peak)."""
    if prediction is None:
        return None
    conf = np.asarray(prediction.confidence, dtype=float)
    pred_xy = np.asarray(prediction.xy, dtype=float)
    if pred_xy.shape != ann.xy.shape:
        return conf
    same = (np.array([s == "predicted" for s in ann.source])
            & (np.abs(ann.xy - pred_xy) <= 0.5).all(axis=1))
    return np.where(same, conf, np.nan)


def _as_shown(ann: Annotation, held: Any) -> Annotation:
    """The points drawn: the stored ones, or on a read-only study without any, the prediction
    held in memory as it would have seeded them."""
    if held is None or not ann.is_empty():
        return ann
    return Annotation(held.xy.copy(), np.isfinite(held.xy).all(axis=1), np.array(["predicted"] * held.k, dtype=object))


@dataclass
class Ahead:
    """What the check-ahead read of the next image, with the store's generation taken before
    it: the switch to that image shows these reads while the generation is unchanged (no write
    of this window, no commit of any other connection since) and reads again otherwise."""

    image_id: str
    generation: tuple[int, int, int]
    edited: object  # session.edited then (the reader's reading, or the consensus)
    hidden: bool
    held: Any  # the held prediction then (read-only studies)
    info: Any  # ImageInfo
    annotation: Annotation  # as stored (not _as_shown)
    model: tuple[Any, Any, Any]  # CurrentImage._model's (prediction, heatmaps, peaks)


@dataclass
class Shown:
    """What the window keeps of the shown image while it is shown: the annotation as last read
    and what an edit of points does not change (image info, prediction, heatmap peaks), so
    an edit costs one query, not a dozen. Dropped on IMAGE_CHANGED and PREDICTION_STORED."""

    image_id: str
    annotation: Annotation
    info: Any  # ImageInfo
    prediction: Any  # StoredPrediction | None
    peaks: np.ndarray | None  # heatmap maxima in original px (the "far from its peak" check)


class CurrentImage(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, settings: Settings) -> None:
        super().__init__(window)
        self.window = window  # its canvas, docks and status bar
        self.session = session
        self.settings = settings
        self.shown: Shown | None = None
        self._handlers = {Topic.IMAGE_CHANGED: self._image_changed, Topic.POINTS_CHANGED: self._points_changed,
                          Topic.PREDICTION_STORED: self._prediction_stored, Topic.EDIT_REFUSED: self._edit_refused,
                          Topic.WRITE_FAILED: self._write_failed, Topic.READER_CHANGED: self._prediction_stored,
                          Topic.MODEL_REVEALED: self._prediction_stored}
        self.read_ahead = ReadAhead()
        self._ahead: Ahead | None = None  # the check-ahead's reads of the next image
        # The next image is read once the reviewer has stayed on this one a moment: not while
        # images are stepped through faster than that, nor while this one is being painted.
        self._read_timer = QTimer(self, singleShot=True, interval=READ_AHEAD_DELAY_MS)
        self._read_timer.timeout.connect(self._read_next)
        session.subscribe(self._on_event, TOPICS)
        session.subscribe(self._study_closed, (Topic.STUDY_CLOSED,))

    @property
    def spacing(self) -> tuple[float, float] | None:
        """Of the shown image: no query per mouse move."""
        return self.shown.info.spacing if self.shown is not None else None

    def _study_closed(self, _event: Event) -> None:
        self.read_ahead.close()
        self._ahead = None

    def _on_event(self, event: Event) -> None:
        from vam_gui.io import StudyError

        try:
            self._handlers[event.topic](event)
        except StudyError as exc:  # a damaged row of this image: said, and the rest stays usable
            self._unreadable(event.image_id, exc)

    def _unreadable(self, image_id: str | None, exc: Exception) -> None:
        from vam_gui.gui.messages import warn

        w = self.window
        self.shown = None
        w.canvas.layer.set_data(None)
        w.canvas.set_heatmaps(None)
        w.canvas.ghosts.clear()
        w.keypoints.show_annotation(None, None, None, self.settings.confidence_threshold)
        w.statusBar().showMessage(f"Cannot read this image's labels: {exc}", 0)
        warn(w, "Damaged study row", f"{exc}\n\nThe other images of the study can still be reviewed; "
             "this one cannot be shown or edited until the row is repaired.", name="damaged-row")

    def _image_changed(self, event: Event) -> None:
        from vam_gui.io import RadiographError

        w = self.window
        if self.shown is not None:
            self._keep_picture(self.shown.image_id)
        self.shown = None
        w.cursor_label.setText("")  # the read-out was of the image before
        ahead = self._take_ahead(event.image_id)
        # read once: file, spacing, facing
        info = ahead.info if ahead is not None else self.session.study.image_info(event.image_id)
        try:
            rad, rendered = self._load(event.image_id, info)
        except RadiographError as exc:
            w.canvas.set_radiograph(None)
            w.statusBar().showMessage(f"Cannot show {exc}", 10000)
            rad = None
        if rad is not None:
            w.canvas.set_radiograph(rad, rendered=rendered)
            w.view_panel.image_changed()
            for warning in rad.warnings:
                w.statusBar().showMessage(warning, 8000)
        self.refresh(info=info, ahead=ahead)
        w.worklist.select(event.image_id)
        self._read_timer.start()
        w.image_shown.emit(event.image_id)

    def _load(self, image_id: str, info: Any):
        """The image's radiograph and, if it was read ahead, its picture at its window: the one
        read ahead if its file is unchanged, else read now; kept for a way back."""
        study = self.session.study
        path = study.image_path(image_id, info=info)
        held = self.read_ahead.take(image_id, path)
        if held is None:
            before, rendered = signature(path), None
            rad = study.load_radiograph(image_id, info=info)
        else:
            before, rendered = held.before, held.rendered
            rad = study.load_radiograph(image_id, info=info, decoded=held.rad)
        self.read_ahead.keep_shown(image_id, path, rad, before)
        return rad, rendered

    def _keep_picture(self, image_id: str) -> None:
        """The canvas's picture of the image being left, if drawn at its own window: held with
        its radiograph for a way back (gui/read_ahead.py)."""
        canvas = self.window.canvas
        rad, item = canvas.radiograph, canvas.image_item
        # rendered since its image (``rad``'s pixels) and levels were last set: a picture of them
        if (rad is not None and item.qimage is not None and not item._renderRequired
                and canvas.window == (rad.window.lower, rad.window.upper)):
            self.read_ahead.keep_picture(image_id, rad, item.qimage)

    def _read_next(self) -> None:
        """The window idles after a switch: write the view log (session_views.py), then start
        reading the image after the one shown in the worklist's order (gui/read_ahead.py)."""
        from vam_gui.io import StudyError

        try:
            self.session.log_views()
        except StudyError as exc:  # kept for the next try; the image stays shown
            self.window.statusBar().showMessage(f"Review time not logged: {exc}", 8000)
        model, study, image_id = self.window.worklist.model, self.session.study, self.session.current_id
        row = None if image_id is None else model.shown_row_of(image_id)
        if study is None or row is None or row + 1 >= model.rowCount():
            return
        next_id = model.image_at(row + 1)
        try:
            path = study.image_path(next_id)
        except StudyError:
            return
        self.read_ahead.request(next_id, path)
        try:
            self._check_ahead(next_id)
        except StudyError:
            pass  # a damaged row is said when its image is shown

    def _check_ahead(self, image_id: str) -> None:
        """Read the next image's rows and run the checks on its points now, while the window
        idles (a few ms on this thread): the switch to it shows these reads if the store has not
        changed since (``Ahead``) and finds its flags kept (ReviewTools.flags_of)."""
        session = self.session
        generation = session.study.generation()  # before the reads: a write during them is seen
        hidden = session.model_hidden(image_id)
        held = None if hidden else session.held_prediction(image_id)
        edited = session.edited
        ann, info = edited.annotation(image_id), session.study.image_info(image_id)
        model = self._model(image_id, held, hidden)
        self._ahead = Ahead(image_id, generation, edited, hidden, held, info, ann, model)
        self.window.review.flags_of(_as_shown(ann, held), info=info, prediction=model[0], peaks=model[2])

    def _take_ahead(self, image_id: str) -> Ahead | None:
        """The check-ahead's reads of ``image_id`` if they are still what the store holds (once)."""
        ahead, self._ahead = self._ahead, None
        session = self.session
        if ahead is None or ahead.image_id != image_id or ahead.edited is not session.edited:
            return None
        hidden = session.model_hidden(image_id)
        held = None if hidden else session.held_prediction(image_id)
        if hidden != ahead.hidden or held is not ahead.held or session.study.generation() != ahead.generation:
            return None
        return ahead

    def _points_changed(self, event: Event) -> None:
        shown = self.shown
        if event.image_id != self.session.current_id:
            return
        if shown is None or shown.image_id != event.image_id or len(event.indices) >= self.session.study.schema.k:
            # Every point at once (accept prediction, an import that may also set the facing)
            self.refresh(heatmaps=False, keep_prediction=shown is not None and shown.image_id == event.image_id)
            return
        self._repaint_points(event.indices)

    def _prediction_stored(self, event: Event) -> None:
        # Stored either way; repaint only if the reviewer is still looking at this image.
        if event.image_id == self.session.current_id:
            self.refresh()

    def _write_failed(self, event: Event) -> None:
        """The store could not write: the marker goes back and the reviewer is told in a
        dialog (a status-bar line is too easy to miss when work is being lost)."""
        from PySide6.QtWidgets import QMessageBox

        self._edit_refused(event)
        box = QMessageBox(QMessageBox.Icon.Warning, "Edit not saved",
                          f"{event.message}\n\nThe point is back where the study has it; "
                          "the edit can be repeated once the study can be written.",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("write-failed")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not modal to the event loop: tests and headless runs never wait on it

    def _edit_refused(self, event: Event) -> None:
        self.window.statusBar().showMessage(event.message, 6000 if event.topic is Topic.EDIT_REFUSED else 0)
        shown = self.shown
        if shown is not None and event.image_id == shown.image_id:
            # Nothing was written: a dragged item goes back to the position last read.
            conf = point_confidence(shown.annotation, shown.prediction)
            self.window.canvas.layer.set_data(shown.annotation if not shown.annotation.is_empty() else None, conf)

    def refresh(self, *, heatmaps: bool = True, keep_prediction: bool = False, info: Any = None,
                ahead: Ahead | None = None) -> None:
        """Read the shown image from the store and repaint it whole: points, table, measurements
        and (``heatmaps``) the overlay. ``keep_prediction``: the prediction and heatmap peaks
        kept from before are still current (only points and image info are read again).
        ``info``: the image's row, read just now by the caller (an image switch); ``ahead``: the
        image's rows read ahead and still current (``_take_ahead``).

        In reader mode the points are the reader's reading (``session.edited``); while the model
        is hidden (blind-first, not yet accepted) no prediction, heatmap or confidence is read
        or drawn, and once it is shown the prediction is drawn beside the reader's points."""
        study, image_id, w = self.session.study, self.session.current_id, self.window
        if study is None or image_id is None:
            self.shown = None
            return
        old = self.shown
        if ahead is not None and ahead.image_id != image_id:
            ahead = None
        hidden = self.session.model_hidden(image_id)
        ann = ahead.annotation if ahead is not None else self.session.edited.annotation(image_id)
        if info is None or info.image_id != image_id:
            info = study.image_info(image_id)
        held = None if hidden else self.session.held_prediction(image_id)
        if keep_prediction and old is not None and old.image_id == image_id:
            pred, peaks = old.prediction, old.peaks
        else:
            pred, maps, peaks = ahead.model if ahead is not None else self._model(image_id, held, hidden)
            if heatmaps:
                w.canvas.set_heatmaps(maps, pred.letterbox if pred is not None else None)
        if held is not None and ann.is_empty():  # shown as the prediction would have seeded it
            ann = _as_shown(ann, held)
            w.statusBar().showMessage("Prediction shown, not saved: this study is read-only", 0)
        self.shown = Shown(image_id, ann, info, pred, peaks)
        conf = point_confidence(ann, pred)
        with w.canvas.layer.batch():
            w.canvas.layer.set_data(ann if not ann.is_empty() else None, conf)
            w.canvas.ghosts.show(pred if self.session.reader is not None else None, study.schema,
                                 self.settings.confidence_threshold)
            w.keypoints.show_annotation(ann, conf, info.spacing, self.settings.confidence_threshold)
            self._review()

    def _model(self, image_id: str, held, hidden: bool) -> tuple[Any, Any, Any]:
        """(prediction, heatmaps, heatmap peaks) of the image; none while the model is hidden."""
        from vam_gui.io.review import peaks_of

        if hidden:
            return None, None, None
        study = self.session.study
        pred = held if held is not None else study.prediction(image_id)
        maps = held.heatmaps if held is not None else (study.heatmaps(image_id) if pred is not None else None)
        return pred, maps, peaks_of(maps, pred, study.schema.k)

    def _repaint_points(self, indices: tuple[int, ...]) -> None:
        """An edit wrote keypoints ``indices``: read the points (one query), then restyle those
        markers and table rows, and recompute the measurements and checks in memory."""
        shown, w = self.shown, self.window
        ann = self.session.edited.annotation(shown.image_id)
        shown.annotation = ann
        conf = point_confidence(ann, shown.prediction)
        with w.canvas.layer.batch():  # the moved marker and any the checks now flag: each restyled once
            w.canvas.layer.update_points(ann, indices)
            w.keypoints.show_annotation(ann, conf, shown.info.spacing, self.settings.confidence_threshold,
                                        rows=indices)
            self._review()

    def _review(self) -> None:
        shown, w = self.shown, self.window
        w.canvas.set_facing(shown.info.facing or self._inferred_facing(shown.annotation))
        w.review.show_annotation(shown.annotation, info=shown.info, prediction=shown.prediction, peaks=shown.peaks)

    def _inferred_facing(self, ann) -> str | None:
        from vam_gui.core.measure import corner_table, infer_facing

        schema = self.session.study.schema
        return infer_facing(corner_table(schema, ann.xy, ann.visible)) if schema.view == "LAT" else None

    # ------------------------------------------------------------------ points and cursor
    def select_keypoint(self, index: int) -> None:
        """Select keypoint ``index`` and centre the view on it."""
        layer = self.window.canvas.layer
        layer.select(index)
        self.window.canvas.setFocus()  # arrow keys nudge the point, not the table's selection
        pos = layer.position(index)
        if pos is not None:
            self.window.canvas.center_on(*pos)

    def next_low_confidence(self) -> None:
        layer = self.window.canvas.layer
        k = layer.schema.k
        start = (layer.selected + 1) if layer.selected is not None else 0
        for j in range(k):
            i = (start + j) % k
            if layer.is_low_confidence(i):
                self.select_keypoint(i)
                return
        self.window.statusBar().showMessage("No low-confidence point on this image", 4000)

    def cursor_text(self, where) -> str:
        if where is None:
            return ""
        x, y, value = where
        text = f"x {x:.1f}  y {y:.1f} px"
        if self.spacing is not None:
            text += f"  ({x * self.spacing[1]:.1f}, {y * self.spacing[0]:.1f} mm)"
        return f"{text}   value {value:g}"
