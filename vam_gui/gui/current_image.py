"""The image on screen: radiograph, points, heatmaps, keypoint table and measurements, painted
from the store when a session event names the shown image (conventions 13), and the cursor
readout. Events about other images repaint nothing."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow

from vam_gui.core.settings import Settings
from vam_gui.session import Event, ReviewSession, Topic

TOPICS = (Topic.IMAGE_CHANGED, Topic.POINTS_CHANGED, Topic.PREDICTION_STORED, Topic.EDIT_REFUSED)


class CurrentImage(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, settings: Settings) -> None:
        super().__init__(window)
        self.window = window  # its canvas, docks and status bar
        self.session = session
        self.settings = settings
        self.spacing: tuple[float, float] | None = None  # of the shown image: no query per mouse move
        self._handlers = {Topic.IMAGE_CHANGED: self._image_changed, Topic.POINTS_CHANGED: self._points_changed,
                          Topic.PREDICTION_STORED: self._prediction_stored, Topic.EDIT_REFUSED: self._edit_refused}
        session.subscribe(self._on_event, TOPICS)

    def _on_event(self, event: Event) -> None:
        self._handlers[event.topic](event)

    def _image_changed(self, event: Event) -> None:
        from vam_gui.io import RadiographError

        w = self.window
        try:
            rad = self.session.study.load_radiograph(event.image_id)
        except RadiographError as exc:
            w.canvas.set_radiograph(None)
            w.statusBar().showMessage(f"Cannot show {exc}", 10000)
            rad = None
        if rad is not None:
            w.canvas.set_radiograph(rad)
            w.view_panel.image_changed()
            for warning in rad.warnings:
                w.statusBar().showMessage(warning, 8000)
        self.refresh(heatmaps=True)
        w.worklist.select(event.image_id)
        w.image_shown.emit(event.image_id)

    def _points_changed(self, event: Event) -> None:
        # For this first step the shown image's points and measurements are redrawn whole.
        if event.image_id == self.session.current_id:
            self.refresh()

    def _prediction_stored(self, event: Event) -> None:
        # Stored either way; repaint only if the reviewer is still looking at this image.
        if event.image_id == self.session.current_id:
            self.refresh(heatmaps=True)

    def _edit_refused(self, event: Event) -> None:
        self.window.statusBar().showMessage(event.message, 6000)
        if event.image_id == self.session.current_id:
            self.refresh()  # a dragged item goes back to the stored position

    def refresh(self, *, heatmaps: bool = False) -> None:
        """Repaint points (and optionally heatmaps) of the shown image from the store."""
        study, image_id, w = self.session.study, self.session.current_id, self.window
        if study is None or image_id is None:
            return
        ann = study.annotation(image_id)
        pred = study.prediction(image_id)
        conf = pred.confidence if pred is not None else None
        w.canvas.layer.set_data(ann if not ann.is_empty() else None, conf)
        info = study.image_info(image_id)
        self.spacing = info.spacing
        w.keypoints.show_annotation(ann, conf, info.spacing, self.settings.confidence_threshold)
        w.canvas.set_facing(info.facing or self._inferred_facing(ann))
        w.review.refresh()
        if heatmaps:
            maps = study.heatmaps(image_id) if pred is not None else None
            w.canvas.set_heatmaps(maps, pred.letterbox if pred is not None else None)

    def _inferred_facing(self, ann) -> str | None:
        from vam_gui.core.measure import corner_table, infer_facing

        schema = self.session.study.schema
        return infer_facing(corner_table(schema, ann.xy, ann.visible)) if schema.view == "LAT" else None

    # ------------------------------------------------------------------ points and cursor
    def select_keypoint(self, index: int) -> None:
        """Select keypoint ``index`` and centre the view on it."""
        layer = self.window.canvas.layer
        layer.select(index)
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
